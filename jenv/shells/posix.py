"""POSIX shells (sh, dash, bash, zsh, ksh): ``export NAME='value';``.

Single quotes carry every byte but NUL literally in all of them, including
newlines, ``!`` (history expansion never applies to ``eval``'d text) and
non-ASCII text; a single quote is written as ``'"'"'`` by :func:`shlex.quote`.
Values made only of safe characters stay unquoted, so a plain path also
survives the unquoted ``eval $(jenv token)`` form.
"""

from __future__ import annotations

import shlex

from jenv.shells.base import Emitter, ShellFamily

__all__ = ["PosixEmitter"]


class PosixEmitter(Emitter):
    family = ShellFamily.POSIX

    def quote(self, value: str) -> str:
        return shlex.quote(value)

    def export(self, name: str, value: str) -> str:
        return f"export {name}={self.quote(value)};"

    def unset(self, name: str) -> str:
        return f"unset {name};"
