"""Shell output: one description of exports, rendered for each shell family.

Public API (used by ``jenv token``, ``token-destroy``, ``user``, ``status``)::

    render_exports("zsh", {"JALIEN_TOKEN_CERT": "/tmp/tokencert_1000.pem", "OLD": None})
    pick_shell(ctx.shell, ctx.environ) -> ShellChoice(name, family, how)
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path imports this package: no typing at run time
    from typing import Dict, Mapping, Optional

from jenv.errors import UsageError
from jenv.shells.base import SHELL_FAMILIES, SHELL_NAMES, Emitter, ShellFamily, canonical_name
from jenv.shells.detect import ShellChoice, detect_parent_shell, pick_shell

__all__ = [
    "ShellFamily",
    "ShellChoice",
    "SHELL_NAMES",
    "SHELL_FAMILIES",
    "canonical_name",
    "emitter_for",
    "render_exports",
    "quote_value",
    "login_line",
    "pick_shell",
    "detect_parent_shell",
]

#: family -> (module, class): only the emitter a run needs is imported (the login prints one shell).
_EMITTER_CLASSES = {
    ShellFamily.POSIX: ("jenv.shells.posix", "PosixEmitter"),
    ShellFamily.FISH: ("jenv.shells.fish", "FishEmitter"),
    ShellFamily.CSH: ("jenv.shells.csh", "CshEmitter"),
    ShellFamily.JSON: ("jenv.shells.json", "JsonEmitter"),
    ShellFamily.ENV: ("jenv.shells.envfile", "EnvFileEmitter"),
}
_EMITTERS: Dict[str, Emitter] = {}


def emitter_for(shell_name: str) -> Emitter:
    """The emitter of a shell from SHELL_NAMES; UsageError for any other name."""
    family = SHELL_FAMILIES.get(shell_name)
    if family is None:
        raise UsageError(f"unknown shell {shell_name!r}: use one of " + " ".join(SHELL_NAMES))
    if family not in _EMITTERS:
        module, name = _EMITTER_CLASSES[family]
        _EMITTERS[family] = getattr(__import__(module, fromlist=[name]), name)()
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


def login_line(explicit: Optional[str], environ: Mapping[str, str], name: str, value: str) -> str:
    """The statement a user adds to the login file to set ``name``, in the syntax of their shell
    (--shell, else the shell running jenv, else $SHELL; POSIX when that is JSON)."""
    shell = pick_shell(explicit, environ).name
    if SHELL_FAMILIES[shell] == ShellFamily.JSON:
        shell = "sh"
    return render_exports(shell, {name: value}).strip().rstrip(";")


def quote_value(shell_name: str, value: str) -> str:
    """``value`` as one word of ``shell_name`` (for snippets built around a path)."""
    emitter = emitter_for(shell_name)
    emitter.check_value("value", value, shell_name)
    return emitter.quote(value)
