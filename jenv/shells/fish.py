"""fish: ``set -gx NAME 'value';``.

Inside fish single quotes only ``\\`` and ``\\'`` are escapes; a newline is
literal, so multi-line PEM content works.  The output is meant for
``jenv token | source`` or ``eval (jenv token)``; the trailing ``;`` keeps the
latter working, since ``eval`` joins the lines of a command substitution with
spaces.
"""

from __future__ import annotations

from jenv.shells.base import Emitter, ShellFamily

__all__ = ["FishEmitter"]


class FishEmitter(Emitter):
    family = ShellFamily.FISH

    def quote(self, value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def export(self, name: str, value: str) -> str:
        return f"set -gx {name} {self.quote(value)};"

    def unset(self, name: str) -> str:
        return f"set -e {name};"
