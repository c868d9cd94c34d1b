"""Chain verification against the CA store, agreeing with ``openssl verify``.

The chain is built from the store the way OpenSSL's X509_verify_cert does
(trusted issuers first, by subject name, key identifiers and key type; a
time-valid candidate preferred), then checked in OpenSSL's order: CA
constraints bottom-up, then signature and validity of each certificate from
the trust anchor down.  The first problem is the verdict, so jenv names the
same reason ``openssl verify`` prints first.  Not checked, as in a plain
``openssl verify``: CRLs, policies, purposes, proxy certificates.
"""

from __future__ import annotations

import datetime as dt
from typing import List, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from jenv.castore import LoadedStore, name_key, open_ca_store
from jenv.locations import CAStore
from jenv.pem import grid_dn
from jenv.verdict import MAX_DEPTH, Reason, Verdict, verified

__all__ = ["Reason", "Verdict", "verify_certificate", "MAX_DEPTH"]


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _validity(cert: x509.Certificate) -> Tuple[dt.datetime, dt.datetime]:
    if hasattr(cert, "not_valid_after_utc"):  # cryptography >= 42
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    return _utc(cert.not_valid_before), _utc(cert.not_valid_after)


def _extension(cert: x509.Certificate, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def _key_ids_match(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    """X509_check_akid: the child's authority key id, when present, names this issuer."""
    akid = _extension(cert, x509.AuthorityKeyIdentifier)
    if akid is None:
        return True
    if akid.key_identifier is not None:
        skid = _extension(issuer, x509.SubjectKeyIdentifier)
        if skid is not None and skid.digest != akid.key_identifier:
            return False
    serial = akid.authority_cert_serial_number
    return serial is None or serial == issuer.serial_number


def _key_fits_signature(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    try:
        key = issuer.public_key()
        params = cert.signature_algorithm_parameters
    except (ValueError, UnsupportedAlgorithm):
        return False
    if isinstance(key, rsa.RSAPublicKey):
        return not isinstance(params, ec.ECDSA) and cert.signature_hash_algorithm is not None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return isinstance(params, ec.ECDSA)
    return params is None


def _likely_issued(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    """OpenSSL's check_issued: name (already matched), key identifiers, key type."""
    return _key_ids_match(issuer, cert) and _key_fits_signature(issuer, cert)


def _signature_ok(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    try:
        key = issuer.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, cert.signature_algorithm_parameters,
                       cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, cert.signature_algorithm_parameters)
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _in_time(cert: x509.Certificate, now: dt.datetime) -> bool:
    not_before, not_after = _validity(cert)
    return not_before <= now <= not_after


def _find_issuer(cert: x509.Certificate, pool: Sequence[x509.Certificate],
                 now: dt.datetime) -> Optional[x509.Certificate]:
    """X509_STORE_CTX_get1_issuer: the first time-valid candidate, else the latest-expiring one."""
    best = None
    for candidate in pool:
        if not _likely_issued(candidate, cert):
            continue
        if _in_time(candidate, now):
            return candidate
        if best is None or _validity(candidate)[1] > _validity(best)[1]:
            best = candidate
    return best


def _self_signed(cert: x509.Certificate) -> bool:
    return name_key(cert.issuer) == name_key(cert.subject) and _likely_issued(cert, cert)


def _build_chain(cert, store: LoadedStore, now, untrusted) -> Tuple[List[x509.Certificate], bool]:
    """The chain from ``cert`` upward, trusted CAs first; True when it ends at a store CA."""
    chain = [cert]
    while len(chain) <= MAX_DEPTH:
        top = chain[-1]
        issuer = _find_issuer(top, store.certificates_named(top.issuer), now)
        if issuer is not None:
            if _self_signed(top):
                # A self-signed certificate is replaced by its trusted twin (as OpenSSL does).
                chain[-1] = issuer
                return chain, True
            chain.append(issuer)
            if _self_signed(issuer):
                return chain, True
            continue
        if _self_signed(top):
            return chain, False
        key = name_key(top.issuer)
        issuer = _find_issuer(top, [c for c in untrusted if name_key(c.subject) == key and c not in chain], now)
        if issuer is None:
            return chain, False
        chain.append(issuer)
    return chain, False


def _ca_kind(cert: x509.Certificate) -> bool:
    """X509_check_ca (non-strict): may this certificate issue others?"""
    usage = _extension(cert, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        return False
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None:
        return constraints.ca
    if cert.version == x509.Version.v1 and _self_signed(cert):
        return True
    return usage is not None


#: Critical extensions cryptography does not parse but OpenSSL handles (RFC 3820 proxies, RFC 3779).
_HANDLED_UNPARSED = {"1.3.6.1.5.5.7.1.14", "1.3.6.1.5.5.7.1.7", "1.3.6.1.5.5.7.1.8"}


def _unhandled_critical(cert: x509.Certificate) -> bool:
    """A critical extension nobody here understands: RFC 5280 4.2 says reject the certificate."""
    try:
        extensions = list(cert.extensions)
    except ValueError:  # a malformed extension: not something to trust either
        return True
    return any(ext.critical and isinstance(ext.value, x509.UnrecognizedExtension)
               and ext.oid.dotted_string not in _HANDLED_UNPARSED for ext in extensions)


def _extension_problem(chain: List[x509.Certificate]) -> Optional[Tuple[Reason, int]]:
    """OpenSSL's check_chain_extensions: per certificate from the bottom, critical extensions, then CA rules."""
    issued_below = 0
    for depth, cert in enumerate(chain):
        if _unhandled_critical(cert):
            return Reason.UNHANDLED_CRITICAL, depth
        if depth == 0:
            continue
        if not _ca_kind(cert):
            return Reason.INVALID_CA, depth
        constraints = _extension(cert, x509.BasicConstraints)
        limit = constraints.path_length if constraints is not None else None
        if depth > 1 and limit is not None and issued_below > limit:
            return Reason.PATH_TOO_LONG, depth
        if name_key(cert.subject) != name_key(cert.issuer):
            issued_below += 1
    return None


def _time_problem(cert: x509.Certificate, depth: int, now: dt.datetime) -> Optional[Reason]:
    not_before, not_after = _validity(cert)
    if now < not_before:
        return Reason.CA_NOT_YET_VALID if depth else Reason.NOT_YET_VALID
    if now > not_after:
        return Reason.CA_EXPIRED if depth else Reason.EXPIRED
    return None


def _signature_problem(chain: List[x509.Certificate], now: dt.datetime) -> Optional[Tuple[Reason, int]]:
    """OpenSSL's internal_verify: from the trust anchor down, signature then validity of each."""
    for depth in range(len(chain) - 1, -1, -1):
        cert = chain[depth]
        if depth < len(chain) - 1 and not _signature_ok(chain[depth + 1], cert):
            return Reason.BAD_SIGNATURE, depth
        problem = _time_problem(cert, depth, now)
        if problem is not None:
            return problem, depth
    return None


def _explain(reason: Reason, chain: List[x509.Certificate], depth: int) -> str:
    cert = chain[depth]
    dn = grid_dn(cert.subject)
    if reason is Reason.UNKNOWN_ISSUER:
        return f"issuer {grid_dn(cert.issuer)} of {dn} is not in the CA store"
    if reason in (Reason.EXPIRED, Reason.CA_EXPIRED):
        return f"{dn} expired on {_validity(cert)[1]:%Y-%m-%d %H:%M:%S} UTC"
    if reason in (Reason.NOT_YET_VALID, Reason.CA_NOT_YET_VALID):
        return f"{dn} is not valid before {_validity(cert)[0]:%Y-%m-%d %H:%M:%S} UTC"
    if reason is Reason.BAD_SIGNATURE:
        return f"the signature on {dn} does not match the key of {grid_dn(chain[depth + 1].subject)}"
    if reason is Reason.INVALID_CA:
        return f"{dn} is not allowed to sign certificates (not a CA)"
    if reason is Reason.PATH_TOO_LONG:
        return f"{dn} allows fewer CAs below it than the chain has"
    if reason is Reason.UNHANDLED_CRITICAL:
        return f"{dn} has a critical extension that cannot be checked"
    return verified((grid_dn(chain[0].subject),)).detail


def verify_certificate(cert: x509.Certificate, store: Union[LoadedStore, CAStore], now: dt.datetime,
                       untrusted: Sequence[x509.Certificate] = ()) -> Verdict:
    """Verify ``cert`` against the CA store at time ``now`` (aware UTC), the way ``openssl verify`` does.

    Issuers come from the store (and from ``untrusted``, e.g. intermediates
    shipped with the certificate); the first problem found, in OpenSSL's
    order, is the verdict's reason.  Raises only what :func:`open_ca_store`
    raises when given a :class:`CAStore`.
    """
    loaded = open_ca_store(store) if isinstance(store, CAStore) else store
    chain, trusted = _build_chain(cert, loaded, now, untrusted)
    problem: Optional[Tuple[Reason, int]] = None
    if not trusted:
        problem = Reason.UNKNOWN_ISSUER, len(chain) - 1
    else:
        problem = _extension_problem(chain) or _signature_problem(chain, now)
    reason, depth = problem or (Reason.OK, 0)
    return Verdict(ok=problem is None, reason=reason, detail=_explain(reason, chain, depth),
                   chain=tuple(grid_dn(c.subject) for c in chain), depth=depth)
