"""POSIX shells (sh, dash, bash, zsh, ksh): ``export NAME='value';``.

Single quotes carry every byte but NUL literally in all of them, including
newlines, ``!`` (history expansion never applies to ``eval``'d text) and
non-ASCII text; a single quote is written as ``'"'"'``.  Values made only
of safe characters stay unquoted, so a plain path also survives the unquoted
``eval $(jenv token)`` form.  This is exactly :func:`shlex.quote` (a unit
test compares the two on arbitrary text), without the ``re`` import that
``shlex`` costs the login fast path.
"""

from __future__ import annotations

from jenv.shells.base import Emitter, ShellFamily

__all__ = ["PosixEmitter", "posix_quote"]

#: Characters that need no quoting (shlex's ``[\w@%+=:,./-]`` in ASCII).
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-")


def posix_quote(value: str) -> str:
    """``value`` as one word of any POSIX shell."""
    if not value:
        return "''"
    if all(char in _SAFE for char in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


class PosixEmitter(Emitter):
    family = ShellFamily.POSIX

    def quote(self, value: str) -> str:
        return posix_quote(value)

    def export(self, name: str, value: str) -> str:
        return f"export {name}={self.quote(value)};"

    def unset(self, name: str) -> str:
        return f"unset {name};"
