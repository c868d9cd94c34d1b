# bash completion for jenv and alien-token-init.
# Install: eval "$(jenv completion bash)" in ~/.bashrc, or
#   jenv completion bash > ~/.local/share/bash-completion/completions/jenv

_jenv_complete() {
    local cur prev cmd i words opts
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=
    if [ "$COMP_CWORD" -gt 0 ]; then prev=${COMP_WORDS[COMP_CWORD-1]}; fi
    local commands="status doctor cert-info token-info certkey-match tokenkey-match cert-verify
        token-verify token token-init alien-token-init token-destroy user prompt ca-fetch ca-info
        crl-fetch hook completion serve sandbox alien-token-info alien-cert-info alien-token-destroy
        shims export exec args whoami cert-import agent"
    local shells="sh bash zsh ksh dash fish tcsh csh json json-vars env"
    local init_opts="-u -v -t -jobid -hostname -f"

    COMPREPLY=()
    cmd=
    case ${COMP_WORDS[0]##*/} in alien-token-init) cmd=token-init ;; esac
    for ((i = 1; i < COMP_CWORD; i++)); do
        [ -n "$cmd" ] && break
        case ${COMP_WORDS[i]} in
            --shell|-shell) ((i++)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]} ;;
        esac
    done

    case $prev in
        -t) COMPREPLY=($(compgen -W "job jobagent host user" -- "$cur")); return 0 ;;
        --shell|-shell) COMPREPLY=($(compgen -W "$shells" -- "$cur")); return 0 ;;
        --dir|--config|--ready-file|--log|--to|--as) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        -u|-v|-jobid|--jobid|-hostname|--hostname|--min-valid|--host|--port|--user|--url|--format|--warn|--token-seconds|--ttl|--for) return 0 ;;
    esac

    case $cmd in
        "") opts="$commands --json --shell --help --version" ;;
        token) opts="$init_opts --min-valid --check --content --with-ca --json --shell" ;;
        prompt) opts="--format --warn --min-valid" ;;
        token-init|alien-token-init)
            opts=$init_opts
            if [[ $cur != -* ]]; then  # token-init <username>, as the tutorials write it
                COMPREPLY=($(compgen -W "$(command -v jenv >/dev/null && jenv whoami -q 2>/dev/null)" -- "$cur"))
                [ "${#COMPREPLY[@]}" -gt 0 ] && return 0
            fi ;;
        status|doctor|cert-info|token-info|certkey-match|tokenkey-match|cert-verify|token-verify|ca-info)
            opts="--json" ;;
        token-destroy) opts="--json --shell" ;;
        crl-fetch) opts="--json"; COMPREPLY=($(compgen -d -- "$cur")) ;;
        whoami) opts="--json -q" ;;
        cert-import) opts="--dir --force --no-passphrase --json"; COMPREPLY=($(compgen -f -- "$cur")) ;;
        user)
            # jenv user <role>: where a role is expected, role names (yours, from the token in use)
            local given=0
            for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in user|-*) ;; *) given=1 ;; esac
            done
            if [ "$given" = 0 ] && [[ $cur != -* ]]; then
                COMPREPLY=($(compgen -W "$(command -v jenv >/dev/null && jenv whoami -q 2>/dev/null)" -- "$cur"))
                return 0
            fi
            opts="token-init -v --json --shell" ;;
        ca-fetch) opts="--url --json"; COMPREPLY=($(compgen -d -- "$cur")) ;;
        hook) opts="sh bash zsh ksh dash fish tcsh csh --file" ;;
        completion) opts="bash zsh fish" ;;
        serve) opts="--dir --host --port --config --ready-file --log --token-seconds" ;;
        sandbox) opts="--dir --user --passphrase --admin --token-seconds --" ;;
        alien-token-info|alien-cert-info|alien-token-destroy) opts= ;;
        shims) opts="--dir --force --remove" ;;
        export) opts="--to --min-valid --for --as --json --shell" ;;
        exec) opts="--min-valid --renew --for --scrub --" ;;
        args) opts="curl --config --min-valid --json" ;;
        agent) opts="start status renew-now stop install --foreground --stay --ttl --min-valid --json --systemd --launchd --remove" ;;
        *) opts= ;;
    esac
    # Where the grammar expects a value, values come first: options only once a '-' is typed.
    local values= word
    for word in $opts; do case $word in -*) ;; *) values="$values $word" ;; esac; done
    if [[ $cur != -* ]] && [ -n "$values" ]; then
        COMPREPLY+=($(compgen -W "$values" -- "$cur"))
    else
        COMPREPLY+=($(compgen -W "$opts --help" -- "$cur"))
    fi
    return 0
}
complete -F _jenv_complete jenv alien-token-init
