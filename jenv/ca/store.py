"""The CA store: find it, check it, summarise it.

A store is an OpenSSL-style directory (``<hash>.N`` names, where ``hash`` is
OpenSSL's ``X509_NAME_hash`` of the subject) or a PEM bundle file.
Verification (:mod:`jenv.ca.verify`) hands the store to OpenSSL itself after
:func:`open_ca_store` has checked that it exists and is usable;
:func:`summarize_ca_store` is the one place that reads every file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shlex
import stat
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple


if TYPE_CHECKING:  # cryptography loads only when certificates are parsed (status only counts the files)
    from cryptography import x509

from jenv.safefile import MAX_CA_FILE, read_regular_file
from jenv.errors import InvalidInputError, NotFoundError, UnsafeFileError
from jenv.locations import X509_CERT_DIR, X509_CERT_FILE, CAStore
from jenv.lite.names import DerError, grid_dn, name_key, subject_hash

__all__ = [
    "HASH_LINK",
    "open_ca_store",
    "check_store_file",
    "load_bundle",
    "check_hash_entries",
    "check_store_entries",
    "CRL_LINK",
    "MAX_CRL",
    "bundle_crl_issuers",
    "store_has_crls",
    "read_pem_certificates",
    "CASummary",
    "summarize_ca_store",
    "EXPIRING_DAYS",
]

#: ``<8 hex digits>.<n>``: the certificate names OpenSSL's by_dir lookup reads.
HASH_LINK = re.compile(r"^([0-9a-f]{8})\.([0-9]+)$")
#: ``<8 hex digits>.r<n>``: the CRL names OpenSSL's by_dir lookup reads (fetch-crl writes them).
CRL_LINK = re.compile(r"^([0-9a-f]{8})\.r([0-9]+)$")
#: The largest CRL jenv reads or fetches: the biggest IGTF CRLs are a few MB.
MAX_CRL = 32 << 20


_FETCH_HINT = "run 'jenv ca-fetch' to install the grid CA certificates"


def _load_pem_certificates(data: bytes) -> List[x509.Certificate]:
    """cryptography's parse of a PEM bundle, without its warning about serial number 0.

    Real grid CAs (AliEn2-CA among them) have serial 0, which RFC 5280
    disallows and cryptography warns about on every load; for a report of
    the store the warning says nothing the user can act on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cryptography import x509

        return x509.load_pem_x509_certificates(data)


def read_pem_certificates(path: str) -> List[x509.Certificate]:
    """All certificates in a PEM file; an empty list when it holds none or cannot be read."""
    try:
        data = read_regular_file(path, MAX_CA_FILE)
    except OSError:
        return []
    if len(data) > MAX_CA_FILE or b"-----BEGIN CERTIFICATE-----" not in data:
        return []
    try:
        return _load_pem_certificates(data)
    except ValueError:
        return []


def _where(store: CAStore) -> Tuple[str, str]:
    var = X509_CERT_DIR if store.kind == "dir" else X509_CERT_FILE
    return var, (f"{var}={store.path}" if store.explicit else f"CA store {store.path}")


def open_ca_store(store: CAStore) -> None:
    """Check that the CA store :func:`jenv.locations.resolve_ca_store` picked is there and usable.

    Raises NotFoundError when there is none, or when X509_CERT_DIR /
    X509_CERT_FILE names something missing or of the wrong kind (the message
    names the variable and the fix).
    """
    if store.kind == "none" or store.path is None:
        raise NotFoundError(f"no CA certificates found ({store.source}): {_FETCH_HINT}, "
                            f"or set {X509_CERT_DIR} to a CA directory")
    path = store.path
    var, where = _where(store)
    if store.kind == "dir":
        if not os.path.isdir(path):
            if os.path.exists(path):
                raise NotFoundError(f"{where} is not a directory: point {var} at a CA directory")
            fetch = f"'jenv ca-fetch {shlex.quote(path)}'"
            raise NotFoundError(f"{where} does not exist: " + (
                f"correct {var} (a typo?), or unset it to use the default places; {fetch} installs the grid "
                "CA certificates there" if store.explicit else f"run {fetch} or point {var} at a CA directory"))
        if not os.access(path, os.R_OK | os.X_OK):
            raise NotFoundError(f"{where} is not readable: check its permissions")
        return
    if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
        raise UnsafeFileError(f"{where} is not a regular file (a FIFO or device would hang the read): "
                              f"point {var} at a PEM bundle of CA certificates")
    if not os.path.isfile(path):
        state = "is not a file" if os.path.exists(path) else "does not exist"
        raise NotFoundError(f"{where} {state}: point {var} at a PEM bundle of CA certificates, "
                            f"or unset it and {_FETCH_HINT}")


def check_store_file(store: CAStore) -> bytes:
    """The bytes of a bundle store, read without ever blocking; raises for anything unusable.

    NotFoundError when it cannot be read, UnsafeFileError when it is not a
    regular file (a FIFO), InvalidInputError when it holds no certificate.
    """
    var, where = _where(store)
    try:
        data = read_regular_file(store.path, MAX_CA_FILE)
    except OSError as exc:
        if exc.strerror == "not a regular file":
            raise UnsafeFileError(f"{where} is not a regular file: point {var} at a PEM bundle") from None
        raise NotFoundError(f"{where} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_CA_FILE or b"-----BEGIN CERTIFICATE-----" not in data:
        raise InvalidInputError(f"{where} holds no PEM certificate: point {var} at a PEM bundle of CA certificates")
    return data


def check_store_entries(store: CAStore) -> int:
    """The number of ``<hash>.N`` certificate entries of a directory store, checked without opening any.

    For a library that opens them itself, later (OpenSSL's by_dir lookup,
    during a verification or a TLS handshake): a FIFO or device among the
    ``<hash>.N`` and ``<hash>.rN`` entries would hang it, so it is refused
    here (UnsafeFileError).
    """
    count = 0
    with os.scandir(store.path) as entries:
        for entry in entries:
            certificate = HASH_LINK.match(entry.name)
            if not certificate and not CRL_LINK.match(entry.name):
                continue
            try:
                mode = os.stat(entry.path).st_mode
            except OSError:
                continue  # dangling: nothing for the library to open
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise UnsafeFileError(f"CA store entry {entry.path} is not a regular file (a FIFO or device "
                                      f"would hang the lookup): remove it, or run 'jenv ca-fetch'")
            count += bool(certificate)
    return count


def check_hash_entries(store: CAStore) -> int:
    """:func:`check_store_entries`, and InvalidInputError for a directory with no certificate entry."""
    count = check_store_entries(store)
    if count == 0:
        var, where = _where(store)
        raise InvalidInputError(f"{where} holds no <hash>.0 certificate files: run 'jenv ca-fetch' "
                                f"or 'openssl rehash' on it, or point {var} at the grid CA directory")
    return count


def store_has_crls(store: CAStore) -> bool:
    """Whether the store holds any CRL (a ``<hash>.rN`` entry, or an X509 CRL block of the bundle)."""
    if store.kind == "dir":
        with os.scandir(store.path) as entries:
            return any(CRL_LINK.match(entry.name) for entry in entries)
    return b"-----BEGIN X509 CRL-----" in check_store_file(store)


def bundle_crl_issuers(store: CAStore) -> frozenset:
    """The issuers (:func:`jenv.lite.names.name_key`) of the CRLs in a bundle store; one that
    cryptography cannot read is left to OpenSSL, which reads the bundle itself."""
    from cryptography import x509

    found = set()
    for block in re.findall(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", check_store_file(store), re.DOTALL):
        try:
            found.add(name_key(x509.load_pem_x509_crl(block).issuer.public_bytes()))
        except (ValueError, DerError):
            continue
    return frozenset(found)


def load_bundle(store: CAStore) -> List[x509.Certificate]:
    """Every certificate of a bundle store (cryptography's parse); raises as :func:`check_store_file`."""
    var, where = _where(store)
    try:
        return _load_pem_certificates(check_store_file(store))
    except ValueError:
        raise InvalidInputError(f"{where} holds a corrupt certificate: point {var} at a valid PEM bundle") from None


# --- summary for ca-info and status: the one place that reads every file ----------------

#: CAs expiring within this many days are counted as "expiring".
EXPIRING_DAYS = 30


@dataclass(frozen=True)
class CASummary:
    """What ``jenv ca-info`` reports about a CA store.

    ``links_consistent`` is None for a bundle file (it has no hash links).
    ``expiring`` lists "DN (not after YYYY-MM-DD)" for expired and soon
    expiring CAs; ``problems`` holds one line per inconsistency, with a fix;
    ``crls`` describes the store's CRLs (age, next update; :func:`jenv.ca.crl.describe_crls`).
    """

    location: str
    kind: str
    source: str
    count: int
    expired: int
    expiring_soon: int
    hash_links: int
    links_consistent: Optional[bool]
    expiring: Tuple[str, ...] = ()
    problems: Tuple[str, ...] = ()
    crls: Tuple[object, ...] = ()  # jenv.ca.crl.CrlInfo, oldest first


def _fingerprint(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.tbs_certificate_bytes + cert.signature).digest()


def _dir_certificates(path: str) -> Tuple[Dict[bytes, x509.Certificate], int, List[str]]:
    """Certificates of a CA directory by fingerprint, the number of hash links, and link problems."""
    certs: Dict[bytes, x509.Certificate] = {}
    reachable = set()
    problems: List[str] = []
    indexes: Dict[str, List[int]] = {}
    names = sorted(os.listdir(path))
    for entry in names:
        match = HASH_LINK.match(entry)
        if match:
            indexes.setdefault(match.group(1), []).append(int(match.group(2)))
        elif not entry.endswith(".pem"):
            continue
        found = read_pem_certificates(os.path.join(path, entry))
        for cert in found:
            certs.setdefault(_fingerprint(cert), cert)
        if not match:
            continue
        if not found:
            problems.append(f"{entry} is dangling or not a certificate")
        elif subject_hash(found[0].subject.public_bytes()) != match.group(1):
            problems.append(f"{entry} holds a certificate whose subject hash is "
                            f"{subject_hash(found[0].subject.public_bytes())}")
        else:
            reachable.update(_fingerprint(cert) for cert in found)
    for digest, numbers in sorted(indexes.items()):
        if sorted(numbers) != list(range(len(numbers))):
            problems.append(f"{digest}.N links are not numbered 0, 1, ...: OpenSSL stops at the first gap")
    missing = len(set(certs) - reachable)
    if missing:
        problems.append(f"{missing} certificate file(s) have no <hash>.N link, so OpenSSL and jenv cannot find them")
    links = sum(len(numbers) for numbers in indexes.values())
    return certs, links, problems


def summarize_ca_store(store: CAStore, now: dt.datetime) -> CASummary:
    """Count and check every CA certificate of the store (reads all of it).

    Raises what :func:`open_ca_store` raises when the store is missing or
    unusable.
    """
    open_ca_store(store)
    links: int = 0
    consistent: Optional[bool] = None
    problems: List[str] = []
    if store.kind == "file":
        certs = {_fingerprint(cert): cert for cert in load_bundle(store)}
    else:
        certs, links, problems = _dir_certificates(store.path)
        consistent = not problems
        if not certs:
            problems.append(f"no CA certificates in {store.path}: {_FETCH_HINT}")
    soon = now + dt.timedelta(days=EXPIRING_DAYS)
    expired = expiring = 0
    notes = []
    for cert in certs.values():
        not_after = cert.not_valid_after_utc if hasattr(cert, "not_valid_after_utc") else \
            cert.not_valid_after.replace(tzinfo=dt.timezone.utc)
        if not_after < soon:
            expired += not_after < now
            expiring += not_after >= now
            state = "expired" if not_after < now else "expires"
            notes.append((not_after, f"{grid_dn(cert.subject.public_bytes())} ({state} "
                                     f"{not_after:%Y-%m-%d})"))
    return CASummary(location=store.path, kind=store.kind, source=store.source, count=len(certs),
                     expired=expired, expiring_soon=expiring, hash_links=links, links_consistent=consistent,
                     expiring=tuple(text for _when, text in sorted(notes)), problems=tuple(problems))
