# jenv login hook for POSIX shells: bash, zsh, ksh, dash, sh.
#
#   ~/.bashrc, ~/.zshrc, ~/.kshrc, ~/.profile:   eval "$(jenv hook bash)"
#   or source this file:                          . /path/to/jenv.sh
#
# 1. Where /tmp is private to the node (JENV_PRIVATE_TMP=1, or a host named
#    lxplus*; JENV_PRIVATE_TMP=0 turns this off) and TMPDIR is not set, the
#    token files go to a directory under $HOME that survives the next login:
#    TMPDIR=${JENV_TMPDIR:-$HOME/private/jenv-tmp if $HOME/private exists (AFS),
#    else $HOME/.cache/jenv/tmp}, created with mode 0700.
# 2. Runs "jenv token" (JENV_BIN, else jenv from PATH) for at most
#    JENV_HOOK_TIMEOUT seconds (default 20) and evaluates its exports.
# Silent on success; one line on stderr on failure.  It never exits the
# shell, survives set -e / set -u, and may be sourced any number of times.

_jenv_hook() {
    _jenv_flags=$-
    set +eu
    if [ -z "$TMPDIR" ]; then
        case "$JENV_PRIVATE_TMP" in
            1) _jenv_private=1 ;;
            0) _jenv_private= ;;
            *) case "$(uname -n 2>/dev/null)" in lxplus*) _jenv_private=1 ;; *) _jenv_private= ;; esac ;;
        esac
        if [ -n "$_jenv_private" ]; then
            _jenv_dir=$JENV_TMPDIR
            if [ -z "$_jenv_dir" ]; then
                if [ -d "$HOME/private" ]; then _jenv_dir=$HOME/private/jenv-tmp
                else _jenv_dir=$HOME/.cache/jenv/tmp; fi
            fi
            if [ -d "$_jenv_dir" ] || (umask 077 && mkdir -p -- "$_jenv_dir" 2>/dev/null); then
                TMPDIR=$_jenv_dir
                export TMPDIR
            else
                echo "jenv hook: cannot create $_jenv_dir; TMPDIR left unset" >&2
            fi
        fi
    fi
    _jenv_bin=$JENV_BIN
    # The jenv file on PATH (not an alias or function of that name; no fork).
    _jenv_rest=$PATH:
    while [ -z "$_jenv_bin" ] && [ -n "$_jenv_rest" ]; do
        _jenv_d=${_jenv_rest%%:*}
        _jenv_rest=${_jenv_rest#*:}
        if [ -n "$_jenv_d" ] && [ -f "$_jenv_d/jenv" ] && [ -x "$_jenv_d/jenv" ]; then
            _jenv_bin=$_jenv_d/jenv
        fi
    done
    if [ -z "$_jenv_bin" ]; then
        echo "jenv hook: jenv not found in PATH (set JENV_BIN); no token" >&2
    else
        _jenv_limit=${JENV_HOOK_TIMEOUT:-20}
        # The hard time bound: timeout (GNU), gtimeout (macOS coreutils) or perl's alarm.
        # At a terminal, --foreground lets jenv ask for a key passphrase (but then only
        # jenv itself is timed out); elsewhere its whole process group is.
        _jenv_fg=
        { [ -t 0 ] || [ -t 2 ]; } && _jenv_fg=--foreground
        set -- "$_jenv_bin" token --shell sh
        if command -v timeout >/dev/null 2>&1; then set -- timeout $_jenv_fg -k 2 "$_jenv_limit" "$@"
        elif command -v gtimeout >/dev/null 2>&1; then set -- gtimeout $_jenv_fg -k 2 "$_jenv_limit" "$@"
        elif command -v perl >/dev/null 2>&1; then set -- perl -e 'alarm(shift); exec(@ARGV)' "$_jenv_limit" "$@"
        fi
        # JENV_TIMEOUT bounds each network step of jenv itself, within the hard limit.
        if _jenv_out=$(JENV_TIMEOUT=${JENV_TIMEOUT:-8} "$@"); then
            eval "$_jenv_out"
        else
            _jenv_rc=$?
            case $_jenv_rc in
                124|137|142) echo "jenv hook: no token: jenv token did not finish within ${_jenv_limit}s (a passphrase prompt left unanswered, or JCentral not answering); JENV_HOOK_TIMEOUT sets the limit" >&2 ;;
                126|127) echo "jenv hook: cannot run $_jenv_bin" >&2 ;;
            esac
        fi
    fi
    unset _jenv_private _jenv_dir _jenv_bin _jenv_rest _jenv_d _jenv_limit _jenv_out _jenv_rc _jenv_fg
    case $_jenv_flags in *e*) set -e ;; esac
    case $_jenv_flags in *u*) set -u ;; esac
    unset _jenv_flags
    return 0
}
_jenv_hook
unset -f _jenv_hook
