"""Certificate verification through OpenSSL's own path validation.

The chain is built and checked by OpenSSL's ``X509_verify_cert`` (through
pyOpenSSL's ``X509Store``/``X509StoreContext``): the code behind ``openssl
verify`` and behind the official client.  jenv computes no signature, builds
no chain and never decides whether a certificate may act as a CA; it only
hands OpenSSL the store the way ``openssl verify`` gets it (``-CApath`` for a
directory, looked up by subject hash by OpenSSL's own ``by_dir``; ``-CAfile``
for a bundle) and turns OpenSSL's answer into a :class:`Verdict` with
OpenSSL's own error number and text.  Before OpenSSL opens anything, every
``<hash>.N``/``<hash>.rN`` entry of a directory and the bundle are checked to
be regular files (a FIFO planted in the store would block OpenSSL for ever).

Revocation, only where a CRL exists (JENV_CRL): each certificate of the
verified chain whose issuer has a CRL in the store is checked by OpenSSL with
``X509_V_FLAG_CRL_CHECK``; a CA without a CRL changes nothing (unlike
``openssl verify -crl_check_all``, which refuses it: "unable to get
certificate CRL").
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from typing import NamedTuple, Optional, Sequence, Tuple

from OpenSSL import crypto

from jenv.ca.store import bundle_crl_issuers, check_store_entries, check_store_file, open_ca_store, store_has_crls
from jenv.errors import InvalidInputError
from jenv.locations import CRL_POLICIES, JENV_CRL, CAStore
from jenv.lite.names import DerError, cert_names, grid_dn, name_key, subject_hash
from jenv.pem import CERT_BEGIN, CERT_END, describe_non_certificate

__all__ = ["Verdict", "verify_certificate", "verify_server_chain", "load_openssl_store", "openssl_certificate",
           "UNKNOWN_ISSUER", "EXPIRED", "NOT_YET_VALID"]

# OpenSSL X509_V_ERR_* numbers jenv gives advice for (openssl/x509_vfy.h).
UNABLE_TO_GET_ISSUER, UNABLE_TO_GET_LOCAL_ISSUER = 2, 20
SELF_SIGNED, SELF_SIGNED_IN_CHAIN = 18, 19
NOT_YET_VALID, EXPIRED = 9, 10
CRL_HAS_EXPIRED = 12
CERT_REVOKED = 23
#: X509_V_FLAG_NO_CHECK_TIME (x509_vfy.h), which pyOpenSSL's X509StoreFlags does not name.
NO_CHECK_TIME = 0x200000

UNKNOWN_ISSUER = frozenset({UNABLE_TO_GET_ISSUER, UNABLE_TO_GET_LOCAL_ISSUER, SELF_SIGNED, SELF_SIGNED_IN_CHAIN})


class Verdict(NamedTuple):
    """What OpenSSL said about one certificate.

    ``code`` is OpenSSL's X509_V_ERR number (0 when verified), ``message`` its
    own text for it (``X509_verify_cert_error_string``), ``depth`` the chain
    position it applies to (0 = the certificate itself), ``subject`` the grid
    DN of the certificate at that depth.  ``chain`` lists grid DNs from the
    certificate to the trust anchor when verified, else the certificate and
    the one OpenSSL stopped at.  ``warnings`` are lines for stderr (a CRL
    past its next update under JENV_CRL=warn).
    """

    ok: bool
    code: int
    message: str
    depth: int
    subject: str
    chain: Tuple[str, ...]
    warnings: Tuple[str, ...] = ()

    @property
    def detail(self) -> str:
        """One sentence: OpenSSL's reason, where it applies, and to which certificate."""
        if self.ok:
            return f"{self.chain[0]} verifies against the CA store"
        return f"{self.message} (OpenSSL error {self.code} at depth {self.depth}: {self.subject})"


def _dn_of(cert: crypto.X509, which: int = 0) -> str:
    try:
        return grid_dn(cert_names(crypto.dump_certificate(crypto.FILETYPE_ASN1, cert))[which])
    except (DerError, crypto.Error):
        return "(a certificate whose name cannot be read)"


def openssl_certificate(data: bytes, what: str) -> crypto.X509:
    """The first PEM certificate of ``data`` as OpenSSL parses it; InvalidInputError when OpenSSL cannot."""
    if CERT_BEGIN not in data or CERT_END not in data:
        raise InvalidInputError(f"{what} {describe_non_certificate(data)}")
    try:
        return crypto.load_certificate(crypto.FILETYPE_PEM, data)
    except (crypto.Error, ValueError):
        raise InvalidInputError(f"{what} is not a usable certificate: OpenSSL cannot parse it "
                                f"(corrupt or truncated); get it again from its issuer") from None


def _names_of(cert: crypto.X509) -> Tuple[bytes, bytes]:
    """(subject, issuer) DER names; OpenSSL's own re-encoding where the DER reader cannot (BER input)."""
    try:
        return cert_names(crypto.dump_certificate(crypto.FILETYPE_ASN1, cert))
    except (DerError, crypto.Error):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyOpenSSL deprecates X509Name, not what it returns
            return cert.get_subject().der(), cert.get_issuer().der()


def load_openssl_store(store: CAStore) -> crypto.X509Store:
    """An OpenSSL X509_STORE over the CA store, as ``openssl verify -CApath``/``-CAfile`` sees it
    (with the CRLs of the bundle, or the directory's ``<hash>.rN`` CRLs looked up by OpenSSL).

    Raises what :func:`jenv.ca.store.open_ca_store` raises for a missing or
    unusable store, UnsafeFileError for a non-regular store file, and
    InvalidInputError when OpenSSL cannot read the bundle.
    """
    open_ca_store(store)
    x509_store = crypto.X509Store()
    if store.kind == "dir":
        # OpenSSL's own by_dir lookup (as -CApath), once no entry it may open can block it.
        check_store_entries(store)
        x509_store.load_locations(None, store.path)
        return x509_store
    check_store_file(store)
    try:
        x509_store.load_locations(store.path)
    except crypto.Error:
        raise InvalidInputError(f"CA bundle {store.path} holds a certificate OpenSSL cannot read: "
                                f"point it at a valid PEM bundle, or run 'jenv ca-fetch'") from None
    return x509_store


def _check(store: CAStore, target: crypto.X509, untrusted: Sequence[crypto.X509],
           now: Optional[dt.datetime], flags: int = 0):
    """One run of OpenSSL's X509_verify_cert: the verified chain, or the X509StoreContextError."""
    x509_store = load_openssl_store(store)
    if flags:
        x509_store.set_flags(flags)
    if now is not None:
        x509_store.set_time(now.astimezone(dt.timezone.utc).replace(tzinfo=None))
    context = crypto.X509StoreContext(x509_store, target, list(untrusted) or None)
    try:
        return context.get_verified_chain()
    except crypto.X509StoreContextError as exc:
        return exc


def _refusal(exc: crypto.X509StoreContextError, cert: crypto.X509, offset: int = 0,
             notes: Tuple[str, ...] = ()) -> Verdict:
    code, depth, message = exc.errors[0], exc.errors[1], exc.errors[2]
    failing = _dn_of(exc.certificate) if exc.certificate is not None else _dn_of(cert)
    depth = int(depth) + offset
    names = (_dn_of(cert),) if depth == 0 else (_dn_of(cert), failing)
    return Verdict(False, int(code), str(message), depth, failing, names, notes)


def has_crl(store: CAStore, name_der: bytes, bundle_issuers: frozenset = frozenset()) -> bool:
    """Whether the store holds a CRL issued by ``name_der``: a ``<hash>.r0`` file where OpenSSL's
    by_dir looks for it (one it cannot read counts, so that OpenSSL refuses it), or a CRL of the
    bundle (``bundle_issuers``, from :func:`jenv.ca.store.bundle_crl_issuers`)."""
    try:
        if store.kind == "dir":
            return os.path.isfile(os.path.join(store.path, f"{subject_hash(name_der)}.r0"))
        return name_key(name_der) in bundle_issuers
    except DerError:
        return False


def crl_policy(store: CAStore) -> str:
    """JENV_CRL as carried by the store: "warn", "require" or "ignore"; InvalidInputError for anything else."""
    if store.crl not in CRL_POLICIES:
        raise InvalidInputError(f"{JENV_CRL}={store.crl!r} is not one of {', '.join(CRL_POLICIES)}: "
                                f"set it to one of them, or unset it")
    return store.crl


def _revocation(store: CAStore, policy: str, verified: Sequence[crypto.X509], untrusted: Sequence[crypto.X509],
                now: Optional[dt.datetime]) -> Optional[Verdict]:
    """OpenSSL's revocation verdict on a verified chain, only where the store has a CRL: None when
    nothing is revoked (or no CA of the chain has a CRL), else the refusal.

    Each certificate whose issuer has a CRL (a self-signed anchor is its own issuer) is checked by
    OpenSSL with X509_V_FLAG_CRL_CHECK as the target of a verification over the rest of the chain;
    when every CA has one, the whole chain is checked at once with CRL_CHECK_ALL, exactly as
    ``openssl verify -crl_check_all``.  A CRL past its next update is warned about (policy "warn":
    the check runs again without time checks, the certificates' times having passed already) or
    refused ("require").
    """
    issuers = list(verified[1:]) + [verified[-1]]
    in_bundle = bundle_crl_issuers(store) if store.kind == "file" else frozenset()
    with_crl = [index for index, issuer in enumerate(issuers) if has_crl(store, _names_of(issuer)[0], in_bundle)]
    if not with_crl:
        return None
    everything = len(with_crl) == len(verified)
    steps = [(0, verified[0], untrusted)] if everything else \
        [(index, verified[index], verified[index + 1:-1]) for index in with_crl]
    notes: Tuple[str, ...] = ()
    all_flags = crypto.X509StoreFlags.CRL_CHECK | (crypto.X509StoreFlags.CRL_CHECK_ALL if everything else 0)
    for offset, target, rest in steps:
        outcome = _check(store, target, rest, now, all_flags)
        if isinstance(outcome, crypto.X509StoreContextError) and outcome.errors[0] == CRL_HAS_EXPIRED \
                and policy == "warn":
            stale = _refusal(outcome, target, offset)
            notes += (f"the CRL of the issuer of {stale.subject} in {store.path} is past its next update "
                      f"(run 'jenv ca-fetch --crl' or fetch-crl); revocation was checked against it anyway",)
            outcome = _check(store, target, rest, now, all_flags | NO_CHECK_TIME)
        if isinstance(outcome, crypto.X509StoreContextError):
            return _refusal(outcome, verified[0] if offset == 0 else target, offset, notes)
    return Verdict(True, 0, "ok", 0, "", (), notes) if notes else None


def verify_certificate(data: bytes, what: str, store: CAStore, now: Optional[dt.datetime] = None,
                       untrusted: Sequence[bytes] = ()) -> Verdict:
    """Verify the first PEM certificate of ``data`` against the CA store, as ``openssl verify`` does,
    and against the store's CRLs where it has them (``JENV_CRL``, :func:`_revocation`).

    ``untrusted`` are PEM intermediates OpenSSL may use to build the chain
    (``openssl verify -untrusted``); ``now`` replaces the system clock (tests).
    Raises InvalidInputError when OpenSSL cannot parse the certificate or
    JENV_CRL is not a policy, and what :func:`load_openssl_store` raises.
    """
    policy = crl_policy(store)
    cert = openssl_certificate(data, what)
    chain = [openssl_certificate(pem, f"intermediate certificate of {what}") for pem in untrusted]
    verified = _check(store, cert, chain, now)
    if isinstance(verified, crypto.X509StoreContextError):
        if policy != "ignore" and store_has_crls(store):
            # OpenSSL checks revocation before signatures and times: a revoked certificate with other
            # defects too is "certificate revoked", as openssl verify -crl_check_all says.
            revoked = _check(store, cert, chain, now, crypto.X509StoreFlags.CRL_CHECK |
                             crypto.X509StoreFlags.CRL_CHECK_ALL)
            if isinstance(revoked, crypto.X509StoreContextError) and revoked.errors[0] == CERT_REVOKED:
                return _refusal(revoked, cert)
        return _refusal(verified, cert)
    notes: Tuple[str, ...] = ()
    if policy != "ignore":
        revoked = _revocation(store, policy, verified, chain, now)
        if revoked is not None and not revoked.ok:
            return revoked
        notes = revoked.warnings if revoked is not None else ()
    names = tuple(_dn_of(link) for link in verified)
    return Verdict(True, 0, "ok", 0, names[0], names, notes)


def verify_server_chain(chain_pem: Sequence[str], what: str, store: CAStore) -> Optional[Verdict]:
    """The revocation check of a TLS peer's chain (PEM, the peer's certificate first, as the handshake
    verified it): None when the store holds no CRL or JENV_CRL=ignore (the handshake's verification
    stands as it is), else :func:`verify_certificate`'s verdict on the chain, CRLs included."""
    if crl_policy(store) == "ignore" or not store_has_crls(store):
        return None
    pems = [pem.encode("ascii") for pem in chain_pem]
    return verify_certificate(pems[0], what, store, untrusted=pems[1:])
