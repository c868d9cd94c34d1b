"""Durations as people write them: ``--min-valid 2h`` in (out: :func:`jenv.lite.timefmt.format_duration`).

Stdlib only and import-light: the login fast path parses ``--min-valid``.
"""

from __future__ import annotations

__all__ = ["parse_duration", "DEFAULT_MIN_VALID"]

#: How long a token must still be valid to be reused (``--min-valid`` of token, prompt, export, exec, args;
#: the shells' own login decides with it too).
DEFAULT_MIN_VALID = "10m"

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400}


def parse_duration(text: str, option: str = "--min-valid") -> int:
    """Seconds in "600", "600s", "10m", "2h", "1d", "600 seconds", "2 hours".

    Raises :class:`jenv.errors.UsageError` naming ``option`` otherwise.
    """
    clean = text.strip().lower()
    digits = len(clean) - len(clean.lstrip("0123456789"))
    number, unit = clean[:digits], clean[digits:].strip()
    if unit.endswith("s") and len(unit) > 2 and unit[:-1] in _UNITS:  # "hours", not "ms"
        unit = unit[:-1]
    if not number or len(number) > 9 or (unit and unit not in _UNITS):
        from jenv.errors import UsageError

        raise UsageError(f"{option} {text!r}: give a duration such as 600, 10m, 2h or 1d")
    return int(number) * _UNITS[unit or "s"]

