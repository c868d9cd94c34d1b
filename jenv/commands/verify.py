"""cert-verify and token-verify: does the certificate verify against the CA store?

The verdict is what the user asked for, so it goes to stdout (text or JSON)
whether it is good or bad; a failure is then reported on stderr as one line
with the fix, and the exit code says which kind of failure it was.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

from jenv.context import Context
from jenv.credentials import describe_location, read_credential
from jenv.errors import ExitCode, NotValidNowError, VerifyError
from jenv.fastverify import verify_pem_certificate
from jenv.locations import CAStore, Location, resolve_ca_store, resolve_locations
from jenv.report import describe_source, source_dict, to_json
from jenv.verdict import Reason, Verdict

__all__ = ["cmd_cert_verify", "cmd_token_verify", "verdict_dict", "render_verdict"]

_FIXES = {
    Reason.UNKNOWN_ISSUER: "is the right CA store in use ('jenv ca-info')? 'jenv ca-fetch' installs the grid CAs",
    Reason.CA_EXPIRED: "run 'jenv ca-fetch' to update the CA certificates",
    Reason.CA_NOT_YET_VALID: "check the system clock",
    Reason.NOT_YET_VALID: "check the system clock",
    Reason.BAD_SIGNATURE: "the certificate is corrupt or forged: get it again from its issuer",
    Reason.INVALID_CA: "the chain passes through a certificate that is not a CA: get the certificate again",
    Reason.PATH_TOO_LONG: "the chain is longer than its CAs allow: get the certificate again",
    Reason.UNHANDLED_CRITICAL: "the certificate demands checks jenv and OpenSSL do not know: ask its issuer",
}


def _store_text(store: CAStore) -> str:
    var = store.source[4:] if store.source.startswith("env ") else None
    return f"{store.path} (from {var})" if var else f"{store.path} (default)"


def verdict_dict(verdict: Verdict, loc: Location, store: CAStore) -> Dict[str, Any]:
    """Every reported fact of a verification, for JSON."""
    data = source_dict(loc)
    data.update({
        "verified": verdict.ok,
        "reason": verdict.reason.value,
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
        return to_json(verdict_dict(verdict, loc, store))
    result = "OK" if verdict.ok else f"FAILED: {verdict.reason.value} ({verdict.detail})"
    lines: List[str] = [
        loc.what,
        f"  {'file' if loc.pem is None else 'content':<12}{describe_source(loc)}",
        f"  {'ca store':<12}{_store_text(store)}",
        f"  {'verify':<12}{result}",
    ]
    for depth, dn in enumerate(verdict.chain):
        label = "subject" if depth == 0 else "issued by"
        lines.append(f"  {label:<12}{dn}")
    return "\n".join(lines)


def _verify(ctx: Context, loc: Location) -> int:
    store = resolve_ca_store(ctx.environ, ctx.home)
    # The common good chain is decided without cryptography (whole-process time matters);
    # everything else, every failure included, comes from the full verification.
    verdict = verify_pem_certificate(read_credential(loc), describe_location(loc), store, time.time())
    ctx.out(render_verdict(verdict, loc, store, ctx.json))
    if verdict.ok:
        return ExitCode.OK
    message = f"{loc.describe()} does not verify: {verdict.reason.value}: {verdict.detail}"
    if verdict.reason is Reason.EXPIRED:
        renew = "run 'jenv token-init'" if loc.what.startswith("token") else "renew it with your CA"
        raise NotValidNowError(f"{message}; {renew}")
    if verdict.reason is Reason.NOT_YET_VALID:
        raise NotValidNowError(f"{message}; {_FIXES[verdict.reason]}")
    raise VerifyError(f"{message}; {_FIXES[verdict.reason]}")


def cmd_cert_verify(args, ctx: Context) -> int:
    """Verify the user certificate against the CA certificates.

    Usage:
      jenv cert-verify [--json]

    Options:
      --json  Print JSON.

    The CA store is X509_CERT_DIR, X509_CERT_FILE, ~/.globus/certificates,
    /cvmfs/alice.cern.ch/etc/grid-security/certificates or
    /etc/grid-security/certificates, the first that is set or exists.
    Exit 0 when it verifies; 6 when it does not (unknown issuer, bad
    signature, expired CA, invalid CA); 5 when the certificate itself is
    expired or not yet valid; 3 when the certificate or the CA store is
    missing; 4 when either is unusable.
    """
    return _verify(ctx, resolve_locations(ctx.environ, ctx.uid, ctx.home).user_cert)


def cmd_token_verify(args, ctx: Context) -> int:
    """Verify the token certificate against the CA certificates.

    Usage:
      jenv token-verify [--json]

    Options:
      --json  Print JSON.

    JALIEN_TOKEN_CERT may hold a path or the PEM content itself.  Exit codes
    as for cert-verify.
    """
    return _verify(ctx, resolve_locations(ctx.environ, ctx.uid, ctx.home).token_cert)
