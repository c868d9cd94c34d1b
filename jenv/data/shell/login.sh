# jenv login for bash (4.2 and later), zsh and ksh93, decided inside the shell.
#
#   ~/.bashrc (zsh, ksh alike, with their names):
#     [ -O ~/.cache/jenv/login.bash ] && . ~/.cache/jenv/login.bash || eval "$(jenv hook bash)"
#
# "jenv hook <shell>" writes this file, with the shell's completion loader, to
# ~/.cache/jenv/login.<shell> (and keeps it up to date); "jenv token" leaves
# ~/.cache/jenv/fresh-<host>, one line saying which token files it found fresh until when, with two
# empty reference files whose mtimes are the token files' (jenv/tokens/fresh.py).  The token is exported
# without starting any process when all of this holds; on any doubt it runs  eval "$(jenv hook <shell>)"
# exactly as without this file:
#   - ~/.cache/jenv and the line's file are ours (-O), a directory and a regular file, not links (zsh
#     also checks their modes: 0700 and 0600; the others rely on jenv creating them so, as only their
#     owner can change that);
#   - the line is read with `read`, never sourced or evaluated, and used only when it has exactly the
#     expected eight fields, the numbers digits only;
#   - it names this host, this uid, and the files the login would export here (JALIEN_TOKEN_CERT/KEY,
#     else ${TMPDIR:-/tmp}/token{cert,key}_$UID.pem, after the private-TMPDIR rule of jenv.sh);
#   - both token files are ours, regular, and each mtime equals its reference's to the nanosecond;
#   - the shell's own clock (bash and ksh93 printf %(%s)T, zsh's zsh/datetime)
#     is between notBefore and the line's "until" (notAfter less 10 minutes, earlier when the user
#     certificate's expiry notice is due).
# Silent on success; the fallback keeps every guarantee of the hook.  It never exits the shell,
# survives set -e / set -u, and may be sourced any number of times.
# jenv_prompt_update sets JENV_PROMPT_SEGMENT to what "jenv prompt" prints, without a process while
# the token is fresh (bash: PROMPT_COMMAND, zsh: precmd_functions; see the README).

# jenv_token_fresh: 0 when the token is fresh by the rules above; then _jenv_c, _jenv_k (the files),
# _jenv_na (notAfter), _jenv_now and _jenv_tmp (a TMPDIR to export, or empty) are set.
jenv_token_fresh() {
    _jenv_c= _jenv_k= _jenv_na= _jenv_now= _jenv_tmp= _jenv_h=
    [[ -n ${HOME:-} && -r /proc/sys/kernel/hostname ]] || return 1
    { read -r _jenv_h < /proc/sys/kernel/hostname; } 2>/dev/null || return 1
    _jenv_d=${TMPDIR:-}
    if [ -z "$_jenv_d" ]; then
        case "${JENV_PRIVATE_TMP:-}" in
            1) _jenv_p=1 ;;
            0) _jenv_p= ;;
            *) case $_jenv_h in lxplus*) _jenv_p=1 ;; *) _jenv_p= ;; esac ;;
        esac
        if [ -n "$_jenv_p" ]; then
            _jenv_tmp=${JENV_TMPDIR:-}
            if [ -z "$_jenv_tmp" ]; then
                if [ -d "$HOME/private" ]; then _jenv_tmp=$HOME/private/jenv-tmp
                else _jenv_tmp=$HOME/.cache/jenv/tmp; fi
            fi
            [ -d "$_jenv_tmp" ] || return 1  # jenv makes it
            _jenv_d=$_jenv_tmp
        fi
    fi
    _jenv_d=${_jenv_d:-/tmp}
    case $_jenv_d in /*) ;; *) return 1 ;; esac
    _jenv_f=$HOME/.cache/jenv
    [[ -d $_jenv_f && ! -L $_jenv_f && -O $_jenv_f ]] || return 1
    _jenv_f=$_jenv_f/fresh-$_jenv_h
    [[ -f $_jenv_f && ! -L $_jenv_f && -O $_jenv_f ]] || return 1
    if [ -n "${ZSH_VERSION:-}" ]; then
        zmodload -F zsh/stat b:zstat 2>/dev/null && zmodload -F zsh/datetime p:EPOCHSECONDS 2>/dev/null || return 1
        _jenv_m=
        zstat -A _jenv_m -o +mode -- "${_jenv_f%/*}" "$_jenv_f" 2>/dev/null || return 1
        [ "${_jenv_m[1]-}" = 040700 ] && [ "${_jenv_m[2]-}" = 0100600 ] || return 1
        _jenv_now=$EPOCHSECONDS
    elif [ -n "${BASH_VERSION:-}" ]; then
        printf -v _jenv_now '%(%s)T' -1 2>/dev/null || return 1  # bash 4.2 and later (not EPOCHSECONDS: in
        # bash 4 that is any variable the environment passed)
    else
        _jenv_now=$(printf '%(%s)T')  # ksh93: a builtin in a virtual subshell, no fork
    fi
    _jenv_u= _jenv_l= _jenv_r=
    IFS='	' read -r _jenv_l _jenv_u _jenv_r _jenv_c _jenv_k _jenv_b _jenv_na _jenv_e _jenv_x < "$_jenv_f" \
        || return 1
    [[ $_jenv_l == jenv-fresh-1 && -z $_jenv_x && $_jenv_r == "$_jenv_h" ]] || return 1
    for _jenv_x in "$_jenv_u" "$_jenv_b" "$_jenv_na" "$_jenv_e" "$_jenv_now"; do
        case $_jenv_x in [1-9]|[1-9]*[0-9]) ;; 0) ;; *) return 1 ;; esac
        case $_jenv_x in *[!0-9]*|?????????????*) return 1 ;; esac
    done
    _jenv_x=
    if [ -n "${UID:-}" ]; then [ "$_jenv_u" = "$UID" ] || return 1; fi
    if [ -n "${JALIEN_TOKEN_CERT:-}${JALIEN_TOKEN_KEY:-}" ]; then
        [[ $_jenv_c == "${JALIEN_TOKEN_CERT:-}" && $_jenv_k == "${JALIEN_TOKEN_KEY:-}" ]] || return 1
    else
        [[ $_jenv_c == "$_jenv_d/tokencert_$_jenv_u.pem" && $_jenv_k == "$_jenv_d/tokenkey_$_jenv_u.pem" ]] || return 1
    fi
    case $_jenv_c in /*) ;; *) return 1 ;; esac
    case $_jenv_k in /*) ;; *) return 1 ;; esac
    jenv_token_same "$_jenv_c" "$_jenv_f.cert" && jenv_token_same "$_jenv_k" "$_jenv_f.key" || return 1
    [ "$_jenv_now" -ge "$_jenv_b" ] && [ "$_jenv_now" -lt "$_jenv_e" ]
}

# jenv_token_same FILE REF: both ours, regular files and not links, with the very same mtime.
jenv_token_same() {
    [[ -f $1 && ! -L $1 && -O $1 && -f $2 && ! -L $2 && -O $2 && ! $1 -nt $2 && ! $1 -ot $2 ]]
}

# The segment of "jenv prompt" (default format, --warn 1d) in JENV_PROMPT_SEGMENT.
jenv_prompt_update() {
    set -- "$-"
    set +eu
    if jenv_token_fresh; then
        _jenv_x=$((_jenv_na - _jenv_now))
        JENV_PROMPT_SEGMENT=
        [ "$_jenv_x" -lt 86400 ] && JENV_PROMPT_SEGMENT='!'
        _jenv_p=$(( (_jenv_x % 3600) / 60 ))
        [ "$_jenv_p" -lt 10 ] && _jenv_p=0$_jenv_p
        if [ "$_jenv_x" -ge 86400 ]; then
            JENV_PROMPT_SEGMENT="$JENV_PROMPT_SEGMENT$((_jenv_x / 86400))d $(( (_jenv_x % 86400) / 3600 ))h ${_jenv_p}m"
        elif [ "$_jenv_x" -ge 3600 ]; then
            JENV_PROMPT_SEGMENT="$JENV_PROMPT_SEGMENT$((_jenv_x / 3600))h ${_jenv_p}m"
        else
            _jenv_p=$((_jenv_x % 60))
            [ "$_jenv_p" -lt 10 ] && _jenv_p=0$_jenv_p
            JENV_PROMPT_SEGMENT="$JENV_PROMPT_SEGMENT$((_jenv_x / 60))m ${_jenv_p}s"
        fi
    else
        JENV_PROMPT_SEGMENT=$(jenv prompt 2>/dev/null)
    fi
    unset _jenv_c _jenv_k _jenv_na _jenv_now _jenv_tmp _jenv_h _jenv_d _jenv_p _jenv_f _jenv_m _jenv_u _jenv_l \
        _jenv_r _jenv_b _jenv_e _jenv_x
    case $1 in *e*) set -e ;; esac
    case $1 in *u*) set -u ;; esac
    return 0
}

# (the completion loaders of "jenv hook", written here by jenv)

_jenv_login() {
    _jenv_flags=$-
    set +eu
    if jenv_token_fresh; then
        if [ -n "$_jenv_tmp" ]; then
            TMPDIR=$_jenv_tmp
            export TMPDIR
        fi
        JALIEN_TOKEN_CERT=$_jenv_c
        JALIEN_TOKEN_KEY=$_jenv_k
        export JALIEN_TOKEN_CERT JALIEN_TOKEN_KEY
    elif [ -n "${ZSH_VERSION:-}" ]; then
        eval "$(jenv hook zsh)"
    elif [ -n "${BASH_VERSION:-}" ]; then
        eval "$(jenv hook bash)"
    else
        eval "$(jenv hook ksh)"
    fi
    unset _jenv_c _jenv_k _jenv_na _jenv_now _jenv_tmp _jenv_h _jenv_d _jenv_p _jenv_f _jenv_m _jenv_u _jenv_l \
        _jenv_r _jenv_b _jenv_e _jenv_x
    case $_jenv_flags in *e*) set -e ;; esac
    case $_jenv_flags in *u*) set -u ;; esac
    unset _jenv_flags
    return 0
}
_jenv_login
unset -f _jenv_login
