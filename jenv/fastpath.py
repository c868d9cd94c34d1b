"""The front door: the login forms parsed by hand, every other command line through docopt.

``jenv token`` (valid token), ``jenv token --check``, ``jenv prompt`` and
``jenv hook <shell>`` run at every login or prompt (and ``alien-token-info``,
``status`` and ``whoami`` in scripts and checks), so they start with
nothing loaded that they do not need: no docopt, typing, enum, re,
subprocess or cryptography (tests/unit/test_architecture.py blocks them).
This module recognises exactly their spellings, builds the same argument
dict docopt would, and calls the same command functions as :mod:`jenv.cli`
with ``Context.fast`` set.  Whenever a command needs more than a look at the
token files (a renewal, an error to report), it raises
:class:`jenv.context.SlowPath` before doing anything, and the command line
starts over in :func:`jenv.cli.main`: one behaviour, two entrances.
"""

from __future__ import annotations

import os
import sys

from jenv.context import Context, SlowPath, run_reported
from jenv.safefile import use_light_core_guard

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Mapping, Optional, Sequence, TextIO

__all__ = ["main", "parse_fast", "run_and_exit"]

#: command -> (module, function, options taking a value, flag options, may start over).  A command
#: that may not start over (hook: its watchdog and first lines are out) reports its own failures.
_FORMS = {
    "token": ("jenv.commands.tokens", "cmd_token", ("--shell", "--min-valid"), ("--json", "--check"), True),
    "prompt": ("jenv.commands.tokens", "cmd_prompt", ("--format", "--warn", "--min-valid"), (), True),
    "hook": ("jenv.commands.shell", "cmd_hook", (), (), False),
    "alien-token-info": ("jenv.commands.alien", "cmd_alien_token_info", (), (), True),  # O2's token check
    "status": ("jenv.commands.inspect", "cmd_status", (), ("--json",), True),
    "whoami": ("jenv.commands.whoami", "cmd_whoami", (), ("--json", "-q"), False),  # MY_USER=$(jenv whoami -q)
}
_ONE_DASH = {"-json": "--json", "-shell": "--shell"}


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
    """The command's exit code, or None when it must start over through docopt."""
    module, function, _valued, _flags, restartable = _FORMS[command]
    ctx = Context.from_process(**context)
    ctx.fast = True
    ctx.json = bool(args.get("--json"))
    ctx.shell = args.get("--shell")  # type: ignore[assignment]
    if ctx.shell is not None:
        from jenv.shells.base import canonical_name

        if canonical_name(ctx.shell) is None:
            return None  # docopt's front end reports the bad name
    handler = getattr(__import__(module, fromlist=[function]), function)
    use_light_core_guard(True)
    if not restartable:
        return run_reported(ctx, lambda: handler(args, ctx), quiet_libraries=False)
    try:
        return int(handler(args, ctx))
    except SlowPath:
        pass
    except Exception:  # noqa: BLE001 - nothing was done yet: the full front end starts over and reports it
        if ctx.environ.get("JENV_DEBUG"):
            raise
    use_light_core_guard(False)
    return None


def main(argv: Optional[Sequence[str]] = None, environ: Optional[Mapping[str, str]] = None, *,
         uid: Optional[int] = None, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
         clock: Optional[Callable[[], float]] = None) -> int:
    """The console script's entry point: the fast forms here, the rest in :func:`jenv.cli.main`.

    Takes what :func:`jenv.cli.main` takes, so tests run either front end in-process alike.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    context = {"environ": environ, "uid": uid, "stdout": stdout, "stderr": stderr, "clock": clock}
    form = parse_fast(words)
    if form is not None:
        try:
            code = _run(form[0], form[1], context)
        except KeyboardInterrupt:
            (stderr or sys.stderr).write("jenv: interrupted\n")
            return 130
        except BrokenPipeError:
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            return 1
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
