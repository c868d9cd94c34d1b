# fish completion for jenv and alien-token-init.
# Install: jenv completion fish > ~/.config/fish/completions/jenv.fish

set -l __jenv_commands status doctor cert-info token-info certkey-match tokenkey-match cert-verify \
    token-verify token token-init alien-token-init token-destroy user prompt ca-fetch ca-info \
    crl-fetch hook completion serve sandbox alien-token-info alien-cert-info alien-token-destroy shims export exec args whoami cert-import agent
set -l __jenv_shells sh bash zsh ksh dash fish tcsh csh json json-vars env

complete -c jenv -f
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -l json -d 'Print JSON'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -l shell -x -a "$__jenv_shells" -d 'Shell syntax for exports'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -l help -d 'Show help'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -l version -d 'Show the version'

complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a status -d 'Where each credential comes from'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a doctor -d 'Why there is no token: every check, the cause first'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a cert-info -d 'User certificate details'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a token-info -d 'Token details'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a certkey-match -d 'Does the user key fit the cert'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a tokenkey-match -d 'Does the token key fit'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a cert-verify -d 'Verify against the CA store'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a token-verify -d 'Verify the token'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a token -d 'Valid token, exports for the shell'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a token-init -d 'Create a new token'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a alien-token-init -d 'Alias of token-init'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a token-destroy -d 'Remove the token files'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a user -d 'Token for another of your roles'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a prompt -d 'Token segment for a prompt'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a ca-fetch -d 'Install the grid CA certificates'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a ca-info -d 'Summary of the CA store'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a crl-fetch -d 'Install each CA'"'"'s CRL, verified'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a hook -d 'Login snippet for your shell'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a completion -d 'Completion script'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a serve -d 'Local token service'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a sandbox -d 'Throwaway CA, user and service'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a alien-token-info -d 'Token details, official client format'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a alien-cert-info -d 'Certificate details, official client format'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a alien-token-destroy -d 'Remove the token files'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a shims -d 'Write alien-token-info and co.'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a export -d 'Copy the token into a directory'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a exec -d 'Run a command with the token'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a args -d 'Token options for curl or requests'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a whoami -d 'Who the token makes you'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a cert-import -d 'Install the .p12 from the CA'
complete -c jenv -n "not __fish_seen_subcommand_from $__jenv_commands" -a agent -d 'Unlock once, keep the token fresh'

# Options of token, token-init (and alien-token-init) and user.
for __jenv_c in jenv alien-token-init
    set -l __jenv_init "__fish_seen_subcommand_from token token-init alien-token-init"
    set -l __jenv_v "__fish_seen_subcommand_from token token-init alien-token-init user"
    if test $__jenv_c = alien-token-init
        set __jenv_init true
        set __jenv_v true
    end
    complete -c $__jenv_c -f
    complete -c $__jenv_c -n $__jenv_init -s u -x -d 'Switch to another role of yours'
    complete -c $__jenv_c -n $__jenv_v -s v -x -d 'Validity in days'
    complete -c $__jenv_c -n $__jenv_init -s t -x -a 'job jobagent host user' -d 'Token type'
    complete -c $__jenv_c -n $__jenv_init -o jobid -x -d 'Job DN extension'
    complete -c $__jenv_c -n $__jenv_init -o hostname -x -d 'FQDN for a host token'
    complete -c $__jenv_c -n $__jenv_init -s f -d 'Host token even when the name does not resolve'
end
set -e __jenv_c

set -l __jenv_token '__fish_seen_subcommand_from token'
complete -c jenv -n $__jenv_token -l min-valid -x -d 'Renew when valid for less than this'
complete -c jenv -n $__jenv_token -l content -d 'Export PEM content, not paths'
complete -c jenv -n $__jenv_token -l check -d 'Exit 0 valid, 5 expiring, 3 missing'
complete -c jenv -n '__fish_seen_subcommand_from prompt' -l format -x -d 'What to print: {left} {state}'
complete -c jenv -n '__fish_seen_subcommand_from prompt' -l warn -x -d 'Mark the segment below this time left'
complete -c jenv -n '__fish_seen_subcommand_from prompt' -l min-valid -x -d 'Expiring below this'
complete -c jenv -n $__jenv_token -l with-ca -d 'Also export the CA store'
complete -c jenv -n '__fish_seen_subcommand_from export exec args' -l min-valid -x -d 'Renew when valid for less than this'
complete -c jenv -n '__fish_seen_subcommand_from export' -l to -r -F -d 'Directory for the copies'
complete -c jenv -n '__fish_seen_subcommand_from export' -l as -x -d 'The directory path inside the container'
complete -c jenv -n '__fish_seen_subcommand_from exec' -l scrub -d 'Remove every grid credential instead'
complete -c jenv -n '__fish_seen_subcommand_from exec' -l renew -d 'Keep a private copy of the token fresh while it runs'
complete -c jenv -n '__fish_seen_subcommand_from export exec' -l for -x -d 'Refuse unless the token lasts this long'
complete -c jenv -n '__fish_seen_subcommand_from args' -a curl -d 'Options for curl'
complete -c jenv -n '__fish_seen_subcommand_from args' -l config -d 'A curl config file, for curl -K -'
complete -c jenv -n '__fish_seen_subcommand_from shims' -l dir -r -F -d 'Where to write the shims'
complete -c jenv -n '__fish_seen_subcommand_from shims' -l force -d 'Write over files jenv did not write'
complete -c jenv -n '__fish_seen_subcommand_from shims' -l remove -d 'Remove the shims jenv wrote'
complete -c jenv -n '__fish_seen_subcommand_from token token-destroy user export' -l shell -x -a "$__jenv_shells" -d 'Shell syntax for exports'
complete -c jenv -n '__fish_seen_subcommand_from user' -a token-init -d 'Keep the new role'
complete -c jenv -n '__fish_seen_subcommand_from user token-init' -a '(command -q jenv; and jenv whoami -q 2>/dev/null)' -d 'Your role'
complete -c jenv -n '__fish_seen_subcommand_from status doctor cert-info token-info certkey-match tokenkey-match cert-verify token-verify ca-info ca-fetch crl-fetch token token-destroy user export args' -l json -d 'Print JSON'
complete -c jenv -n '__fish_seen_subcommand_from whoami cert-import' -l json -d 'Print JSON'
complete -c jenv -n '__fish_seen_subcommand_from whoami' -s q -d 'Print only the user name'
complete -c jenv -n '__fish_seen_subcommand_from cert-import' -l dir -r -F -d 'Where to write the PEM files'
complete -c jenv -n '__fish_seen_subcommand_from cert-import' -l force -d 'Replace existing files, keeping copies'
complete -c jenv -n '__fish_seen_subcommand_from cert-import' -l no-passphrase -d 'Write the key unencrypted'
complete -c jenv -n '__fish_seen_subcommand_from cert-import' -F
complete -c jenv -n '__fish_seen_subcommand_from serve sandbox' -l dir -r -F -d 'Directory'
complete -c jenv -n '__fish_seen_subcommand_from ca-fetch' -l url -x -d 'CA tarball to fetch'
complete -c jenv -n '__fish_seen_subcommand_from ca-fetch' -x -a '(__fish_complete_directories)'
complete -c jenv -n '__fish_seen_subcommand_from crl-fetch' -x -a '(__fish_complete_directories)'
complete -c jenv -n '__fish_seen_subcommand_from serve' -l host -x -d 'Address to listen on'
complete -c jenv -n '__fish_seen_subcommand_from serve' -l port -x -d 'Port to listen on'
complete -c jenv -n '__fish_seen_subcommand_from serve' -l config -r -F -d 'User map (JSON)'
complete -c jenv -n '__fish_seen_subcommand_from serve' -l ready-file -r -F -d 'Write the bound port here'
complete -c jenv -n '__fish_seen_subcommand_from serve' -l log -r -F -d 'Append one JSON line per request'
complete -c jenv -n '__fish_seen_subcommand_from sandbox' -l user -x -d 'User name in the sandbox'
complete -c jenv -n '__fish_seen_subcommand_from sandbox' -l passphrase -d 'Encrypt the sandbox user key'
complete -c jenv -n '__fish_seen_subcommand_from sandbox' -l admin -d 'Run as the admin account jadmin'
complete -c jenv -n '__fish_seen_subcommand_from serve sandbox' -l token-seconds -x -d 'Every token lasts this many seconds (tests only)'
complete -c jenv -n '__fish_seen_subcommand_from hook' -a 'sh bash zsh ksh dash fish tcsh csh'
complete -c jenv -n '__fish_seen_subcommand_from hook' -l file -d 'Print the hook script instead'
complete -c jenv -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'
complete -c jenv -n '__fish_seen_subcommand_from agent' -a 'start status renew-now stop install' -d 'Agent action'
complete -c jenv -n '__fish_seen_subcommand_from agent' -l foreground -d 'Stay in the foreground'
complete -c jenv -n '__fish_seen_subcommand_from agent' -l stay -d 'Outlive the login session'
complete -c jenv -n '__fish_seen_subcommand_from agent' -l ttl -x -d 'End after this long'
complete -c jenv -n '__fish_seen_subcommand_from agent' -l min-valid -x -d 'Renew at the latest this long before the end'
complete -c jenv -n '__fish_seen_subcommand_from agent' -l json -d 'Print JSON'
complete -c jenv -n '__fish_seen_subcommand_from agent' -l systemd -d 'A systemd user unit'
complete -c jenv -n '__fish_seen_subcommand_from agent' -l launchd -d 'A launchd agent'
complete -c jenv -n '__fish_seen_subcommand_from agent' -l remove -d 'Remove the service file'

# jenv exec ... -- <command> [<args>...] (and jenv sandbox ... -- ...): after the "--", the command, then
# the command's own completion.  __jenv_run_line prints the words from the command on (none: fails).
function __jenv_run_line
    set -l before (commandline -opc)
    set -l end (contains -i -- -- $before); or return 1
    contains -- exec $before[1..$end]; or contains -- sandbox $before[1..$end]; or return 1
    set -e before[1..$end]
    printf '%s\n' $before (commandline -ct)
end
complete -c jenv -n '__jenv_run_line >/dev/null' -x -a '(__fish_complete_subcommand --commandline (__jenv_run_line))'
