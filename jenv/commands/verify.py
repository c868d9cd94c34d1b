"""cert-verify and token-verify: does the certificate verify against the CA store?

The verdict is what the user asked for, so it goes to stdout (text or JSON)
whether it is good or bad; a failure is then reported on stderr as one line
with the fix, and the exit code says which kind of failure it was.
"""

from __future__ import annotations

from jenv.ca.verify import EXPIRED, NOT_YET_VALID, Verdict, verify_certificate
from jenv.context import Context
from jenv.credentials import describe_location, read_credential
from jenv.errors import ExitCode, InvalidInputError, NotValidNowError, VerifyError
from jenv.locations import Location, resolve_ca_store, resolve_locations
from jenv.pem import parse_certificate
from jenv.report.verify import render_verdict, verdict_fix

__all__ = ["cmd_cert_verify", "cmd_token_verify"]


def _refuse_unparsable(data: bytes, loc: Location, verdict: Verdict) -> None:
    """A certificate OpenSSL rejects and cryptography cannot even parse (a duplicate extension) is
    bad input (exit 4), not a verification result: say both what is wrong and what OpenSSL said."""
    try:
        parse_certificate(data, describe_location(loc))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc}: not a usable certificate (OpenSSL: {verdict.detail}); "
                                f"get it again from its issuer") from None


def _verify(ctx: Context, loc: Location, data: "bytes | None" = None) -> int:
    store = resolve_ca_store(ctx.environ, ctx.home)
    data = read_credential(loc) if data is None else data
    verdict = verify_certificate(data, describe_location(loc), store)
    if not verdict.ok:
        _refuse_unparsable(data, loc, verdict)
    for warning in verdict.warnings:
        ctx.err(f"jenv: warning: {warning}")
    ctx.report(render_verdict(verdict, loc, store, ctx.json), ctx.json)
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
    from jenv.tokens.check import read_token, token_store

    store = token_store(ctx)[1]
    return _verify(ctx, store.cert, read_token(store, ctx.clock()).cert_pem)
