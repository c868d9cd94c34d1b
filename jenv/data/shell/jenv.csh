# jenv login hook for tcsh and csh.
#
#   ~/.tcshrc or ~/.cshrc:    eval "`jenv hook tcsh`"
#   or source this file:      source /path/to/jenv.csh
#
# ("jenv hook tcsh" prints a "source" line for this file: csh's eval joins
# lines, so a multi-line hook cannot be eval'ed.)
#
# 1. Where /tmp is private to the node (JENV_PRIVATE_TMP=1, or a host named
#    lxplus*; JENV_PRIVATE_TMP=0 turns this off) and TMPDIR is not set, the
#    token files go to a directory under $HOME that survives the next login:
#    TMPDIR=$JENV_TMPDIR, else $HOME/private/jenv-tmp if $HOME/private exists
#    (AFS), else $HOME/.cache/jenv/tmp, created with mode 0700.
# 2. Runs "jenv token" (JENV_BIN, else jenv from $path) for at most
#    JENV_HOOK_TIMEOUT seconds (default 20) and evaluates its exports.
# Silent on success; one line on stderr on failure; may be sourced again.

set _jenv_t = ""
if ( $?TMPDIR ) then
    set _jenv_t = "$TMPDIR"
endif
if ( "$_jenv_t" == "" ) then
    set _jenv_private = ""
    if ( $?JENV_PRIVATE_TMP ) then
        set _jenv_private = "$JENV_PRIVATE_TMP"
    endif
    if ( "$_jenv_private" != "0" && "$_jenv_private" != "1" ) then
        set _jenv_private = 0
        if ( "`uname -n`" =~ lxplus* ) set _jenv_private = 1
    endif
    if ( "$_jenv_private" == "1" ) then
        set _jenv_dir = ""
        if ( $?JENV_TMPDIR ) then
            set _jenv_dir = "$JENV_TMPDIR"
        endif
        if ( "$_jenv_dir" == "" ) then
            set _jenv_dir = "$HOME/.cache/jenv/tmp"
            if ( -d "$HOME/private" ) set _jenv_dir = "$HOME/private/jenv-tmp"
        endif
        if ( ! -d "$_jenv_dir" ) sh -c 'umask 077 && mkdir -p -- "$1" 2>/dev/null' sh "$_jenv_dir"
        if ( -d "$_jenv_dir" ) then
            setenv TMPDIR "$_jenv_dir"
        else
            echo "jenv hook: cannot create $_jenv_dir; TMPDIR left unset" > /dev/stderr
        endif
    endif
endif
set _jenv_bin = ""
if ( $?JENV_BIN ) then
    set _jenv_bin = "$JENV_BIN"
endif
if ( "$_jenv_bin" == "" ) then
    foreach _jenv_d ( $path:q )
        if ( "$_jenv_bin" == "" && -x "$_jenv_d/jenv" && ! -d "$_jenv_d/jenv" ) set _jenv_bin = "$_jenv_d/jenv"
    end
endif
if ( "$_jenv_bin" == "" ) then
    echo "jenv hook: jenv not found in PATH (set JENV_BIN); no token" > /dev/stderr
else
    set _jenv_limit = 20
    if ( $?JENV_HOOK_TIMEOUT ) then
        set _jenv_limit = "$JENV_HOOK_TIMEOUT"
    endif
    set _jenv_net = 8
    if ( $?JENV_TIMEOUT ) then
        set _jenv_net = "$JENV_TIMEOUT"
    endif
    # The hard time bound: timeout (GNU), gtimeout (macOS coreutils) or perl's alarm
    # (--foreground only at a terminal, so that jenv can ask for a key passphrase);
    # JENV_TIMEOUT bounds each network step of jenv itself, within it.  The output
    # goes through a private temporary file: csh cannot nest these quotes in backquotes.
    set _jenv_out = "`mktemp`"
    if ( "$_jenv_out" == "" ) set _jenv_out = /dev/null/jenv-mktemp-failed
    env JENV_TIMEOUT=$_jenv_net sh -c 'fg=; { [ -t 0 ] || [ -t 2 ]; } && fg=--foreground; if command -v timeout >/dev/null 2>&1; then exec timeout $fg -k 2 "$0" "$@"; elif command -v gtimeout >/dev/null 2>&1; then exec gtimeout $fg -k 2 "$0" "$@"; elif command -v perl >/dev/null 2>&1; then exec perl -e "alarm(shift); exec(@ARGV)" "$0" "$@"; else exec "$@"; fi' $_jenv_limit $_jenv_bin:q token --shell tcsh >! $_jenv_out:q
    set _jenv_rc = $status
    if ( $_jenv_rc == 0 ) then
        source $_jenv_out:q
    else if ( $_jenv_rc == 124 || $_jenv_rc == 137 || $_jenv_rc == 142 ) then
        echo "jenv hook: no token: jenv token did not finish within ${_jenv_limit}s (a passphrase prompt left unanswered, or JCentral not answering); JENV_HOOK_TIMEOUT sets the limit" > /dev/stderr
    else if ( $_jenv_rc == 126 || $_jenv_rc == 127 ) then
        echo "jenv hook: cannot run $_jenv_bin" > /dev/stderr
    endif
    rm -f $_jenv_out:q
endif
unset _jenv_t _jenv_private _jenv_dir _jenv_bin _jenv_d _jenv_limit _jenv_net _jenv_out _jenv_rc
