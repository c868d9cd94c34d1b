# jenv's prompt function for fish, decided inside the shell without a process while the token is fresh.
# "jenv hook fish" installs it as ~/.cache/jenv/prompt.fish, with the check of login.fish
# (jenv/data/shell/login.fish); the login's jenv_prompt_update loads it at the first prompt.

# The segment of "jenv prompt" (default format, --warn 1d) in JENV_PROMPT_SEGMENT; "jenv prompt" itself when
# the token is not fresh.
function jenv_prompt_update
# (the check of the login file, put here by "jenv hook")
        set -l left (math "$line[7] - $now")
        set -l minutes (string pad -c 0 -w 2 (math "floor($left % 3600 / 60)"))
        if test $left -ge 86400
            set -l hours (math "floor($left % 86400 / 3600)")
            set -g JENV_PROMPT_SEGMENT (math "floor($left / 86400)")"d "$hours"h "$minutes"m"
        else if test $left -ge 3600
            set -g JENV_PROMPT_SEGMENT "!"(math "floor($left / 3600)")"h "$minutes"m"
        else
            set -g JENV_PROMPT_SEGMENT "!"(math "floor($left / 60)")"m "(string pad -c 0 -w 2 (math "$left % 60"))"s"
        end
    else
        set -g JENV_PROMPT_SEGMENT (jenv prompt 2>/dev/null)
    end
end
