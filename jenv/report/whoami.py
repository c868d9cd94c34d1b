"""What ``jenv whoami`` says: who the token in use makes you, as JSON and as lines for people.

Light (``MY_USER=$(jenv whoami -q)`` runs on the login path): no typing, no cryptography.
"""

from __future__ import annotations

from jenv.lite.identity import TokenIdentity, expected_account
from jenv.lite.timefmt import format_duration, iso_epoch
from jenv.lite.validity import date_state
from jenv.locations import Location
from jenv.report.sources import describe_source, source_dict

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the fast path: no typing
    from typing import Any, Dict

__all__ = ["whoami_dict", "whoami_json", "whoami_lines"]

_WIDTH = 14


def whoami_dict(identity: TokenIdentity, subject: str, not_before: int, not_after: int, loc: Location,
                now: float) -> Dict[str, Any]:
    """Everything ``jenv whoami --json`` prints."""
    left = int(not_after - now)
    job = None
    if identity.token_type == "job":
        job = {"extension": identity.job_extension, "fields": dict(identity.job_fields)}
    return {
        "user": identity.user,
        "role": identity.role,
        "token_type": identity.token_type,
        "hostname": identity.hostname,
        "job": job,
        "subject": subject,
        "not_before": iso_epoch(not_before),
        "not_after": iso_epoch(not_after),
        "state": date_state(not_before, not_after, now),
        "seconds_left": left,
        "time_left": format_duration(left) if left > 0 else "0m 00s",
        "token": source_dict(loc),
        "expected_account": expected_account(identity.token_type, identity.user or ""),
    }


def whoami_lines(data: Dict[str, Any], loc: Location) -> "list[str]":
    """The human form of :func:`whoami_dict`."""
    def row(label: str, value: object) -> str:
        return f"{label:<{_WIDTH}}{value}"

    lines = []
    if data["user"] is not None:
        lines.append(row("user", data["user"]))
    if data["role"] is not None:
        lines.append(row("role", data["role"]))
    lines.append(row("token type", data["token_type"]))
    if data["hostname"] is not None:
        lines.append(row("host", data["hostname"]))
    if data["job"] is not None:
        lines.append(row("job", data["job"]["extension"]))
        lines += [row(name, value) for name, value in data["job"]["fields"].items()]
    lines.append(row("subject", data["subject"]))
    lines.append(row("not after", data["not_after"]))
    state = data["state"]
    lines.append(row("time left", f"{data['time_left']} (valid)" if state == "valid" else state.upper()))
    lines.append(row("token", describe_source(loc)))
    if data["expected_account"] is not None:
        lines.append(row("new tokens", f"{data['expected_account']}'s only ('jenv token-destroy' first to change "
                                       "account)"))
    return lines


def whoami_json(data: Dict[str, Any]) -> str:
    """``jenv whoami --json``: :func:`whoami_dict` as the versioned document."""
    import json

    from jenv.lite.schema import document

    return json.dumps(document("whoami", data), indent=2)
