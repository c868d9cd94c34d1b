"""The one description every emitter renders: set these variables, unset those.

``Exports`` maps a variable name to its value, or to ``None`` for "unset"
(direnv's ``ShellExport``).  Each shell family is a small :class:`Emitter`
subclass that only knows how to quote a value and how to spell one export or
unset statement; :meth:`Emitter.render` checks the names and joins the lines.
"""

from __future__ import annotations

from jenv.errors import InvalidInputError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path renders exports: no typing, enum or re at run time
    from typing import Dict, Mapping, Optional

__all__ = ["ShellFamily", "SHELL_FAMILIES", "SHELL_NAMES", "canonical_name",
           "Emitter", "check_name"]

if TYPE_CHECKING:
    #: Variable name -> value, or None to unset it.
    Exports = Dict[str, Optional[str]]


class ShellFamily:
    """Shells that share one output syntax (plain strings, compared with ``is`` or ``==``)."""

    POSIX = "posix"
    FISH = "fish"
    CSH = "csh"
    JSON = "json"
    ENV = "env"


#: Every name accepted by ``--shell`` -> its family.
SHELL_FAMILIES = {
    "sh": ShellFamily.POSIX,
    "bash": ShellFamily.POSIX,
    "zsh": ShellFamily.POSIX,
    "ksh": ShellFamily.POSIX,
    "dash": ShellFamily.POSIX,
    "fish": ShellFamily.FISH,
    "tcsh": ShellFamily.CSH,
    "csh": ShellFamily.CSH,
    "json": ShellFamily.JSON,
    "json-vars": ShellFamily.JSON,
    "env": ShellFamily.ENV,
}
SHELL_NAMES = tuple(SHELL_FAMILIES)

#: Other names a detected process or $SHELL may have -> the name jenv uses.
_OTHER_NAMES = {"ksh93": "ksh", "mksh": "ksh", "pdksh": "ksh", "oksh": "ksh", "ash": "sh",
                "yash": "sh", "posh": "sh", "busybox": "sh"}


def canonical_name(raw: str) -> Optional[str]:
    """A shell name from SHELL_NAMES for a process name or path, else None.

    Strips the path and the leading '-' of a login shell ("-/bin/bash" -> "bash").
    """
    name = raw.strip().rsplit("/", 1)[-1].lstrip("-").lower()
    name = _OTHER_NAMES.get(name, name)
    return name if name in SHELL_FAMILIES else None

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_REST = _NAME_START | frozenset("0123456789")


def check_name(name: str, shell: str) -> None:
    """Raise InvalidInputError unless ``name`` is a portable environment variable name
    (``[A-Za-z_][A-Za-z0-9_]*``)."""
    if not name or name[0] not in _NAME_START or not all(char in _NAME_REST for char in name):
        raise InvalidInputError(
            f"cannot export {name!r} in {shell}: a variable name is letters, digits and '_'")


class Emitter:
    """Renders exports for one shell family; subclasses set ``family`` and the three spellings."""

    family = ShellFamily.POSIX

    def quote(self, value: str) -> str:
        """The value as one word of this shell, read back byte for byte."""
        raise NotImplementedError

    def export(self, name: str, value: str) -> str:
        """One statement (ending in ';') that sets and exports ``name``."""
        raise NotImplementedError

    def unset(self, name: str) -> str:
        """One statement (ending in ';') that removes ``name`` from the environment."""
        raise NotImplementedError

    def check_value(self, name: str, value: str, shell: str) -> None:
        """Raise InvalidInputError when this shell cannot carry ``value`` exactly."""
        if "\0" in value:
            raise InvalidInputError(
                f"cannot export {name} in {shell}: the value contains a NUL byte, "
                "which no environment variable can hold")

    def render(self, exports: Mapping[str, Optional[str]], shell: str) -> str:
        """All statements, one per line, ending in a newline ('' when there is nothing to do).

        Raises InvalidInputError naming the variable and the shell when a name is
        not a variable name or a value cannot be carried by ``shell``.
        """
        lines = []
        for name, value in exports.items():
            check_name(name, shell)
            if value is None:
                lines.append(self.unset(name))
            else:
                self.check_value(name, value, shell)
                lines.append(self.export(name, value))
        return "".join(line + "\n" for line in lines)
