# jenv login hook for fish.
#
#   ~/.config/fish/config.fish:   jenv hook fish | source
#   or source this file:          source /path/to/jenv.fish
#
# 1. Where /tmp is private to the node (JENV_PRIVATE_TMP=1, or a host named
#    lxplus*; JENV_PRIVATE_TMP=0 turns this off) and TMPDIR is not set, the
#    token files go to a directory under $HOME that survives the next login:
#    TMPDIR=$JENV_TMPDIR, else $HOME/private/jenv-tmp if $HOME/private exists
#    (AFS), else $HOME/.cache/jenv/tmp, created with mode 0700.
# 2. Runs "jenv token" (JENV_BIN, else jenv from PATH) for at most
#    JENV_HOOK_TIMEOUT seconds (default 20) and evaluates its exports.
# Silent on success; one line on stderr on failure; may be sourced again.

function __jenv_hook
    if test -z "$TMPDIR"
        set -l private
        switch "$JENV_PRIVATE_TMP"
            case 1
                set private 1
            case 0
            case '*'
                switch (uname -n 2>/dev/null)
                    case 'lxplus*'
                        set private 1
                end
        end
        if test -n "$private"
            set -l dir "$JENV_TMPDIR"
            if test -z "$dir"
                if test -d "$HOME/private"
                    set dir "$HOME/private/jenv-tmp"
                else
                    set dir "$HOME/.cache/jenv/tmp"
                end
            end
            if test -d "$dir"; or sh -c 'umask 077 && mkdir -p -- "$1" 2>/dev/null' sh "$dir"
                set -gx TMPDIR "$dir"
            else
                echo "jenv hook: cannot create $dir; TMPDIR left unset" >&2
            end
        end
    end
    set -l bin "$JENV_BIN"
    if test -z "$bin"
        set bin (command -s jenv 2>/dev/null)
    end
    if test -z "$bin"
        echo "jenv hook: jenv not found in PATH (set JENV_BIN); no token" >&2
        return 0
    end
    set -l limit 20
    if test -n "$JENV_HOOK_TIMEOUT"
        set limit "$JENV_HOOK_TIMEOUT"
    end
    # The hard time bound: timeout (GNU), gtimeout (macOS coreutils) or perl's alarm.
    # At a terminal, --foreground lets jenv ask for a key passphrase (but then only
    # jenv itself is timed out); elsewhere its whole process group is.  stderr counts:
    # with `jenv hook fish | source` stdin is the pipe, and a jenv put in a background
    # process group would be stopped at the prompt while the typed passphrase went to fish.
    set -l fg
    if isatty stdin; or isatty stderr
        set fg --foreground
    end
    set -l run "$bin" token --shell fish
    if command -q timeout
        set run timeout $fg -k 2 $limit $run
    else if command -q gtimeout
        set run gtimeout $fg -k 2 $limit $run
    else if command -q perl
        set run perl -e 'alarm(shift); exec(@ARGV)' $limit $run
    end
    set -l network 8
    if test -n "$JENV_TIMEOUT"
        set network "$JENV_TIMEOUT"
    end
    # JENV_TIMEOUT bounds each network step of jenv itself, within the hard limit.
    set -l out (env JENV_TIMEOUT=$network $run)
    set -l rc $status
    if test $rc -eq 0
        printf '%s\n' $out | source
    else if contains -- $rc 124 137 142
        echo "jenv hook: no token: jenv token did not finish within "$limit"s (a passphrase prompt left unanswered, or JCentral not answering); JENV_HOOK_TIMEOUT sets the limit" >&2
    else if contains -- $rc 126 127
        echo "jenv hook: cannot run $bin" >&2
    end
    return 0
end
__jenv_hook
functions -e __jenv_hook
