"""Certificate verification through OpenSSL's own path validation.

The chain is built and checked by OpenSSL's ``X509_verify_cert`` (through
pyOpenSSL's ``X509Store``/``X509StoreContext``): the code behind ``openssl
verify`` and behind the official client.  jenv computes no signature, builds
no chain and never decides whether a certificate may act as a CA; it only
hands OpenSSL the store the way ``openssl verify`` gets it (``-CApath`` for a
directory, looked up by subject hash by OpenSSL's ``by_dir``; ``-CAfile`` for
a bundle) and turns OpenSSL's answer into a :class:`Verdict` with OpenSSL's
own error number and text.

Before OpenSSL opens anything, every ``<hash>.N`` entry of the directory (or
the bundle) is checked to be a regular file without opening it, so a FIFO
planted in the store cannot hang jenv (OpenSSL would block reading it).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from typing import NamedTuple, Optional, Sequence, Tuple

from OpenSSL import crypto

from jenv.castore import HASH_LINK, check_store_file, open_ca_store
from jenv.errors import InvalidInputError, UnsafeFileError
from jenv.locations import X509_CERT_DIR, CAStore
from jenv.names import DerError, cert_names, grid_dn
from jenv.pem import CERT_BEGIN, CERT_END, describe_non_certificate

__all__ = ["Verdict", "verify_certificate", "load_openssl_store", "openssl_certificate",
           "UNKNOWN_ISSUER", "EXPIRED", "NOT_YET_VALID"]

# OpenSSL X509_V_ERR_* numbers jenv gives advice for (openssl/x509_vfy.h).
UNABLE_TO_GET_ISSUER, UNABLE_TO_GET_LOCAL_ISSUER = 2, 20
SELF_SIGNED, SELF_SIGNED_IN_CHAIN = 18, 19
NOT_YET_VALID, EXPIRED = 9, 10
UNKNOWN_ISSUER = frozenset({UNABLE_TO_GET_ISSUER, UNABLE_TO_GET_LOCAL_ISSUER, SELF_SIGNED, SELF_SIGNED_IN_CHAIN})


class Verdict(NamedTuple):
    """What OpenSSL said about one certificate.

    ``code`` is OpenSSL's X509_V_ERR number (0 when verified), ``message`` its
    own text for it (``X509_verify_cert_error_string``), ``depth`` the chain
    position it applies to (0 = the certificate itself), ``subject`` the grid
    DN of the certificate at that depth.  ``chain`` lists grid DNs from the
    certificate to the trust anchor when verified, else the certificate and
    the one OpenSSL stopped at.
    """

    ok: bool
    code: int
    message: str
    depth: int
    subject: str
    chain: Tuple[str, ...]

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


def _check_dir_entries(path: str) -> None:
    """Refuse a ``<hash>.N`` entry that is not a regular file (stat only: nothing is opened)."""
    try:
        entries = list(os.scandir(path))
    except OSError as exc:
        raise UnsafeFileError(f"CA store {path} cannot be listed: {exc.strerror}") from None
    for entry in entries:
        if not HASH_LINK.match(entry.name):
            continue
        try:
            mode = os.stat(entry.path).st_mode
        except OSError:
            continue  # dangling: OpenSSL's lookup finds nothing there either
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise UnsafeFileError(f"CA store entry {entry.path} is not a regular file (a FIFO or device "
                                  f"would hang the lookup): remove it, or run 'jenv ca-fetch' to reinstall "
                                  f"the store (or point {X509_CERT_DIR} elsewhere)")


def load_openssl_store(store: CAStore) -> crypto.X509Store:
    """An OpenSSL X509_STORE over the CA store, as ``openssl verify -CApath``/``-CAfile`` builds it.

    Raises what :func:`jenv.castore.open_ca_store` raises for a missing or
    unusable store, UnsafeFileError for a non-regular store file, and
    InvalidInputError when OpenSSL cannot read the bundle.
    """
    open_ca_store(store)
    x509_store = crypto.X509Store()
    if store.kind == "dir":
        _check_dir_entries(store.path)
        x509_store.load_locations(None, store.path)
        return x509_store
    check_store_file(store)
    try:
        x509_store.load_locations(store.path)
    except crypto.Error:
        raise InvalidInputError(f"CA bundle {store.path} holds a certificate OpenSSL cannot read: "
                                f"point it at a valid PEM bundle, or run 'jenv ca-fetch'") from None
    return x509_store


def verify_certificate(data: bytes, what: str, store: CAStore, now: Optional[dt.datetime] = None,
                       untrusted: Sequence[bytes] = ()) -> Verdict:
    """Verify the first PEM certificate of ``data`` against the CA store, as ``openssl verify`` does.

    ``untrusted`` are PEM intermediates OpenSSL may use to build the chain
    (``openssl verify -untrusted``); ``now`` replaces the system clock (tests).
    Raises InvalidInputError when OpenSSL cannot parse the certificate, and
    what :func:`load_openssl_store` raises.
    """
    cert = openssl_certificate(data, what)
    chain = [openssl_certificate(pem, f"intermediate certificate of {what}") for pem in untrusted]
    x509_store = load_openssl_store(store)
    if now is not None:
        x509_store.set_time(now.astimezone(dt.timezone.utc).replace(tzinfo=None))
    context = crypto.X509StoreContext(x509_store, cert, chain or None)
    try:
        verified = context.get_verified_chain()
    except crypto.X509StoreContextError as exc:
        code, depth, message = exc.errors[0], exc.errors[1], exc.errors[2]
        failing = _dn_of(exc.certificate) if exc.certificate is not None else _dn_of(cert)
        names = (_dn_of(cert),) if depth == 0 else (_dn_of(cert), failing)
        return Verdict(False, int(code), str(message), int(depth), failing, names)
    names = tuple(_dn_of(link) for link in verified)
    return Verdict(True, 0, "ok", 0, names[0], names)
