"""env files: plain ``NAME=value`` lines for ``docker run --env-file`` and ``apptainer --env-file``.

docker takes everything after the first ``=`` literally, apptainer reads the file as shell
assignments; so a value is written only when both read it back unchanged: made of letters, digits
and ``_ . / : @ % + , = -`` (a path, normally).  Anything else (a space, a quote, ``$``, a newline of
PEM content) is refused with InvalidInputError rather than arrive changed.  An env file cannot unset
a variable, so unsetting is refused too.
"""

from __future__ import annotations

import re

from jenv.errors import InvalidInputError
from jenv.shells.base import Emitter, ShellFamily

__all__ = ["EnvFileEmitter"]

_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=-]*\Z")


class EnvFileEmitter(Emitter):
    family = ShellFamily.ENV

    def quote(self, value: str) -> str:
        return value

    def export(self, name: str, value: str) -> str:
        return f"{name}={value}"

    def unset(self, name: str) -> str:
        raise InvalidInputError(f"cannot unset {name} in an env file: use --shell with your shell's name")

    def check_value(self, name: str, value: str, shell: str) -> None:
        super().check_value(name, value, shell)
        if not _PLAIN.match(value):
            what = "a newline (PEM content: export to a directory instead)" if "\n" in value else \
                "characters docker and apptainer read differently (spaces, quotes, $, ...)"
            raise InvalidInputError(f"cannot write {name} to an env file: the value contains {what}; "
                                    "use a path made of letters, digits and _ . / : @ % + , = -")
