# jenv login for fish (3.5 and later), decided inside the shell.
#
#   ~/.config/fish/config.fish:
#     test -O ~/.cache/jenv/login.fish; and source ~/.cache/jenv/login.fish; or jenv hook fish | source
#
# "jenv hook fish" writes this file to ~/.cache/jenv/login.fish; the rules are those of login.sh
# (jenv/data/shell/login.sh), with what fish has: no uid variable (the line's own, in a file of ours),
# no mode bits, and for the clock `path mtime` of a reference file plus `path mtime --relative` of the
# same file (whole seconds, so "now" counts one second later).  On any doubt it runs
# "jenv hook fish | source" exactly as without this file.  Silent on success; may be sourced again.
# jenv_prompt_update sets JENV_PROMPT_SEGMENT to what "jenv prompt" prints, without a process while
# the token is fresh.

# The token files, notAfter and now when the token is fresh (and the TMPDIR to set, or ""); else nothing.
function jenv_token_fresh
    test -n "$HOME"; and contains path (builtin -n); or return 1  # fish 3.5 and later
    set -l host $hostname
    set -l dir "$TMPDIR"
    set -l tmp
    if test -z "$dir"
        set -l private 0
        test "$JENV_PRIVATE_TMP" = 1; and set private 1
        test "$JENV_PRIVATE_TMP" != 0; and string match -q 'lxplus*' -- $host; and set private 1
        if test $private = 1
            set tmp "$JENV_TMPDIR"
            if test -z "$tmp"
                if test -d "$HOME/private"
                    set tmp "$HOME/private/jenv-tmp"
                else
                    set tmp "$HOME/.cache/jenv/tmp"
                end
            end
            test -d "$tmp"; or return 1
            set dir $tmp
        end
    end
    test -n "$dir"; or set dir /tmp
    string match -q '/*' -- $dir; or return 1
    set -l base "$HOME/.cache/jenv"
    test -d $base -a ! -L $base -a -O $base; or return 1
    set -l file "$base/fresh-$host"
    test -f $file -a ! -L $file -a -O $file; or return 1
    read -l --list --delimiter \t line < $file; or return 1
    test (count $line) -eq 8; or return 1
    test "$line[1]" = jenv-fresh-1 -a "$line[3]" = "$host"; or return 1
    for number in $line[2] $line[6..8]
        string match -qr '^(0|[1-9][0-9]{0,11})$' -- $number; or return 1
    end
    set -l cert $line[4]
    set -l key $line[5]
    if test -n "$JALIEN_TOKEN_CERT$JALIEN_TOKEN_KEY"
        test "$cert" = "$JALIEN_TOKEN_CERT" -a "$key" = "$JALIEN_TOKEN_KEY"; or return 1
    else
        test "$cert" = "$dir/tokencert_$line[2].pem" -a "$key" = "$dir/tokenkey_$line[2].pem"; or return 1
    end
    string match -q '/*' -- $cert; and string match -q '/*' -- $key; or return 1
    for pair in "$cert" "$file.cert" "$key" "$file.key"
        test -f $pair -a ! -L $pair -a -O $pair; or return 1
    end
    test $cert -nt $file.cert -o $cert -ot $file.cert -o $key -nt $file.key -o $key -ot $file.key; and return 1
    set -l stamp (path mtime -- $file.cert); or return 1
    set -l age (path mtime --relative -- $file.cert); or return 1
    set -l now (math "$stamp + $age + 1")
    test $now -ge $line[6] -a $now -lt $line[8]; or return 1
    echo $cert
    echo $key
    echo $line[7]
    echo $now
    echo "$tmp"
end

# The segment of "jenv prompt" (default format, --warn 1d) in JENV_PROMPT_SEGMENT.
function jenv_prompt_update
    set -l found (jenv_token_fresh)
    if test (count $found) -ne 5
        set -g JENV_PROMPT_SEGMENT (jenv prompt 2>/dev/null)
        return 0
    end
    set -l left (math "$found[3] - $found[4]")
    set -l mark
    test $left -lt 86400; and set mark '!'
    set -l minutes (string pad -c 0 -w 2 (math "floor($left % 3600 / 60)"))
    if test $left -ge 86400
        set -g JENV_PROMPT_SEGMENT "$mark"(math "floor($left / 86400)")"d "(math "floor($left % 86400 / 3600)")"h "$minutes"m"
    else if test $left -ge 3600
        set -g JENV_PROMPT_SEGMENT "$mark"(math "floor($left / 3600)")"h "$minutes"m"
    else
        set -g JENV_PROMPT_SEGMENT "$mark"(math "floor($left / 60)")"m "(string pad -c 0 -w 2 (math "$left % 60"))"s"
    end
    return 0
end

# (the completion loaders of "jenv hook", written here by jenv)

function __jenv_login
    set -l found (jenv_token_fresh)
    if test (count $found) -eq 5
        test -n "$found[5]"; and set -gx TMPDIR $found[5]
        set -gx JALIEN_TOKEN_CERT $found[1]
        set -gx JALIEN_TOKEN_KEY $found[2]
    else
        jenv hook fish | source
    end
    return 0
end
__jenv_login
functions -e __jenv_login
true
