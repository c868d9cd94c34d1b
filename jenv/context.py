"""The run context handed to every command: environment, identity, streams, global flags.

``cli.main`` builds it once from the real process (or from a test's dict); no
module reads ``os.environ`` on its own.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path: no typing at run time
    from typing import Callable, Iterable, Mapping, Optional, TextIO

__all__ = ["Context", "printable", "printable_lines", "run_reported"]


def printable(text: str) -> str:
    """One line, safe for a terminal: every character that is not printable (a newline, an escape
    sequence from a hostile certificate, variable or server message, a C1 control, a bidi override) is
    shown as its UTF-8 bytes in \\xNN form, as ``openssl x509 -nameopt compat`` shows them (ESC is \\x1B).
    The one escaping of text for humans: ``Context.err`` and ``Context.report`` both use it."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): that byte
        return f"\\x{code - 0xDC00:02X}"
    return "".join(f"\\x{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def printable_lines(lines: "Iterable[str]") -> str:
    """``lines`` joined for a terminal, each made :func:`printable` first (so a newline inside a
    certificate's name stays on its line, as \\x0A)."""
    return "\n".join(printable(line) for line in lines)


def _visible_lines(text: str) -> str:
    return printable_lines(text.split("\n"))


def run_reported(ctx: "Context", call: "Callable[[], int]", quiet_libraries: bool = True) -> int:
    """``call()``'s exit code, every failure turned into one stderr line and an exit code.

    The one place that decides what a failure looks like (both front ends use it): a JenvError is
    its message and code; Ctrl-C is 130; a reader that went away (``jenv ... | head``) is 1,
    silently; anything else is one "internal error" line (JENV_DEBUG=1 shows the traceback), never a
    traceback in a login shell.  With ``quiet_libraries``, library warnings stay off the terminal
    unless JENV_DEBUG is set (the fast path loads no library that warns, nor ``warnings``).
    """
    from jenv.errors import ExitCode, JenvError

    try:
        if not quiet_libraries:
            return int(call())
        import warnings

        with warnings.catch_warnings():
            if not ctx.environ.get("JENV_DEBUG"):
                # cryptography on serial number 0, pyOpenSSL deprecations: what matters is already
                # one of jenv's own lines.
                warnings.simplefilter("ignore")
            return int(call())
    except JenvError as exc:
        ctx.err(f"jenv: {printable(str(exc))}")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        ctx.err("jenv: interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return int(ExitCode.ERROR)
    except Exception as exc:  # the one broad catch: no traceback reaches a login shell
        if ctx.environ.get("JENV_DEBUG"):
            raise
        ctx.err(f"jenv: internal error (a bug in jenv): {type(exc).__name__}: {printable(str(exc))}; rerun with "
                "JENV_DEBUG=1 to see the traceback, and report it")
        return int(ExitCode.ERROR)


class Context:
    """Mutable run state: the front end sets ``json`` and ``shell`` from the options.

    A plain class, and NamedTuples for the values on the login fast path, not
    dataclasses: importing dataclasses pulls in inspect, about 7 ms of the
    budget of `jenv token` (see bench/run.py).
    """

    def __init__(self, environ: Mapping[str, str], uid: int, home: str, json: bool = False,
                 shell: Optional[str] = None, stdout: Optional[TextIO] = None,
                 stderr: Optional[TextIO] = None, clock: Optional[Callable[[], float]] = None) -> None:
        self.environ = environ
        self.uid = uid
        self.home = home
        self.json = json
        self.shell = shell
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        #: Seconds since the epoch, now (tests give their own clock).
        self.clock = clock or time.time

    @classmethod
    def from_process(cls, environ: Optional[Mapping[str, str]] = None, uid: Optional[int] = None,
                     stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
                     clock: Optional[Callable[[], float]] = None) -> "Context":
        """The real process's context; a test may give the environment, uid, streams and clock instead."""
        env = dict(os.environ if environ is None else environ)
        home = env.get("HOME") or os.path.expanduser("~")
        return cls(environ=env, uid=os.getuid() if uid is None else uid, home=home, stdout=stdout, stderr=stderr,
                   clock=clock)

    def now(self):
        """The clock as an aware UTC datetime."""
        import datetime as dt

        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)

    def out(self, text: str = "") -> None:
        """Write a line to stdout (machine-readable output and exports only)."""
        self.stdout.write(text + "\n")

    def report(self, text: str, as_json: bool = False) -> None:
        """Write a report to stdout: JSON as it is (``json.dumps`` escapes every control character), text
        for humans with the control characters of each line made visible (:func:`printable`)."""
        self.stdout.write((text if as_json else _visible_lines(text)) + "\n")

    def err(self, text: str = "") -> None:
        """Write lines for humans to stderr, control characters made visible."""
        self.stderr.write(_visible_lines(text) + "\n")
        self.stderr.flush()
