"""Shell output: one description of exports, rendered for each shell family.

Public API (used by ``jenv token``, ``token-destroy``, ``user``, ``status``)::

    render_exports("zsh", {"JALIEN_TOKEN_CERT": "/tmp/tokencert_1000.pem", "OLD": None})
    pick_shell(ctx.shell, ctx.environ) -> ShellChoice(name, family, how)
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional

from jenv.errors import UsageError
from jenv.shells.base import (SHELL_FAMILIES, SHELL_NAMES, Emitter, Exports, ShellFamily,
                              canonical_name)
from jenv.shells.csh import CshEmitter
from jenv.shells.envfile import EnvFileEmitter
from jenv.shells.detect import ShellChoice, detect_parent_shell, pick_shell
from jenv.shells.fish import FishEmitter
from jenv.shells.json import JsonEmitter
from jenv.shells.posix import PosixEmitter

__all__ = [
    "Exports",
    "ShellFamily",
    "ShellChoice",
    "SHELL_NAMES",
    "SHELL_FAMILIES",
    "canonical_name",
    "emitter_for",
    "render_exports",
    "quote_value",
    "pick_shell",
    "detect_parent_shell",
]

_EMITTERS: Dict[ShellFamily, Emitter] = {
    ShellFamily.POSIX: PosixEmitter(),
    ShellFamily.FISH: FishEmitter(),
    ShellFamily.CSH: CshEmitter(),
    ShellFamily.JSON: JsonEmitter(),
    ShellFamily.ENV: EnvFileEmitter(),
}


def emitter_for(shell_name: str) -> Emitter:
    """The emitter of a shell from SHELL_NAMES; UsageError for any other name."""
    family = SHELL_FAMILIES.get(shell_name)
    if family is None:
        raise UsageError(f"unknown shell {shell_name!r}: use one of " + " ".join(SHELL_NAMES))
    return _EMITTERS[family]


def render_exports(shell_name: str, exports: Mapping[str, Optional[str]]) -> str:
    """Statements that set (value) or unset (None) each variable in ``shell_name``'s syntax.

    Returns the text to print on stdout: one statement per line, each ending in
    ';' (a JSON object for "json"); '' when ``exports`` is empty.  Raises
    UsageError for an unknown shell and InvalidInputError, naming the variable
    and the shell, when a name is invalid or the shell cannot carry a value
    exactly (a newline in csh/tcsh, NUL anywhere).
    """
    return emitter_for(shell_name).render(exports, shell_name)


def quote_value(shell_name: str, value: str) -> str:
    """``value`` as one word of ``shell_name`` (for snippets built around a path)."""
    emitter = emitter_for(shell_name)
    emitter.check_value("value", value, shell_name)
    return emitter.quote(value)
