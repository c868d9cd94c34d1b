"""The one rule for "valid": a certificate's dates against the clock and the time it must still last.

Every command, the prompt and the login path call :func:`date_state` (standard library only: the
login path uses it).  The dates themselves always come from a library's parse of the certificate
(:mod:`jenv.tokens.judge`), or from the verdict remembered after one (:mod:`jenv.tokens.memo`).
"""

from __future__ import annotations

__all__ = ["VALID", "EXPIRING", "EXPIRED", "NOT_YET_VALID", "date_state"]

VALID = "valid"
EXPIRING = "about to expire"
EXPIRED = "expired"
NOT_YET_VALID = "not yet valid"


def date_state(not_before: float, not_after: float, now: float, min_valid: float = 0) -> str:
    """VALID, EXPIRING (fewer than ``min_valid`` seconds left), EXPIRED or NOT_YET_VALID at ``now``."""
    if now < not_before:
        return NOT_YET_VALID
    if now >= not_after:
        return EXPIRED
    if not_after - now < min_valid:
        return EXPIRING
    return VALID
