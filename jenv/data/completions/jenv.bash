# bash completion for jenv and alien-token-init.
# Install: eval "$(jenv completion bash)" in ~/.bashrc, or
#   jenv completion bash > ~/.local/share/bash-completion/completions/jenv

_jenv_complete() {
    local cur prev cmd i words opts word
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=
    if [ "$COMP_CWORD" -gt 0 ]; then prev=${COMP_WORDS[COMP_CWORD-1]}; fi
    local commands="status doctor cert-info token-info certkey-match tokenkey-match cert-verify
        token-verify token token-init alien-token-init token-destroy user prompt ca-fetch ca-info
        crl-fetch hook completion serve sandbox alien-token-info alien-cert-info alien-token-destroy
        shims export exec args whoami cert-import agent"
    local shells="sh bash zsh ksh dash fish tcsh csh json json-vars env"
    local init_opts="-u -v -t -jobid -hostname -f"
    # Options followed by a value (the word after one is never a command, a role or a file).
    local valued=" -t --shell -shell --dir --config --ready-file --log --to --as -u -v -jobid --jobid -hostname
        --hostname --min-valid --host --port --user --url --format --warn --token-seconds --ttl "

    COMPREPLY=()
    cmd=
    case ${COMP_WORDS[0]##*/} in alien-token-init) cmd=token-init ;; esac
    # What the line holds before the word being completed: the command, the words given (each is
    # offered once), how many values after the command (npos), and where the command that
    # exec/sandbox run starts (run).
    local given=" " npos=0 run= after= name
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [ -n "$after" ] && [ "$word" != = ]; then after=; continue; fi
        name=${word#-}
        given="$given${name#-} "
        case $word in
            =) after=1; continue ;;  # bash splits --opt=value into three words
        esac
        if [[ $valued == *" $word "* && $cmd/$word != args/--config ]]; then after=1; continue; fi
        if [ -z "$cmd" ]; then
            case $word in -*) ;; *) cmd=$word ;; esac
            continue
        fi
        case $cmd/$word in
            exec/--|sandbox/--) run=$((i + 1)); break ;;
            sandbox/-*) ;;
            sandbox/*) run=$i; break ;;
        esac
        case $word in -*) ;; *) ((npos++)) ;; esac
    done

    if [ -n "$run" ]; then  # jenv exec -- <command> [<args>...]: the command, then its own completion
        if [ "$COMP_CWORD" -eq "$run" ]; then
            COMPREPLY=($(compgen -c -- "$cur"))
        elif declare -F _command_offset >/dev/null; then  # the bash-completion package
            _command_offset "$run"
        else
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return 0
    fi

    case $cmd/$prev in args/--config) prev= ;; esac  # a flag there (curl reads the config)
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
            if [[ $cur != -* ]] && [ "$npos" = 0 ]; then  # token-init <username>, as the tutorials write it
                COMPREPLY=($(compgen -W "$(command -v jenv >/dev/null && jenv whoami -q 2>/dev/null)" -- "$cur"))
                [ "${#COMPREPLY[@]}" -gt 0 ] && return 0
            fi ;;
        status|doctor|cert-info|token-info|certkey-match|tokenkey-match|cert-verify|token-verify|ca-info)
            opts="--json" ;;
        token-destroy) opts="--json --shell" ;;
        crl-fetch) opts="--json"; [ "$npos" = 0 ] && COMPREPLY=($(compgen -d -- "$cur")) ;;
        whoami) opts="--json -q" ;;
        cert-import) opts="--dir --force --no-passphrase --json"; [ "$npos" = 0 ] && COMPREPLY=($(compgen -f -- "$cur")) ;;
        user)
            # jenv user <role> [token-init]: where a role is expected, role names (yours, from the token in use)
            if [ "$npos" = 0 ] && [[ $cur != -* ]]; then
                COMPREPLY=($(compgen -W "$(command -v jenv >/dev/null && jenv whoami -q 2>/dev/null)" -- "$cur"))
                return 0
            fi
            opts="token-init -v --json --shell"
            [ "$npos" = 1 ] && npos=0 ;;  # the role given: token-init may follow
        ca-fetch) opts="--url --json"; [ "$npos" = 0 ] && COMPREPLY=($(compgen -d -- "$cur")) ;;
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
    # Each word once: drop what the line holds already (-jobid and --jobid alike); values only where
    # the command still expects one.
    local left= values=
    for word in $opts; do
        name=${word#-}
        [[ $given == *" ${name#-} "* ]] && continue
        left="$left $word"
        case $word in -*) ;; *) [ "$npos" = 0 ] && values="$values $word" ;; esac
    done
    # Where the grammar expects a value, values come first: options only once a '-' is typed.
    if [[ $cur != -* ]] && [ -n "$values" ]; then
        COMPREPLY+=($(compgen -W "$values" -- "$cur"))
    else
        for word in $left; do case $word in -*) COMPREPLY+=($(compgen -W "$word" -- "$cur")) ;; esac; done
        [[ $given == *" help "* ]] || COMPREPLY+=($(compgen -W "--help" -- "$cur"))
    fi
    return 0
}
complete -F _jenv_complete jenv alien-token-init
