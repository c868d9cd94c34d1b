# jenv's prompt function for bash, zsh and ksh93, decided inside the shell without a process while the
# token is fresh.  "jenv hook <shell>" installs it as ~/.cache/jenv/prompt.sh, with the check of login.sh
# (jenv/data/shell/login.sh) as the function jenv_token_fresh; the login's jenv_prompt_update loads it at
# the first prompt.

# (the check of the login file, put here by "jenv hook")

# The segment of "jenv prompt" (default format, --warn 1d) in JENV_PROMPT_SEGMENT (bash: PROMPT_COMMAND,
# zsh: precmd_functions; see the README); "jenv prompt" itself when the token is not fresh.
function jenv_prompt_update {
    typeset x m
    if jenv_token_fresh; then
        x=$((_jenv_na - _jenv_now)) && m=$((x % 3600 / 60 + 100)) && m=${m#1}
        if ((x >= 86400)); then JENV_PROMPT_SEGMENT="$((x / 86400))d $((x % 86400 / 3600))h ${m}m"
        elif ((x >= 3600)); then JENV_PROMPT_SEGMENT="!$((x / 3600))h ${m}m"
        else m=$((x % 60 + 100)) && JENV_PROMPT_SEGMENT="!$((x / 60))m ${m#1}s"; fi
    else
        JENV_PROMPT_SEGMENT=$(jenv prompt 2>/dev/null) || JENV_PROMPT_SEGMENT=  # (set -e)
    fi
    unset _jenv_tmp _jenv_h _jenv_m _jenv_d _jenv_f _jenv_now _jenv_l _jenv_u _jenv_r _jenv_c _jenv_k _jenv_b \
        _jenv_na _jenv_e _jenv_x
}
