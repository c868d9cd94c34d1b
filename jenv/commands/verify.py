"""cert-verify and token-verify: does the certificate verify against the CA store?

The verdict is what the user asked for, so it goes to stdout (text or JSON)
whether it is good or bad; a failure is then reported on stderr as one line
with the fix, and the exit code says which kind of failure it was.
"""

from __future__ import annotations

from typing import Any, Dict, List

from jenv.context import Context
from jenv.credentials import describe_location, read_credential
from jenv.errors import ExitCode, InvalidInputError, NotValidNowError, VerifyError
from jenv.pem import parse_certificate
from jenv.locations import CAStore, Location, resolve_ca_store, resolve_locations
from jenv.report.render import describe_source, source_dict, to_json
from jenv.ca.verify import EXPIRED, NOT_YET_VALID, UNKNOWN_ISSUER, Verdict, verify_certificate

__all__ = ["cmd_cert_verify", "cmd_token_verify", "verdict_dict", "render_verdict", "verdict_fix"]

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
        return to_json(verdict_dict(verdict, loc, store))
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
    return "\n".join(lines)


def _refuse_unparsable(data: bytes, loc: Location, verdict: Verdict) -> None:
    """A certificate OpenSSL rejects and cryptography cannot even parse (a duplicate extension) is
    bad input (exit 4), not a verification result: say both what is wrong and what OpenSSL said."""
    try:
        parse_certificate(data, describe_location(loc))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc}: not a usable certificate (OpenSSL: {verdict.detail}); "
                                f"get it again from its issuer") from None


def _verify(ctx: Context, loc: Location) -> int:
    store = resolve_ca_store(ctx.environ, ctx.home)
    data = read_credential(loc)
    verdict = verify_certificate(data, describe_location(loc), store)
    if not verdict.ok:
        _refuse_unparsable(data, loc, verdict)
    ctx.out(render_verdict(verdict, loc, store, ctx.json))
    if verdict.ok:
        return ExitCode.OK
    message = f"{loc.describe()} does not verify: {verdict.detail}; {verdict_fix(verdict, loc.what)}"
    if verdict.depth == 0 and verdict.code in (EXPIRED, NOT_YET_VALID):
        raise NotValidNowError(message)
    raise VerifyError(message)


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
