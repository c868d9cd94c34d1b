"""JSON: ``{"NAME": "value", "OTHER": null}`` (null means unset), for scripts and jq."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional

from jenv.shells.base import Emitter, ShellFamily, check_name

__all__ = ["JsonEmitter"]


class JsonEmitter(Emitter):
    family = ShellFamily.JSON

    def quote(self, value: str) -> str:
        import json  # only here: the login fast path never renders JSON

        return json.dumps(value)

    def render(self, exports: Mapping[str, Optional[str]], shell: str) -> str:
        import json

        for name in exports:
            check_name(name, shell)
        return json.dumps(dict(exports), indent=2) + "\n"
