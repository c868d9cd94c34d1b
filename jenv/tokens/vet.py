"""The check of a token JCentral sent, before anything touches the token files.

A token is what every later connection presents, and jenv reuses it until
it expires, so a bad one costs the user their grid access silently.  It is
written only when it is a token for what was asked.  The reply's PEM text
(:mod:`jenv.jcentral.protocol` only takes it out of the JSON) is parsed here,
once, and every check runs on that:

1. the one judge of a token pair (:mod:`jenv.tokens.judge`) reads it as every
   later reader will: one plain certificate block and one key, the
   certificate read alike by cryptography and OpenSSL, and the pair loaded by
   OpenSSL as a TLS client loads it (the key belongs to the certificate); a
   signature made with the key and checked with the certificate proves its
   private half too (OpenSSL compares the public halves only);
2. OpenSSL verifies it against the CA store that vouched for the server
   (:mod:`jenv.ca.verify`), and it is not itself one of the store's CAs;
3. it is not a CA (no basicConstraints CA:TRUE, no keyCertSign);
4. its subject has JAliEn's shape for the requested type, with the
   requested role, user, job id or host name (:mod:`jenv.jcentral.rules`);
   a user token is the requester's own account: the account of the token in
   use, when there is one (:func:`jenv.jcentral.rules.account_problem`);
5. its validity is no longer than JCentral grants any requester for the
   request (:func:`jenv.jcentral.rules.granted_days`), plus the 2-hour backdating.

An unusable certificate or key is an InvalidInputError (exit 4); any other
failure is a VerifyError (exit 6), each one line saying what was wrong, that
nothing was written and, when the run would have replaced a token, that the
previous one is unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from cryptography import x509

from jenv.errors import InvalidInputError, VerifyError
from jenv.locations import CAStore
from jenv.pem import grid_dn, key_signs_for, parse_private_key, validity_bounds
from jenv.jcentral.protocol import TokenPair, TokenRequest
from jenv.jcentral.rules import BACKDATE_SECONDS, account_problem, granted_days, subject_problem
from jenv.lite.pemtext import blocks
from jenv.ca.verify import verify_certificate
from jenv.tokens.judge import judge_pair_parsed

__all__ = ["vet_token", "read_sent_token", "TOLERANCE_SECONDS"]

#: Slack for the time between JCentral's two "now"s and for rounding.
TOLERANCE_SECONDS = 300

_WHAT = "the token certificate JCentral sent"
_KEY = "the token key JCentral sent"


def _unwritten(previous: bool) -> str:
    """What the refusal left as it was: nothing written and, when there is one, the previous token."""
    return "nothing was written, the previous token is unchanged" if previous else "nothing was written"


def _refuse(why: str, previous: bool) -> VerifyError:
    return VerifyError(f"JCentral sent a token that {why}; {_unwritten(previous)}")


def read_sent_token(pair: TokenPair, previous: bool = False) -> TokenPair:
    """``pair`` with its certificate parsed, once, by the one judge (step 1 of the module doc).

    ``previous``: the run would replace a token that is in the files (the messages say it is unchanged).
    Raises InvalidInputError (the certificate or the key is unusable, the key is encrypted) and VerifyError
    (more than one PEM block in either, the key does not belong to the certificate).
    """
    cert_pem, key_pem = (text.encode("ascii", "replace") for text in (pair.cert_pem, pair.key_pem))
    counts = (len(blocks(cert_pem)), len(blocks(key_pem)))
    if max(counts) > 1:  # one certificate and one key, or later readers may each pick another block
        raise VerifyError(f"JCentral sent a token with {counts[0]} certificate and {counts[1]} key PEM blocks, "
                          f"not one of each; {_unwritten(previous)}")
    cert, verdict = judge_pair_parsed(cert_pem, key_pem)
    if cert is None or verdict.pair == "broken-cert":
        raise InvalidInputError(f"{_WHAT} {verdict.detail}; {_unwritten(previous)}")
    if verdict.pair == "broken-key" and verdict.detail.startswith("is encrypted"):
        raise InvalidInputError(f"JCentral sent an encrypted token key; {_unwritten(previous)}")
    if verdict.pair == "broken-key":
        raise InvalidInputError(f"{_KEY} {verdict.detail}; {_unwritten(previous)}")
    # Not primality-tested (cryptography's consistency check is the costliest step of token-init): a
    # signature checked with the certificate proves the private half works for it instead.
    if verdict.pair == "mismatch" or not key_signs_for(cert, parse_private_key(key_pem, _KEY, own_key=True)):
        raise VerifyError(f"JCentral sent a token whose key does not match its certificate; {_unwritten(previous)}")
    return dataclasses.replace(pair, cert=cert)


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


def vet_token(pair: TokenPair, request: TokenRequest, store: CAStore, account: Optional[str] = None,
              previous: bool = False) -> Tuple[TokenPair, Tuple[str, ...]]:
    """Raise unless ``pair`` is a token JCentral could have issued for ``request`` from the requester whose
    token in use is of the account ``account`` (None: no such token); ``previous``: the run would replace
    a token that is in the files.

    Returns the pair with its certificate parsed (``TokenPair.cert``, for the later steps), and the
    verification's warnings (a CRL of the chain past its next update, JENV_CRL=warn), for stderr.
    InvalidInputError (exit 4) for an unusable certificate or key, VerifyError (exit 6) for the rest.
    """
    pair = read_sent_token(pair, previous)
    cert = pair.cert
    assert cert is not None
    verdict = verify_certificate(pair.cert_pem.encode("ascii", "replace"), _WHAT, store)
    if not verdict.ok:
        raise _refuse(f"does not verify against the CA store {store.path}: {verdict.detail}", previous)
    if len(verdict.chain) < 2:
        raise _refuse(f"is itself a CA certificate of the store {store.path}", previous)
    try:
        problem = _ca_problem(cert)
    except ValueError:  # a malformed or duplicate extension
        raise _refuse("has malformed extensions", previous) from None
    if problem:
        raise _refuse(problem, previous)
    subject = grid_dn(cert.subject)
    problem = subject_problem(subject, request.token_type, request.username, request.jobid, request.hostname)
    if problem:
        raise _refuse(f"is not what was asked: {problem}", previous)
    problem = account_problem(subject, request.username, account) if request.token_type == "user" else None
    if problem:
        raise VerifyError(f"JCentral sent a token that is not yours: {problem}; {_unwritten(previous)} (to change "
                          "account on purpose, run 'jenv token-destroy' first)")
    not_before, not_after = validity_bounds(cert)
    days = granted_days(request.token_type, request.validity_days, None).days  # the longest anyone gets: an admin's
    span = not_after - not_before
    if span > days * 86400 + BACKDATE_SECONDS + TOLERANCE_SECONDS:
        raise _refuse(f"is valid for {span // 86400} days, longer than JCentral gives a {request.token_type} "
                      f"token ({days} days)", previous)
    return pair, tuple(verdict.warnings)
