"""The login forms: the one place that decides what a login or a prompt costs.

``jenv token`` (valid token), ``jenv token --check``, ``jenv prompt`` and ``jenv hook <shell>``
run at every login or prompt (and ``alien-token-info`` and ``whoami`` in scripts and checks), so they
start with nothing loaded that they do not need: no docopt, typing, enum, re, subprocess or
cryptography (tests/core/test_architecture.py reads the table :data:`LOGIN_IMPORTS` and blocks the
rest).  This module recognises exactly their spellings (:func:`parse_fast`), builds the argument dict
docopt would, and runs them.  They judge nothing themselves: the token's verdict is the libraries',
remembered for the files in their present version (:mod:`jenv.tokens.memo`), so a login compares what
``stat`` says and parses no certificate; the first login after a token changed pays for the libraries
once.  One form hands over: ``jenv token`` when the token needs renewing goes to :func:`jenv.cli.main`
with the same words, before anything was printed or changed.  Every other command line goes there too.
"""

from __future__ import annotations

import os
import sys

from jenv.context import Context, run_reported
from jenv.safefile import use_light_core_guard

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Mapping, Optional, Sequence, TextIO

__all__ = ["main", "parse_fast", "run_and_exit", "LOGIN_MODULES", "LOGIN_BLOCKED"]

#: command -> (module, function, options taking a value, flag options).  Each function returns an exit
#: code; ``token``'s returns None when a new token is needed (then the full front end runs the command).
_FORMS = {
    "token": ("jenv.commands.tokens", "token_login_form", ("--shell", "--min-valid"), ("--json", "--check")),
    "prompt": ("jenv.commands.tokens", "cmd_prompt", ("--format", "--warn", "--min-valid"), ()),
    "hook": ("jenv.commands.shell", "cmd_hook", (), ()),
    "alien-token-info": ("jenv.commands.alien", "cmd_alien_token_info", (), ()),  # O2's token check
    "whoami": ("jenv.commands.whoami", "cmd_whoami", (), ("--json", "-q")),  # MY_USER=$(jenv whoami -q)
}
_ONE_DASH = {"-json": "--json", "-shell": "--shell"}

#: The modules the login forms may import when the token's verdict is remembered (the architecture test
#: imports each with :data:`LOGIN_BLOCKED` blocked, and runs every form so).
LOGIN_MODULES = ("jenv.login", "jenv.commands.tokens", "jenv.commands.shell", "jenv.commands.alien",
                 "jenv.commands.whoami", "jenv.tokens.check", "jenv.tokens.memo", "jenv.tokens.fresh",
                 "jenv.tokens.inuse",
                 "jenv.tokens.expiry", "jenv.durations", "jenv.locations", "jenv.context", "jenv.errors",
                 "jenv.safefile", "jenv.safefile.read", "jenv.safefile.write",
                 "jenv.safefile.dirs", "jenv.safefile.lock", "jenv.safefile.core", "jenv.shells",
                 "jenv.shells.posix", "jenv.shells.fish", "jenv.shells.csh", "jenv.shells.hook", "jenv.report.sources",
                 "jenv.report.whoami", "jenv.lite.record", "jenv.lite.timefmt",
                 "jenv.lite.validity", "jenv.lite.pkcs12", "jenv.lite.identity")
#: Never imported there: the network and crypto stacks, and the standard modules that cost a login more
#: than its own work.
LOGIN_BLOCKED = ("cryptography", "ssl", "_ssl", "websockets", "requests", "OpenSSL", "docopt", "shellingham",
                 "typing", "enum", "re", "subprocess", "collections", "contextlib", "ctypes", "json", "pathlib",
                 "inspect", "dataclasses", "importlib.resources", "shlex", "warnings", "signal")


def parse_fast(argv: Sequence[str]) -> Optional[tuple]:
    """(command, args) for the forms this module runs, else None (docopt decides everything else).

    Accepted: the global ``--json`` / ``--shell <name>`` before the command, the
    command, then its own options in any order (``--opt value`` or
    ``--opt=value``), and for ``hook`` one shell name.  Nothing else: an
    unknown word, ``-h``, a repeated option all go to docopt.
    """
    args: Dict[str, object] = {}
    words: List[str] = [_ONE_DASH.get(word, word) for word in argv]
    index = 0
    while index < len(words) and words[index] in ("--json", "--shell") or \
            (index < len(words) and words[index].startswith("--shell=")):
        word = words[index]
        if word == "--json":
            args["--json"] = True
        elif word == "--shell" and index + 1 < len(words):
            args["--shell"] = words[index + 1]
            index += 1
        elif word.startswith("--shell="):
            args["--shell"] = word[len("--shell="):]
        else:
            return None
        index += 1
    if index >= len(words) or words[index] not in _FORMS:
        return None
    command = words[index]
    valued, flags = _FORMS[command][2:4]
    rest = words[index + 1:]
    position = 0
    while position < len(rest):
        word = rest[position]
        name, equals, value = word.partition("=")
        if name in valued and not equals and position + 1 < len(rest) and not rest[position + 1].startswith("-"):
            value = rest[position + 1]
            position += 1
        elif not (name in valued and equals) and not (word in flags):
            if command == "hook" and "<shell>" not in args and not word.startswith("-"):
                args["<shell>"] = word
                position += 1
                continue
            return None
        if name in args and name not in ("--json", "--shell"):
            return None
        args[name] = True if word in flags else value
        position += 1
    if args.get("--json") and ("--json" not in flags or args.get("--check")):
        return None  # no JSON output there: docopt's front end says so
    if command == "token" and args.get("--check") and "--shell" in args:
        return None  # not a form docopt accepts: let it say so
    args.setdefault("<shell>", None)
    return command, args


def _run(command: str, args: Dict[str, object], context: dict) -> Optional[int]:
    """The command's exit code, or None when the full front end must run it."""
    module, function = _FORMS[command][:2]
    ctx = Context.from_process(**context)
    ctx.json = bool(args.get("--json"))
    ctx.shell = args.get("--shell")  # type: ignore[assignment]
    if ctx.shell is not None:
        from jenv.shells.base import canonical_name

        if canonical_name(ctx.shell) is None:
            return None  # docopt's front end reports the bad name
    handler = getattr(__import__(module, fromlist=[function]), function)
    use_light_core_guard(True)
    result: List[Optional[int]] = []
    code = run_reported(ctx, lambda: result.append(handler(args, ctx)) or 0, quiet_libraries=False)
    if result and result[0] is None:
        use_light_core_guard(False)
        return None
    return code if not result else int(result[0])  # type: ignore[arg-type]


def main(argv: Optional[Sequence[str]] = None, environ: Optional[Mapping[str, str]] = None, *,
         uid: Optional[int] = None, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
         clock: Optional[Callable[[], float]] = None) -> int:
    """The console script's entry point: the login forms here, the rest in :func:`jenv.cli.main`.

    Takes what :func:`jenv.cli.main` takes, so tests run either front end in-process alike.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    if stdout is None and hasattr(sys.stdout, "reconfigure"):
        # A path that is not UTF-8 (TMPDIR=$'/tmp/t\xff') came in as surrogate escapes: it goes back out
        # as the very same bytes for the shell to evaluate (as jenv.cli.main does).
        sys.stdout.reconfigure(errors="surrogateescape")
    context = {"environ": environ, "uid": uid, "stdout": stdout, "stderr": stderr, "clock": clock}
    form = parse_fast(words)
    if form is not None:
        code = _run(form[0], form[1], context)
        if code is not None:
            return code
    from jenv.cli import main as full_main

    del context["environ"]
    return full_main(words, environ, **context)


def run_and_exit() -> None:
    """The command (bin/jenv, python -m jenv): :func:`main`, then exit without the interpreter's teardown.

    Tearing down cryptography, websockets and the rest costs a slow command about 25 ms, and nothing
    jenv needs happens there: every file is closed where it is written, temporary files are removed
    in ``finally`` blocks, no thread is left running, and the one exit handler the libraries register
    (logging's) has no handler of jenv's to flush.  Only the two streams are flushed here.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (jenv ... | head)
        code = code or 1
    except OSError:
        pass
    os._exit(code)
