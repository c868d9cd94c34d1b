"""Times for people, from epoch seconds or durations (stdlib ``time`` only: the login fast path uses it)."""

from __future__ import annotations

import time

__all__ = ["format_duration", "short_duration", "iso_epoch", "validity_text"]


def format_duration(seconds: int) -> str:
    """'3d 4h 05m' style, for humans (whole seconds); negative durations get a leading '-'.

    The one spelling of a duration in jenv's messages and reports (``2678399`` -> ``30d 23h 59m``).
    """
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m {seconds % 60:02d}s"


def short_duration(seconds: int) -> str:
    """The two largest units of :func:`format_duration`: '12d 3h', '5h 07m', '4m 10s'."""
    return " ".join(format_duration(seconds).split()[:2])


def iso_epoch(seconds: float) -> str:
    """Epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


def validity_text(where: str, not_before: int, not_after: int, now: float, renew_hint: str) -> "str | None":
    """The one-line message when the certificate ``where`` is not valid at ``now`` (with the fix), else None."""
    if now < not_before:
        return (f"{where} is not yet valid: valid from {iso_epoch(not_before)} "
                f"(in {format_duration(int(not_before - now))}); check the system clock")
    if now >= not_after:
        return f"{where} expired {format_duration(int(now - not_after))} ago (not after {iso_epoch(not_after)}): " \
               f"{renew_hint}"
    return None
