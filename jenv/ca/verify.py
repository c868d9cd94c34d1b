"""Certificate verification through OpenSSL's own path validation.

The chain is built and checked by OpenSSL's ``X509_verify_cert`` (through
pyOpenSSL's ``X509Store``/``X509StoreContext``): the code behind ``openssl
verify`` and behind the official client.  jenv computes no signature, builds
no chain and never decides whether a certificate may act as a CA; it only
hands OpenSSL the store the way ``openssl verify`` gets it (``-CApath`` for a
directory, looked up by subject hash by OpenSSL's ``by_dir``; ``-CAfile`` for
a bundle) and turns OpenSSL's answer into a :class:`Verdict` with OpenSSL's
own error number and text.

The ``<hash>.N`` files a directory lookup needs are read by jenv (never
blocking: a FIFO planted in the store is refused, where OpenSSL would wait
on it for ever) exactly as OpenSSL's by_dir reads them, and handed to
OpenSSL; a bundle is checked to be a regular file before OpenSSL reads it.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import warnings
from typing import NamedTuple, Optional, Sequence, Tuple

from OpenSSL import crypto

from jenv.ca.store import check_store_file, open_ca_store
from jenv.credentials import MAX_CA_FILE
from jenv.safefile import read_regular_file
from jenv.errors import InvalidInputError, UnsafeFileError
from jenv.locations import X509_CERT_DIR, CAStore
from jenv.lite.pemtext import pem_block
from jenv.lite.names import DerError, cert_names, grid_dn, has_trailing_bytes, name_key, subject_hash
from jenv.pem import CERT_BEGIN, CERT_END, describe_non_certificate

__all__ = ["Verdict", "verify_certificate", "load_openssl_store", "openssl_certificate",
           "UNKNOWN_ISSUER", "EXPIRED", "NOT_YET_VALID"]

# OpenSSL X509_V_ERR_* numbers jenv gives advice for (openssl/x509_vfy.h).
UNABLE_TO_GET_ISSUER, UNABLE_TO_GET_LOCAL_ISSUER = 2, 20
SELF_SIGNED, SELF_SIGNED_IN_CHAIN = 18, 19
NOT_YET_VALID, EXPIRED = 9, 10
#: More <hash>.N files than any real store has for one name (OpenSSL has no limit; a bound keeps a
#: hostile directory from costing more than this many reads).
MAX_HASH_FILES = 64

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


def _first_certificate(path: str) -> Optional[crypto.X509]:
    """The first certificate of one ``<hash>.N`` file, or None where OpenSSL's lookup would stop.

    Read without ever blocking (a FIFO or device is refused with UnsafeFileError);
    a missing, unreadable or unparsable file ends the lookup of that hash, as
    OpenSSL's by_dir does.
    """
    try:
        data = read_regular_file(path, MAX_CA_FILE)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            raise UnsafeFileError(f"CA store entry {path} is not a regular file (a FIFO or device would hang "
                                  f"the lookup): remove it, or run 'jenv ca-fetch' to reinstall the store "
                                  f"(or point {X509_CERT_DIR} elsewhere)") from None
        return None
    try:
        cert = crypto.load_certificate(crypto.FILETYPE_PEM, data)
    except (crypto.Error, ValueError):
        return None
    if has_trailing_bytes(pem_block(data, b"CERTIFICATE") or b""):
        return None  # bytes after the certificate inside the PEM: OpenSSL 3's directory lookup cannot load it
    return cert


def _names_of(cert: crypto.X509) -> Tuple[bytes, bytes]:
    """(subject, issuer) DER names; OpenSSL's own re-encoding where the DER reader cannot (BER input)."""
    try:
        return cert_names(crypto.dump_certificate(crypto.FILETYPE_ASN1, cert))
    except (DerError, crypto.Error):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyOpenSSL deprecates X509Name, not what it returns
            return cert.get_subject().der(), cert.get_issuer().der()


def _same_name(name_der: bytes, key: bytes) -> bool:
    try:
        return name_key(name_der) == key
    except DerError:
        return False


def _dir_store(path: str, certs: Sequence[crypto.X509]) -> crypto.X509Store:
    """An X509_STORE holding what ``openssl verify -CApath`` can find in ``path`` for ``certs``.

    OpenSSL's by_dir looks a name up as ``<hash>.0``, ``<hash>.1``, ... up to the
    first file it cannot load, taking the first certificate of each; the same
    files are read here, for the names OpenSSL looks up (the certificate's
    subject and issuer, then each found CA's issuer), and handed to OpenSSL,
    which still decides which of them (if any) issued what.  The hash only
    chooses files (:func:`jenv.lite.names.subject_hash`).
    """
    x509_store = crypto.X509Store()
    pending = [name for cert in certs for name in _names_of(cert) if name]
    looked_up = set()
    while pending:
        wanted = pending.pop()
        try:
            digest, key = subject_hash(wanted), name_key(wanted)
        except DerError:
            continue
        if (digest, key) in looked_up:
            continue
        looked_up.add((digest, key))
        for index in range(MAX_HASH_FILES):
            found = _first_certificate(os.path.join(path, f"{digest}.{index}"))
            if found is None:
                break
            x509_store.add_cert(found)
            subject, issuer = _names_of(found)
            # A CA of the wanted name may be the next link: OpenSSL would look up its issuer next.
            if issuer and subject and _same_name(subject, key):
                pending.append(issuer)
    return x509_store


def load_openssl_store(store: CAStore, certs: Sequence[crypto.X509]) -> crypto.X509Store:
    """An OpenSSL X509_STORE over the CA store for verifying ``certs``, as ``openssl verify
    -CApath``/``-CAfile`` sees it.

    Raises what :func:`jenv.ca.store.open_ca_store` raises for a missing or
    unusable store, UnsafeFileError for a non-regular store file, and
    InvalidInputError when OpenSSL cannot read the bundle.
    """
    open_ca_store(store)
    if store.kind == "dir":
        return _dir_store(store.path, certs)
    x509_store = crypto.X509Store()
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
    x509_store = load_openssl_store(store, [cert, *chain])
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
