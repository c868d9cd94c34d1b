"""csh and tcsh: ``setenv NAME 'value';``.

Verified against tcsh 6.24 (interactive, script, ``source`` and
``eval "`...`"``):

* history substitution runs even inside single quotes and inside ``eval``, so
  every ``!`` is written outside the quotes as ``\\!``.  Backslashes are
  otherwise literal inside single quotes, but the history scanner pairs a
  backslash with the next character, so a backslash right before an escaped
  ``!`` must end a quoted segment: ``a\\!b`` becomes ``'a\\'\\!'b'``;
* a single quote is written ``'\\''``;
* a newline cannot be carried: csh splits backquote output into words at
  newlines and ``eval`` joins them with spaces, so a value with a newline is
  refused (InvalidInputError) instead of arriving changed.
"""

from __future__ import annotations

from jenv.errors import InvalidInputError
from jenv.shells.base import Emitter, ShellFamily

__all__ = ["CshEmitter"]


def _quote_segment(text: str) -> str:
    if not text:
        return ""
    return "'" + text.replace("'", "'\\''") + "'"


class CshEmitter(Emitter):
    family = ShellFamily.CSH

    def quote(self, value: str) -> str:
        if not value:
            return "''"
        return "\\!".join(_quote_segment(part) for part in value.split("!"))

    def export(self, name: str, value: str) -> str:
        return f"setenv {name} {self.quote(value)};"

    def unset(self, name: str) -> str:
        return f"unsetenv {name};"

    def check_value(self, name: str, value: str, shell: str) -> None:
        super().check_value(name, value, shell)
        if "\n" in value:
            raise InvalidInputError(
                f"cannot export {name} in {shell}: the value contains a newline, which "
                f"{shell} cannot carry (PEM content: use a path, or bash/zsh/fish)")
