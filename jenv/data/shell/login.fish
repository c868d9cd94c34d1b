# jenv login for fish (3.5 and later), decided inside the shell without a process; "jenv hook fish" installs
# it as ~/.cache/jenv/login.fish.  The rules are those of login.sh (jenv/data/shell/login.sh), with what fish
# has: no uid variable (the line's own, in a file of ours), no mode bits (the seal of the line's mtime shows
# another user's write; jenv removes a line open to others), and for the clock `path mtime` of a
# reference file plus `path mtime --relative` of the same file (whole seconds, so "now" counts one second
# later).  On any doubt it runs "jenv hook fish | source" exactly as without this file.

# The prompt function: the first call loads the real one (~/.cache/jenv/prompt.fish, with the check below).
function jenv_prompt_update
    if test -O "$HOME/.cache/jenv/prompt.fish" -a "$argv[1]" != again; and source "$HOME/.cache/jenv/prompt.fish"
        jenv_prompt_update again
    else
        set -g JENV_PROMPT_SEGMENT (jenv prompt 2>/dev/null)
    end
end

# (the completion loaders of "jenv hook", written here by jenv)

# the check {
if set -l host $hostname; and set -l dir /tmp; and set -l tmp; and set -l line; and test -n "$HOME"
    and builtin -q path 2>/dev/null  # fish 3.5 and later
    and if test -n "$TMPDIR"
        set dir $TMPDIR
    else if test "$JENV_PRIVATE_TMP" = 1; or test "$JENV_PRIVATE_TMP" != 0 && string match -q 'lxplus*' -- $host
        set dir "$JENV_TMPDIR"  # the private TMPDIR of jenv.sh, a directory jenv made
        test -n "$dir"; or if test -d "$HOME/private"
            set dir "$HOME/private/jenv-tmp"
        else
            set dir "$HOME/.cache/jenv/tmp"
        end
        test -d "$dir"; and set tmp $dir
    end
    and set -l file "$HOME/.cache/jenv/fresh-$host"
    and test -d $HOME/.cache/jenv -a ! -L $HOME/.cache/jenv -a -O $HOME/.cache/jenv \
        -a -f $file -a ! -L $file -a -O $file
    and read --list --delimiter \t line <$file
    and set -q line[8]; and not set -q line[9]
    and test "$line[1]" = jenv-fresh-1 -a "$line[3]" = "$host"
    and not string match -qrv '^[1-9][0-9]{0,11}$' -- $line[6..8]
    and if test -n "$JALIEN_TOKEN_CERT$JALIEN_TOKEN_KEY"
        test "$line[4]" = "$JALIEN_TOKEN_CERT" -a "$line[5]" = "$JALIEN_TOKEN_KEY"
    else
        test "$line[4]" = "$dir/tokencert_$line[2].pem" -a "$line[5]" = "$dir/tokenkey_$line[2].pem"
    end
    and not string match -qv '/*' -- $line[4..5]
    and test -f $line[4] -a ! -L $line[4] -a -O $line[4] -a -f $file.cert -a ! -L $file.cert -a -O $file.cert \
        -a -f $line[5] -a ! -L $line[5] -a -O $line[5] -a -f $file.key -a ! -L $file.key -a -O $file.key
    and not test $line[4] -nt $file.cert -o $line[4] -ot $file.cert -o $file -nt $file.cert -o $file -ot $file.cert \
        -o $line[5] -nt $file.key -o $line[5] -ot $file.key
    and set -l now (path mtime -- $file.cert) (path mtime --relative -- $file.cert)
    and set now (math "$now[1] + $now[2] + 1")
    and test $now -ge $line[6] -a $now -lt $line[8]
    # } the check: fresh; $line (the fields), $now, $tmp (a TMPDIR to export, or empty)
    test -n "$tmp"; and set -gx TMPDIR $tmp
    set -gx JALIEN_TOKEN_CERT $line[4]
    set -gx JALIEN_TOKEN_KEY $line[5]
    return 0
end
jenv hook fish | source
return 0
