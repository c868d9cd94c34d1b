"""What ``cert-verify`` and ``token-verify`` say: OpenSSL's verdict as text or JSON, and the fix."""

from __future__ import annotations

from typing import Any, Dict, List

from jenv.context import printable_lines
from jenv.ca.verify import EXPIRED, UNKNOWN_ISSUER, Verdict
from jenv.locations import CAStore, Location
from jenv.report.render import describe_source, source_dict, to_json

__all__ = ["verdict_dict", "render_verdict", "verdict_fix"]

# Advice by OpenSSL error number (openssl/x509_vfy.h); the reason itself is always OpenSSL's text.
_FIXES = {
    7: "the certificate is corrupt or forged: get it again from its issuer",  # signature failure
    8: "a CRL in the store has a bad signature: run 'jenv ca-fetch'",
    9: "check the system clock",  # not yet valid (a CA, when depth > 0)
    10: "run 'jenv ca-fetch' to update the CA certificates",  # expired CA (depth > 0)
    24: "the chain passes through a certificate that is not a CA: get the certificate again",
    79: "the chain passes through a certificate that is not a CA: get the certificate again",
    32: "the chain passes through a CA not allowed to sign certificates: get the certificate again",
    25: "the chain is longer than its CAs allow: get the certificate again",
    34: "the certificate demands checks OpenSSL does not know: ask its issuer",
}
_UNKNOWN_FIX = "is the right CA store in use ('jenv ca-info')? 'jenv ca-fetch' installs the grid CAs"


def verdict_fix(verdict: Verdict, what: str) -> str:
    """What the user can do about a failed verification of ``what``."""
    if verdict.code in UNKNOWN_ISSUER:
        return _UNKNOWN_FIX
    if verdict.code == EXPIRED and verdict.depth == 0:
        return "run 'jenv token-init'" if what.startswith("token") else "renew it with your CA"
    return _FIXES.get(verdict.code, "the certificate is not acceptable to OpenSSL: get it again from its issuer")


def _store_text(store: CAStore) -> str:
    var = store.variable
    return f"{store.path} (from {var})" if var else f"{store.path} (default)"


def verdict_dict(verdict: Verdict, loc: Location, store: CAStore) -> Dict[str, Any]:
    """Every reported fact of a verification, for JSON."""
    data = source_dict(loc)
    data.update({
        "verified": verdict.ok,
        "openssl_error": None if verdict.ok else verdict.code,
        "openssl_message": None if verdict.ok else verdict.message,
        "detail": verdict.detail,
        "depth": verdict.depth,
        "subject": verdict.chain[0] if verdict.chain else None,
        "chain": list(verdict.chain),
        "ca_store": {"path": store.path, "kind": store.kind, "source": store.source},
    })
    return data


def render_verdict(verdict: Verdict, loc: Location, store: CAStore, as_json: bool = False) -> str:
    """The cert-verify/token-verify output (JSON or text, no trailing newline)."""
    if as_json:
        from jenv.lite.schema import document

        return to_json(document("verify", verdict_dict(verdict, loc, store)))
    result = "OK" if verdict.ok else f"FAILED: {verdict.detail}"
    lines: List[str] = [
        loc.what,
        f"  {'file' if loc.pem is None else 'content':<12}{describe_source(loc)}",
        f"  {'ca store':<12}{_store_text(store)}",
        f"  {'verify':<12}{result}",
    ]
    for depth, dn in enumerate(verdict.chain):
        label = "subject" if depth == 0 else "issued by"
        lines.append(f"  {label:<12}{dn}")
    return printable_lines(lines)
