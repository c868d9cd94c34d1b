"""The check of a token JCentral sent, before anything touches the token files.

A token is what every later connection presents, and jenv reuses it until
it expires, so a bad one costs the user their grid access silently.  It is
written only when it is a token for what was asked:

1. OpenSSL verifies it against the CA store that vouched for the server
   (:mod:`jenv.ca.verify`), and it is not itself one of the store's CAs;
2. it is not a CA (no basicConstraints CA:TRUE, no keyCertSign);
3. its key matches (checked when the answer is read, :mod:`jenv.jcentral.protocol`);
4. its subject has JAliEn's shape for the requested type, with the
   requested role, user, job id or host name (:mod:`jenv.jcentral.rules`);
   a user token is the requester's own account: the account of the token in
   use, when there is one (:func:`jenv.jcentral.rules.account_problem`);
5. its validity is no longer than the type allows, plus the 2-hour backdating.

Any failure is a VerifyError (exit 6) with one line saying what was wrong.
"""

from __future__ import annotations

from typing import Optional, Tuple

from cryptography import x509

from jenv.errors import VerifyError
from jenv.locations import CAStore
from jenv.pem import grid_dn, parse_certificate, validity_bounds
from jenv.jcentral.protocol import TokenPair, TokenRequest
from jenv.jcentral.rules import BACKDATE_SECONDS, account_problem, granted_days, subject_problem
from jenv.ca.verify import verify_certificate

__all__ = ["vet_token", "TOLERANCE_SECONDS"]

#: Slack for the time between JCentral's two "now"s and for rounding.
TOLERANCE_SECONDS = 300

_WHAT = "the token certificate JCentral sent"


def _refuse(why: str) -> VerifyError:
    return VerifyError(f"JCentral sent a token that {why}; nothing was written, the previous token is unchanged")


def _extension(cert: x509.Certificate, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _ca_problem(cert: x509.Certificate) -> str:
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        return "is a CA certificate (basicConstraints CA:TRUE)"
    usage = _extension(cert, x509.KeyUsage)
    if usage is not None and usage.key_cert_sign:
        return "may sign certificates (keyUsage keyCertSign)"
    return ""


def vet_token(pair: TokenPair, request: TokenRequest, store: CAStore,
              account: Optional[str] = None) -> Tuple[str, ...]:
    """Raise VerifyError unless ``pair`` is a token JCentral could have issued for ``request`` from the
    requester whose token in use is of the account ``account`` (None: no such token).

    Returns the verification's warnings (a CRL of the chain past its next update, JENV_CRL=warn), for
    stderr.  InvalidInputError (exit 4) when the certificate cannot be parsed at all.
    """
    pem = pair.cert_pem.encode("ascii", "replace")
    verdict = verify_certificate(pem, _WHAT, store)
    if not verdict.ok:
        raise _refuse(f"does not verify against the CA store {store.path}: {verdict.detail}")
    if len(verdict.chain) < 2:
        raise _refuse(f"is itself a CA certificate of the store {store.path}")
    cert = pair.cert if pair.cert is not None else parse_certificate(pem, _WHAT)
    try:
        problem = _ca_problem(cert)
    except ValueError:  # a malformed or duplicate extension
        raise _refuse("has malformed extensions") from None
    if problem:
        raise _refuse(problem)
    problem = subject_problem(grid_dn(cert.subject), request.token_type, request.username, request.jobid,
                              request.hostname)
    if problem:
        raise _refuse(f"is not what was asked: {problem}")
    problem = account_problem(grid_dn(cert.subject), request.username, account) \
        if request.token_type == "user" else None
    if problem:
        raise VerifyError(f"JCentral sent a token that is not yours: {problem}; nothing was written, the previous "
                          "token is unchanged (to change account on purpose, run 'jenv token-destroy' first)")
    not_before, not_after = validity_bounds(cert)
    days = granted_days(request.token_type, request.validity_days, None).days  # the longest anyone gets: an admin's
    span = not_after - not_before
    if span > days * 86400 + BACKDATE_SECONDS + TOLERANCE_SECONDS:
        raise _refuse(f"is valid for {span // 86400} days, longer than JCentral gives a {request.token_type} "
                      f"token ({days} days)")
    return tuple(verdict.warnings)
