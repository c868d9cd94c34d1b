"""jenv - ALICE grid (JAliEn) token and certificate helper.

Usage:
  jenv [--json] [--shell <name>] <command> [<args>...]
  jenv (-h | --help)
  jenv --version

Token (for login scripts: eval "$(jenv token)"):
  token            Make sure a valid token exists, print exports for the shell
  token-init       Create a new token from the user certificate (alias: alien-token-init)
  token-destroy    Remove the token files, print unset lines
  user             Role change: token for another of your roles (user <name> [token-init])
  prompt           Short token segment for PS1, starship or tmux (time left, or a marker)
  agent            Unlock once, keep the token fresh (start, status, renew-now, stop, install)

Inspection (offline):
  status           Where each credential comes from and whether it is usable
  doctor           Why there is no token: every check (network too), the cause first with its fix
  cert-info        User certificate details          token-info       Token details
  cert-verify      Verify against the CA store       token-verify     Verify the token
  certkey-match    Does the user key fit the cert    tokenkey-match   Does the token key fit
  whoami           Who the token in use makes you (user, role, job), offline

User certificate:
  cert-import      Install the .p12 from the CA as ~/.globus/usercert.pem and userkey.pem

CA certificates:
  ca-fetch         Download and install the grid CA certificates
  ca-info          Summary of the CA store
  crl-fetch        Download each CA's CRL (crl_url of <alias>.info) into the CA directory

Shell:
  hook             The login line, one process (eval "$(jenv hook bash)"; --file: the script)
  completion       Completion script for bash, zsh or fish

Local service (no grid needed):
  serve            Run a local JCentral-compatible token service
  sandbox          Throwaway CA, user and local service; run a command inside

Tokens elsewhere (batch jobs, containers, scripts, O2's token check):
  exec             Run a command with the token (and CA location) exported; --renew: kept fresh while it
                   runs; --for: refused unless the token lasts that long; --scrub: without credentials
  export           Copy the token into a directory (--to), print exports pointing at the copies
  args             Options giving a tool the token and CA store (jenv args curl --config; --json)
  shims            Write alien-token-info & co. (run jenv) into ~/.local/bin
  alien-token-info, alien-cert-info, alien-token-destroy   As the official client prints them

Options:
  --json           Print JSON (also accepted as -json, and after the command).
  --shell <name>   Shell syntax for exports: sh bash zsh ksh dash fish tcsh csh, json (as --json),
                   json-vars ({{"NAME": value}}), env (NAME=value lines for --env-file).
  -h --help        Show this help; "jenv help <command>" or "jenv <command> -h": a command's.
  --version        Show the version.

Exit codes:
{exit_codes}
Environment:
{variables}"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, List, Mapping, Optional, Sequence, TextIO

from docopt import DocoptExit, docopt

from jenv import __version__
from jenv.context import Context, printable, run_reported
from jenv.errors import EXIT_CODE_TABLE, ExitCode, UsageError

__all__ = ["COMMANDS", "ALIASES", "ONE_DASH_OPTIONS", "normalize_argv", "main", "usage_text", "printable"]

#: command name -> "module:function".  Modules are imported only for the command
#: that runs, so `jenv token` on a valid token never loads the network stack.
COMMANDS = {
    "status": "jenv.commands.inspect:cmd_status",
    "doctor": "jenv.commands.doctor:cmd_doctor",
    "cert-info": "jenv.commands.inspect:cmd_cert_info",
    "token-info": "jenv.commands.inspect:cmd_token_info",
    "certkey-match": "jenv.commands.inspect:cmd_certkey_match",
    "tokenkey-match": "jenv.commands.inspect:cmd_tokenkey_match",
    "cert-verify": "jenv.commands.verify:cmd_cert_verify",
    "token-verify": "jenv.commands.verify:cmd_token_verify",
    "token": "jenv.commands.tokens:cmd_token",
    "token-init": "jenv.commands.tokens:cmd_token_init",
    "token-destroy": "jenv.commands.tokens:cmd_token_destroy",
    "prompt": "jenv.commands.tokens:cmd_prompt",
    "user": "jenv.commands.tokens:cmd_user",
    "agent": "jenv.commands.agent:cmd_agent",
    "whoami": "jenv.commands.whoami:cmd_whoami",
    "cert-import": "jenv.commands.certimport:cmd_cert_import",
    "ca-fetch": "jenv.commands.ca:cmd_ca_fetch",
    "ca-info": "jenv.commands.ca:cmd_ca_info",
    "crl-fetch": "jenv.commands.ca:cmd_crl_fetch",
    "hook": "jenv.commands.shell:cmd_hook",
    "completion": "jenv.commands.shell:cmd_completion",
    "serve": "jenv.commands.service:cmd_serve",
    "sandbox": "jenv.commands.service:cmd_sandbox",
    "alien-token-info": "jenv.commands.alien:cmd_alien_token_info",
    "alien-cert-info": "jenv.commands.alien:cmd_alien_cert_info",
    "alien-token-destroy": "jenv.commands.alien:cmd_alien_token_destroy",
    "shims": "jenv.commands.carry:cmd_shims",
    "export": "jenv.commands.carry:cmd_export",
    "exec": "jenv.commands.carry:cmd_exec",
    "args": "jenv.commands.carry:cmd_args",
}

ALIASES = {"alien-token-init": "token-init"}

#: Options the user documentation spells with one dash; docopt would read
#: "-json" as the stacked short options -j -s -o -n, so they are rewritten first.
ONE_DASH_OPTIONS = {"-json", "-jobid", "-hostname", "-content", "-shell"}


def usage_text() -> str:
    from jenv.locations import VARIABLES

    codes = "".join(f"  {int(code):<4} {text}\n" for code, text in EXIT_CODE_TABLE.items())
    width = max(map(len, VARIABLES)) + 2
    variables = "".join(f"  {name:<{width}} {meaning}\n" for name, meaning in VARIABLES.items())
    return __doc__.format(exit_codes=codes, variables=variables)


def _short_usage() -> str:
    """The "Usage:" block of the top-level help."""
    return __doc__.split("\n\n")[1]


def normalize_argv(argv: Sequence[str]) -> List[str]:
    """Rewrite the documented one-dash long options to their ``--`` form.

    ``-jobid=7`` becomes ``--jobid=7``; everything after a ``--`` is left alone
    (it belongs to the command that ``jenv sandbox`` runs).
    """
    out: List[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[index:])
            break
        name = arg.split("=", 1)[0]
        out.append("-" + arg if name in ONE_DASH_OPTIONS else arg)
    return out


def _wants_help(args: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg in ("-h", "--help"):
            return True
    return False


def _load_handler(command: str) -> Callable[..., int]:
    module_name, func_name = COMMANDS[command].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def cleandoc(doc: str) -> str:
    """A docstring without its common indentation (``inspect.cleandoc``, whose
    import costs more than the whole `jenv token` fast path does)."""
    lines = doc.expandtabs().strip("\n").splitlines()
    rest = [line for line in lines[1:] if line.strip()]
    margin = min((len(line) - len(line.lstrip()) for line in rest), default=0)
    return "\n".join([lines[0].strip()] + [line[margin:].rstrip() for line in lines[1:]]).strip() if lines else ""


def command_usage(command: str) -> str:
    """The docopt usage text of one command (its handler's docstring)."""
    return cleandoc(_load_handler(command).__doc__ or "")


def suggestions(word: str) -> List[str]:
    """The commands closest to a mistyped one (``tokn`` -> token, token-info, token-init)."""
    import difflib

    names = sorted(set(COMMANDS) | set(ALIASES) | {"help"})
    close = difflib.get_close_matches(word, names, n=3, cutoff=0.6)
    return close or [name for name in names if word and name.startswith(word[:3])][:3]


def _unknown_command(ctx: Context, word: str) -> int:
    close = suggestions(word)
    hint = f"; did you mean {' or '.join(repr(name) for name in close)}?" if close else ""
    ctx.err(f"jenv: unknown command {word!r}{hint} (jenv --help lists them)")
    return ExitCode.USAGE


def _help(ctx: Context, topic: List[str]) -> int:
    """``jenv help`` (the full help) and ``jenv help <command>`` (that command's usage), on stdout."""
    if not topic:
        ctx.out(usage_text())
        return ExitCode.OK
    command = ALIASES.get(topic[0], topic[0])
    if command not in COMMANDS or len(topic) > 1:
        return _unknown_command(ctx, topic[0]) if command not in COMMANDS else _invalid(ctx, "help", topic)
    ctx.out(command_usage(command))
    return ExitCode.OK


def _invalid(ctx: Context, command: str, rest: List[str], usage: str = "") -> int:
    ctx.err(f"jenv: invalid arguments for '{command}': {' '.join(rest) or '(none)'}")
    ctx.err(usage or "Usage: jenv help [<command>]")
    return ExitCode.USAGE


def _before_double_dash(args: List[str]) -> List[str]:
    return args[:args.index("--")] if "--" in args else args


def _run(argv: List[str], ctx: Context) -> int:
    if not argv:  # a bare jenv: the short usage, as for any other usage error
        ctx.err(_short_usage())
        ctx.err("Commands: jenv --help (or jenv help <command>)")
        return ExitCode.USAGE
    if _wants_help(argv[:1]):
        ctx.out(usage_text())
        return ExitCode.OK
    if argv[0] == "--version":
        ctx.out(f"jenv {__version__}")
        return ExitCode.OK
    try:
        top = docopt(usage_text(), argv=argv, default_help=False, options_first=True)
    except DocoptExit:
        ctx.err(f"jenv: invalid arguments: {' '.join(argv)}")
        ctx.err(_short_usage())
        return ExitCode.USAGE
    word = top["<command>"]
    if word == "help":
        return _help(ctx, list(top["<args>"]))
    command = ALIASES.get(word, word)
    if command not in COMMANDS:
        return _unknown_command(ctx, word)
    ctx.json = bool(top["--json"])
    ctx.shell = top["--shell"]
    handler = _load_handler(command)
    doc = cleandoc(handler.__doc__ or "")
    rest = list(top["<args>"])
    if _wants_help(rest):
        ctx.out(doc)
        return ExitCode.OK
    if (ctx.json or "--json" in _before_double_dash(rest)) and "--json" not in doc:
        raise UsageError(f"'{word}' has no JSON output: leave out --json")
    if "--json" in _before_double_dash(rest):  # also accepted after the command's own arguments
        index = rest.index("--json")
        rest = rest[:index] + rest[index + 1:]
        ctx.json = True
    try:
        args = docopt(doc, argv=[command] + rest, default_help=False)
    except DocoptExit as exc:
        return _invalid(ctx, command, rest, exc.usage or str(exc))
    if args.get("--json"):
        ctx.json = True
    if args.get("--shell"):
        ctx.shell = args["--shell"]
    if ctx.shell is not None:
        _check_shell(ctx.shell)
    return int(handler(args, ctx))


def _check_shell(name: str) -> None:
    """A bad --shell is a usage error before any work (not after a token was fetched)."""
    from jenv.shells.base import SHELL_NAMES, canonical_name

    if canonical_name(name) is None:
        raise UsageError(f"unknown shell {name!r} given to --shell: use one of " + " ".join(SHELL_NAMES))


def main(argv: Optional[Sequence[str]] = None, environ: Optional[Mapping[str, str]] = None, *,
         uid: Optional[int] = None, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
         clock: Optional[Callable[[], float]] = None) -> int:
    """Entry point: run one command, turn every failure into one stderr line and an exit code.

    Tests run it in-process with their own environment, uid, streams and clock.
    """
    if stdout is None and hasattr(sys.stdout, "reconfigure"):
        # A path that is not UTF-8 (TMPDIR=$'/tmp/t\xff') came in as surrogate escapes: it goes back out
        # as the very same bytes for the shell to evaluate, whatever the locale's error handler is.
        sys.stdout.reconfigure(errors="surrogateescape")
    ctx = Context.from_process(environ, uid, stdout, stderr, clock)
    args = normalize_argv(sys.argv[1:] if argv is None else argv)
    return run_reported(ctx, lambda: _run(args, ctx))
