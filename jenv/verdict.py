"""The verdict of a chain verification: shared by the full and the fast verifier.

Kept apart from :mod:`jenv.cachain` (which needs ``cryptography``) so that
the fast path (:mod:`jenv.fastverify`) and the report of ``cert-verify`` can
build and print a verdict without importing ``cryptography``.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, Tuple

__all__ = ["Reason", "Verdict", "verified", "MAX_DEPTH"]

#: OpenSSL's default maximum chain depth is 100; grid chains are 2-4 long.
MAX_DEPTH = 32


class Reason(str, enum.Enum):
    """Why a certificate does (not) verify; the value is the text jenv prints."""

    OK = "ok"
    UNKNOWN_ISSUER = "unknown issuer"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    BAD_SIGNATURE = "bad signature"
    CA_EXPIRED = "expired CA"
    CA_NOT_YET_VALID = "CA not yet valid"
    INVALID_CA = "invalid CA"
    PATH_TOO_LONG = "path length exceeded"
    UNHANDLED_CRITICAL = "unhandled critical extension"


class Verdict(NamedTuple):
    """The result of a verification.

    ``chain`` lists grid DNs from the certificate up to the last CA found;
    ``depth`` is the chain position the reason applies to (0 = the
    certificate itself); ``detail`` is one human sentence.
    """

    ok: bool
    reason: Reason
    detail: str
    chain: Tuple[str, ...]
    depth: int = 0


def verified(chain: Tuple[str, ...]) -> Verdict:
    """The good verdict for a chain of grid DNs (certificate first, trust anchor last)."""
    return Verdict(ok=True, reason=Reason.OK, detail=f"{chain[0]} verifies against the CA store", chain=chain)
