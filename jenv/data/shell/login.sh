# jenv login for bash (4.2 and later), zsh and ksh93, decided inside the shell without a process.
# "jenv hook <shell>" installs it as ~/.cache/jenv/login.<shell>; the rules are at the end of the file, which
# a login that finds the token fresh never reads (the shell stops at "return 0", so they cost nothing).

# The prompt function: the first call loads the real one, with the check below as jenv_token_fresh, from
# ~/.cache/jenv/prompt.sh (jenv/data/shell/prompt.sh), which "jenv hook" installs beside this file.
function jenv_prompt_update {
    if [[ -O ${HOME:-}/.cache/jenv/prompt.sh && ${1:-} != again ]] && . "$HOME/.cache/jenv/prompt.sh"; then
        jenv_prompt_update again
    else
        JENV_PROMPT_SEGMENT=$(jenv prompt 2>/dev/null) || JENV_PROMPT_SEGMENT=  # (set -e)
    fi
}

# (the completion loaders of "jenv hook", written here by jenv)

if  # the check {
    _jenv_tmp= _jenv_h= _jenv_m= && [[ -n ${HOME:-} && -r /proc/sys/kernel/hostname ]] &&
    read -r _jenv_h < /proc/sys/kernel/hostname &&
    if [[ -n ${TMPDIR:-} ]]; then _jenv_d=$TMPDIR
    elif [[ ${JENV_PRIVATE_TMP:-} == 1 || ( ${JENV_PRIVATE_TMP:-} != 0 && $_jenv_h == lxplus* ) ]]; then
        _jenv_d=${JENV_TMPDIR:-}  # the private TMPDIR of jenv.sh, a directory jenv made
        [[ -n $_jenv_d ]] || if [[ -d $HOME/private ]]; then _jenv_d=$HOME/private/jenv-tmp
        else _jenv_d=$HOME/.cache/jenv/tmp; fi
        [[ -d $_jenv_d ]] && _jenv_tmp=$_jenv_d
    else _jenv_d=/tmp; fi &&
    _jenv_f=$HOME/.cache/jenv/fresh-$_jenv_h &&
    [[ -d ${_jenv_f%/*} && ! -L ${_jenv_f%/*} && -O ${_jenv_f%/*} && -f $_jenv_f && ! -L $_jenv_f && -O $_jenv_f ]] &&
    if [[ -n ${BASH_VERSION:-} ]]; then  # (not EPOCHSECONDS: bash 4 takes it from the environment)
        printf -v _jenv_now '%(%s)T' -1 2>/dev/null
    elif [[ -n ${ZSH_VERSION:-} ]]; then
        zmodload -F zsh/stat b:zstat 2>/dev/null && zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null &&
            zstat -A _jenv_m -o +mode -- "${_jenv_f%/*}" "$_jenv_f" 2>/dev/null &&
            [[ ${_jenv_m[1]} == 040700 && ${_jenv_m[2]} == 0100600 ]] && _jenv_now=$EPOCHSECONDS
    else  # ksh93, without a fork either way
        printf -v _jenv_now '%(%s)T' 2>/dev/null || _jenv_now=$(printf '%(%s)T')
    fi &&
    IFS='	' read -r _jenv_l _jenv_u _jenv_r _jenv_c _jenv_k _jenv_b _jenv_na _jenv_e _jenv_x < "$_jenv_f" &&
    case :$_jenv_b:$_jenv_na:$_jenv_e:$_jenv_now: in  # digits only, no leading 0, at most 12: arithmetic is safe
        *[!0-9:]* | *::* | *:0* | *[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*) false ;;
    esac &&
    if [[ -n ${JALIEN_TOKEN_CERT:-}${JALIEN_TOKEN_KEY:-} ]]; then
        _jenv_d=${JALIEN_TOKEN_CERT:-} _jenv_m=${JALIEN_TOKEN_KEY:-}
    else _jenv_m=$_jenv_d/tokenkey_$_jenv_u.pem _jenv_d=$_jenv_d/tokencert_$_jenv_u.pem; fi &&
    [[ $_jenv_l == jenv-fresh-1 && -z $_jenv_x && $_jenv_r == "$_jenv_h" && ( -z ${UID:-} || $_jenv_u == "$UID" ) &&
        $_jenv_c == "$_jenv_d" && $_jenv_k == "$_jenv_m" && $_jenv_c == /* && $_jenv_k == /* &&
        -f $_jenv_c && ! -L $_jenv_c && -O $_jenv_c && -f $_jenv_f.cert && ! -L $_jenv_f.cert && -O $_jenv_f.cert &&
        -f $_jenv_k && ! -L $_jenv_k && -O $_jenv_k && -f $_jenv_f.key && ! -L $_jenv_f.key && -O $_jenv_f.key &&
        ! $_jenv_c -nt $_jenv_f.cert && ! $_jenv_c -ot $_jenv_f.cert && ! $_jenv_f -nt $_jenv_f.cert &&
        ! $_jenv_f -ot $_jenv_f.cert && ! $_jenv_k -nt $_jenv_f.key && ! $_jenv_k -ot $_jenv_f.key ]] &&
    ((_jenv_now >= _jenv_b && _jenv_now < _jenv_e))
    # } the check: fresh; _jenv_c, _jenv_k (the files), _jenv_na (notAfter), _jenv_now, _jenv_tmp (or empty)
then
    [[ -z $_jenv_tmp ]] || export TMPDIR="$_jenv_tmp"
    export JALIEN_TOKEN_CERT="$_jenv_c" JALIEN_TOKEN_KEY="$_jenv_k"
    unset _jenv_tmp _jenv_h _jenv_m _jenv_d _jenv_f _jenv_now _jenv_l _jenv_u _jenv_r _jenv_c _jenv_k _jenv_b \
        _jenv_na _jenv_e _jenv_x
    return 0
fi
unset _jenv_tmp _jenv_h _jenv_m _jenv_d _jenv_f _jenv_now _jenv_l _jenv_u _jenv_r _jenv_c _jenv_k _jenv_b _jenv_na \
    _jenv_e _jenv_x
_jenv_flags=$-
set +eu
if [ -n "${ZSH_VERSION:-}" ]; then
    eval "$(jenv hook zsh)"
elif [ -n "${BASH_VERSION:-}" ]; then
    eval "$(jenv hook bash)"
else
    eval "$(jenv hook ksh)"
fi
case $_jenv_flags in *e*) set -e ;; esac
case $_jenv_flags in *u*) set -u ;; esac
unset _jenv_flags
return 0

# The rules.  The login line (~/.bashrc; zsh and ksh alike, with their names)
#     [ -O ~/.cache/jenv/login.bash ] && . ~/.cache/jenv/login.bash || eval "$(jenv hook bash)"
# sources this file only when it is the user's own.  "jenv token" (and "jenv prompt", "jenv hook") leave
# ~/.cache/jenv/fresh-<host>, one line saying which token files it found fresh until when, with two empty
# reference files whose mtimes are the token files' (jenv/tokens/fresh.py).  The token is exported without
# starting any process when all of this holds; on any doubt the file runs  eval "$(jenv hook <shell>)"
# exactly as the login line without this file:
#   - ~/.cache/jenv and the line's file are ours (-O), a directory and a regular file, not links (zsh also
#     checks their modes, 0700 and 0600, with zsh/stat; bash and ksh93 cannot read mode bits without a
#     process: jenv creates them so, only their owner can change that, every jenv run that looks at the
#     token removes a line whose file or directory another user could read or write, and the seal below
#     shows any write by another user);
#   - the line is read with `read`, never sourced or evaluated, and used only when it has exactly the
#     expected eight fields, the numbers digits only (no leading zero, at most 12 digits) before any
#     arithmetic;
#   - it names this host, this uid, and the files the login would export here (JALIEN_TOKEN_CERT/KEY,
#     else ${TMPDIR:-/tmp}/token{cert,key}_$UID.pem, after the private-TMPDIR rule of jenv.sh);
#   - both token files and both references are ours, regular, not links, and each token file's mtime
#     equals its reference's to the nanosecond; so does the line's own (the seal: only the owner can set
#     a chosen mtime, anyone else's write leaves the current time);
#   - the shell's own clock (bash and ksh93 printf %(%s)T, zsh's zsh/datetime) is between notBefore and
#     the line's "until" (notAfter less 10 minutes, earlier when the user certificate's expiry notice is
#     due).
# Silent on success; the fallback keeps every guarantee of the hook.  It never exits the shell, survives
# set -e / set -u (the check runs only as a condition and reads no unset variable), and may be sourced
# any number of times; it leaves the function jenv_prompt_update (and the completion loaders).
# Why this shape: the check is one condition, read and run once, not a function (defining one costs a
# copy); nothing else is read before "return 0", as reading shell code costs about as much as running it.
