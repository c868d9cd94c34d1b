"""The CA store: find it, load it, look up issuers by subject without parsing everything.

A store is an OpenSSL-style directory (``<hash>.N`` names, where ``hash`` is
OpenSSL's ``X509_NAME_hash`` of the subject) or a PEM bundle file.  In a
directory only the ``<hash>.N`` files of the wanted subject are read, so a
lookup costs the same for 10 or 800 CAs; a bundle is parsed once.  Chain
verification (:mod:`jenv.cachain`) asks :meth:`LoadedStore.issuers` for
candidates; :func:`summarize_ca_store` is the one place that reads every file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from cryptography import x509

from jenv.authority import subject_hash
from jenv.credentials import MAX_CA_FILE, read_regular_file
from jenv.errors import InvalidInputError, NotFoundError
from jenv.locations import X509_CERT_DIR, X509_CERT_FILE, CAStore
from jenv.pem import grid_dn

__all__ = [
    "HASH_LINK",
    "LoadedStore",
    "DirStore",
    "BundleStore",
    "open_ca_store",
    "name_key",
    "read_pem_certificates",
    "CASummary",
    "summarize_ca_store",
    "EXPIRING_DAYS",
]

#: ``<8 hex digits>.<n>``: the certificate names OpenSSL's by_dir lookup reads.
HASH_LINK = re.compile(r"^([0-9a-f]{8})\.([0-9]+)$")


_FETCH_HINT = "run 'jenv ca-fetch' to install the grid CA certificates"


def name_key(name: x509.Name) -> Tuple[Tuple[Tuple[str, str], ...], ...]:
    """A comparison key for names, as OpenSSL's X509_NAME_cmp sees them.

    Values are compared trimmed, with whitespace runs collapsed and ASCII
    lowercased (asn1_string_canon), so a PrintableString and a UTF8String
    spelling of the same DN match, as they do for OpenSSL.
    """
    key = []
    for rdn in name.rdns:
        members = []
        for attr in rdn:
            value = attr.value if isinstance(attr.value, str) else attr.value.decode("latin-1")
            text = " ".join(value.split())
            members.append((attr.oid.dotted_string, "".join(c.lower() if c.isascii() else c for c in text)))
        key.append(tuple(sorted(members)))
    return tuple(key)


def read_pem_certificates(path: str) -> List[x509.Certificate]:
    """All certificates in a PEM file; an empty list when it holds none or cannot be read."""
    try:
        data = read_regular_file(path, MAX_CA_FILE)
    except OSError:
        return []
    if len(data) > MAX_CA_FILE or b"-----BEGIN CERTIFICATE-----" not in data:
        return []
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


class LoadedStore:
    """An opened CA store: issuer candidates by subject name, and membership."""

    location: str
    kind: str

    def certificates_named(self, name: x509.Name) -> List[x509.Certificate]:
        """Every CA certificate whose subject equals ``name`` (OpenSSL name comparison)."""
        raise NotImplementedError

    def contains(self, cert: x509.Certificate) -> bool:
        """True when this exact certificate (same DER) is in the store."""
        der = cert.tbs_certificate_bytes + cert.signature
        return any(c.tbs_certificate_bytes + c.signature == der for c in self.certificates_named(cert.subject))


def _same_name(cert: x509.Certificate, name: x509.Name, key) -> bool:
    subject = cert.subject
    return subject == name or name_key(subject) == key


class DirStore(LoadedStore):
    """An OpenSSL CA directory, read lazily through ``<hash>.N`` names like OpenSSL's by_dir."""

    kind = "dir"

    def __init__(self, path: str):
        self.location = path
        self._cache: Dict[str, List[x509.Certificate]] = {}

    def _hash_files(self, digest: str) -> List[x509.Certificate]:
        if digest not in self._cache:
            found: List[x509.Certificate] = []
            index = 0
            # OpenSSL stops at the first missing (or unreadable) <hash>.N; so does jenv.
            while True:
                certs = read_pem_certificates(os.path.join(self.location, f"{digest}.{index}"))
                if not certs:
                    break
                found.extend(certs)
                index += 1
            self._cache[digest] = found
        return self._cache[digest]

    def certificates_named(self, name: x509.Name) -> List[x509.Certificate]:
        key = name_key(name)
        return [c for c in self._hash_files(subject_hash(name)) if _same_name(c, name, key)]


class BundleStore(LoadedStore):
    """A PEM bundle (X509_CERT_FILE), parsed once and indexed by subject."""

    kind = "file"

    def __init__(self, path: str, certs: Sequence[x509.Certificate]):
        self.location = path
        self.certs = list(certs)
        self._by_der: Optional[Dict[bytes, List[x509.Certificate]]] = None

    def certificates_named(self, name: x509.Name) -> List[x509.Certificate]:
        if self._by_der is None:
            index: Dict[bytes, List[x509.Certificate]] = {}
            for cert in self.certs:
                index.setdefault(cert.subject.public_bytes(), []).append(cert)
            self._by_der = index
        exact = self._by_der.get(name.public_bytes())
        if exact:
            return list(exact)
        # Same name spelled with other string types or case: compare canonically.
        key = name_key(name)
        return [c for c in self.certs if name_key(c.subject) == key]


def open_ca_store(store: CAStore) -> LoadedStore:
    """Open the CA store that :func:`jenv.locations.resolve_ca_store` picked.

    Raises NotFoundError when there is none, or when X509_CERT_DIR /
    X509_CERT_FILE names something missing or of the wrong kind (the message
    names the variable and the fix); InvalidInputError when a bundle holds no
    certificate.
    """
    if store.kind == "none" or store.path is None:
        raise NotFoundError(f"no CA certificates found ({store.source}): {_FETCH_HINT}, "
                            f"or set {X509_CERT_DIR} to a CA directory")
    path = store.path
    var = X509_CERT_DIR if store.kind == "dir" else X509_CERT_FILE
    where = f"{var}={path}" if store.explicit else f"CA store {path}"
    if store.kind == "dir":
        if not os.path.isdir(path):
            state = "is not a directory" if os.path.exists(path) else "does not exist"
            raise NotFoundError(f"{where} {state}: run 'jenv ca-fetch {path}' or point {var} at a CA directory")
        if not os.access(path, os.R_OK | os.X_OK):
            raise NotFoundError(f"{where} is not readable: check its permissions")
        return DirStore(path)
    if not os.path.isfile(path):
        state = "is not a file" if os.path.exists(path) else "does not exist"
        raise NotFoundError(f"{where} {state}: point {var} at a PEM bundle of CA certificates, "
                            f"or unset it and {_FETCH_HINT}")
    try:
        data = read_regular_file(path, MAX_CA_FILE)
    except OSError as exc:
        raise NotFoundError(f"{where} cannot be read: {exc.strerror}") from None
    certs: List[x509.Certificate] = []
    if len(data) <= MAX_CA_FILE and b"-----BEGIN CERTIFICATE-----" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise InvalidInputError(f"{where} holds a corrupt certificate: "
                                    f"point {var} at a valid PEM bundle") from None
    if not certs:
        raise InvalidInputError(f"{where} holds no PEM certificate: point {var} at a PEM bundle of CA certificates")
    return BundleStore(path, certs)



# --- summary for ca-info and status: the one place that reads every file ----------------

#: CAs expiring within this many days are counted as "expiring".
EXPIRING_DAYS = 30


@dataclass(frozen=True)
class CASummary:
    """What ``jenv ca-info`` reports about a CA store.

    ``links_consistent`` is None for a bundle file (it has no hash links).
    ``expiring`` lists "DN (not after YYYY-MM-DD)" for expired and soon
    expiring CAs; ``problems`` holds one line per inconsistency, with a fix.
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
        elif subject_hash(found[0].subject) != match.group(1):
            problems.append(f"{entry} holds a certificate whose subject hash is {subject_hash(found[0].subject)}")
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
    loaded = open_ca_store(store)
    links: int = 0
    consistent: Optional[bool] = None
    problems: List[str] = []
    if isinstance(loaded, BundleStore):
        certs = {_fingerprint(cert): cert for cert in loaded.certs}
    else:
        certs, links, problems = _dir_certificates(loaded.location)
        consistent = not problems
        if not certs:
            problems.append(f"no CA certificates in {loaded.location}: {_FETCH_HINT}")
    soon = now + dt.timedelta(days=EXPIRING_DAYS)
    expired = expiring = 0
    notes = []
    for cert in certs.values():
        not_after = cert.not_valid_after_utc if hasattr(cert, "not_valid_after_utc") else \
            cert.not_valid_after.replace(tzinfo=dt.timezone.utc)
        if not_after < soon:
            expired += not_after < now
            expiring += not_after >= now
            notes.append((not_after, f"{grid_dn(cert.subject)} ({'expired' if not_after < now else 'expires'} "
                                     f"{not_after:%Y-%m-%d})"))
    return CASummary(location=loaded.location, kind=loaded.kind, source=store.source, count=len(certs),
                     expired=expired, expiring_soon=expiring, hash_links=links, links_consistent=consistent,
                     expiring=tuple(text for _when, text in sorted(notes)), problems=tuple(problems))
