"""Shell output: one description of exports, rendered for each shell family.

Public API (used by ``jenv token``, ``token-destroy``, ``user``, ``status``)::

    render_exports("zsh", {"JALIEN_TOKEN_CERT": "/tmp/tokencert_1000.pem", "OLD": None})
    pick_shell(ctx.shell, ctx.environ) -> ShellChoice(name, family, how)

What every command that hands out the token prints (``jenv token``, ``token-destroy``, ``user``,
``export`` and the login hook) is :func:`render_token_exports` / :func:`render_token_unset`: a change to
what they print is made here (here rather than in a module of its own: ``jenv token`` imports this
package anyway, and a login pays for every module).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path imports this package: no typing at run time
    from typing import Dict, List, Mapping, Optional

from jenv.errors import UsageError
from jenv.locations import JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY
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
    "token_json",
    "render_token_exports",
    "render_token_unset",
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


def token_json(cert: Optional[str], key: Optional[str], **extra) -> str:
    """The one JSON shape of token exports, the reference documentation's (null: none)."""
    import json

    from jenv.lite.schema import document

    return json.dumps(document("token", {"results": [dict({"tokencert": cert, "tokenkey": key}, **extra)]}))


def render_token_exports(shell: str, cert: str, key: str, extra: Optional[Mapping[str, str]] = None) -> str:
    """The token's exports in ``shell``'s syntax (a name of :data:`jenv.shells.SHELL_NAMES`), or the reference
    document's JSON for "json"; ``extra`` adds variables (the CA store's) to the exports, not to the JSON.
    Raises what :func:`jenv.shells.render_exports` raises for a value the shell cannot carry."""
    if shell == "json":
        return token_json(cert, key)
    return render_exports(shell, dict({JALIEN_TOKEN_CERT: cert, JALIEN_TOKEN_KEY: key}, **(extra or {}))).rstrip("\n")


def render_token_unset(shell: str, removed: List[str]) -> str:
    """What token-destroy prints: the lines that unset the token variables, or the JSON naming the files
    ``removed``."""
    if shell == "json":
        return token_json(None, None, removed=removed)
    return render_exports(shell, {JALIEN_TOKEN_CERT: None, JALIEN_TOKEN_KEY: None}).rstrip("\n")
