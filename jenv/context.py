"""The run context handed to every command: environment, identity, streams, global flags.

``cli.main`` builds it once from the real process (or from a test's dict); no
module reads ``os.environ`` on its own.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Mapping, Optional, TextIO

__all__ = ["Context", "printable"]


def printable(text: str) -> str:
    """One line, safe for a terminal: control characters (a newline, an escape
    sequence from a hostile variable or server message) are shown as \\xNN."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass
class Context:
    environ: Mapping[str, str]
    uid: int
    home: str
    json: bool = False
    shell: Optional[str] = None
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    @classmethod
    def from_process(cls, environ: Optional[Mapping[str, str]] = None) -> "Context":
        env = dict(os.environ if environ is None else environ)
        uid = os.getuid()
        home = env.get("HOME") or os.path.expanduser("~")
        return cls(environ=env, uid=uid, home=home)

    def out(self, text: str = "") -> None:
        """Write a line to stdout (machine-readable output and exports only)."""
        self.stdout.write(text + "\n")

    def err(self, text: str = "") -> None:
        """Write lines for humans to stderr, control characters made visible."""
        self.stderr.write("\n".join(printable(line) for line in text.split("\n")) + "\n")
        self.stderr.flush()
