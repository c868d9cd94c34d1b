"""Fast certificate verification for the common case, without importing ``cryptography``.

``jenv cert-verify`` is a whole process; starting Python and importing
``cryptography`` cost several times what ``openssl verify`` needs in all
(issue 6).  This module verifies the usual grid chain (RSA signatures with
PKCS#1 v1.5 and SHA-1/2, CAs with basicConstraints, issuers found through
``<hash>.N`` names or in a bundle) with the standard library only.

It may decide only the fully good case.  It mirrors :mod:`jenv.cachain`
step by step (same issuer candidates in the same order, same choice among
them, same chain end), and answers ``None`` for anything else: any failure,
any certificate or store it does not fully understand.  The caller then runs
the full verification, which produces every failure verdict, so those stay
exactly what they were.
"""

from __future__ import annotations

import binascii
import hashlib
import os
from typing import Dict, List, Optional, Tuple

from jenv.credentials import MAX_CA_FILE, read_regular_file
from jenv.der import DerError, elements, pem_block
from jenv.locations import CAStore
from jenv.rawcert import RawCert, name_hash, name_key, name_text, parse_cert_der
from jenv.verdict import MAX_DEPTH, Verdict, verified

__all__ = ["verify_fast", "verify_pem_certificate", "parse_pem_certificate", "rsa_signature_ok", "IssuerLookup"]


_BEGIN = b"-----BEGIN CERTIFICATE-----"

#: sha*WithRSAEncryption OID contents -> (hash name, DER DigestInfo prefix of RFC 8017 9.2 note 1).
_RSA_PKCS1 = {
    bytes.fromhex("2a864886f70d010105"): ("sha1", bytes.fromhex("3021300906052b0e03021a05000414")),
    bytes.fromhex("2a864886f70d01010b"): ("sha256", bytes.fromhex("3031300d060960864801650304020105000420")),
    bytes.fromhex("2a864886f70d01010c"): ("sha384", bytes.fromhex("3041300d060960864801650304020205000430")),
    bytes.fromhex("2a864886f70d01010d"): ("sha512", bytes.fromhex("3051300d060960864801650304020305000440")),
}


def _rsa_algorithm(sig_alg: bytes) -> Optional[Tuple[str, bytes]]:
    """(hash name, DigestInfo prefix) for a PKCS#1 v1.5 AlgorithmIdentifier (NULL or no parameters)."""
    try:
        fields = elements(elements(sig_alg)[0][1])
    except (DerError, IndexError):
        return None
    if not 1 <= len(fields) <= 2 or fields[0][0] != 0x06 or fields[1:] not in ([], [(0x05, b"", b"\x05\x00")]):
        return None
    return _RSA_PKCS1.get(fields[0][1])


def rsa_signature_ok(key: Tuple[int, int], sig_alg: bytes, signature: bytes, signed: bytes) -> bool:
    """True when ``signature`` is the RSASSA-PKCS1-v1_5 signature of ``signed`` under ``key`` (n, e).

    The whole recovered block must equal the one encoding EMSA-PKCS1-v1_5
    allows (00 01 FF..FF 00 DigestInfo); nothing is parsed leniently.  False
    for any other algorithm.
    """
    algorithm = _rsa_algorithm(sig_alg)
    n, e = key
    size = (n.bit_length() + 7) // 8
    if algorithm is None or len(signature) != size:
        return False
    number = int.from_bytes(signature, "big")
    if number >= n:
        return False
    name, prefix = algorithm
    digest_info = prefix + hashlib.new(name, signed).digest()
    padding = size - 3 - len(digest_info)
    if padding < 8:
        return False
    expected = b"\x00\x01" + b"\xff" * padding + b"\x00" + digest_info
    return pow(number, e, n).to_bytes(size, "big") == expected


def parse_pem_certificate(data: bytes) -> Optional[RawCert]:
    """The certificate of PEM ``data`` holding exactly one PEM block, strictly encoded; None otherwise."""
    start = data.find(_BEGIN)
    if data.count(b"-----BEGIN ") != 1 or start < 0 or start and data[start - 1:start] != b"\n":
        return None
    der = pem_block(data, b"CERTIFICATE")
    if der is None:
        return None
    body = data[start + len(_BEGIN):data.find(b"-----END CERTIFICATE-----")].translate(None, b" \t\r\n")
    if binascii.b2a_base64(der, newline=False) != body:
        return None  # not the one canonical base64 of these bytes
    try:
        return parse_cert_der(der)
    except (DerError, ValueError):
        return None


def _read_store_file(path: str) -> Optional[bytes]:
    """A regular file's bytes (None when missing, unreadable, not regular or too large)."""
    try:
        data = read_regular_file(path, MAX_CA_FILE)
    except OSError:
        return None
    return data if len(data) <= MAX_CA_FILE else None


class _Unsure(Exception):
    """The store holds something only the full verifier can judge."""


class IssuerLookup:
    """CA candidates by subject, in the order :mod:`jenv.castore` yields them."""

    def __init__(self, store: CAStore):
        self.store = store
        self._bundle: Optional[List[RawCert]] = None
        self._by_hash: Dict[str, List[RawCert]] = {}

    def _hash_files(self, digest: str) -> List[RawCert]:
        """``<hash>.0``, ``.1``, ... until the first one without a certificate (OpenSSL by_dir)."""
        if digest not in self._by_hash:
            found, index = [], 0
            while True:
                data = _read_store_file(os.path.join(str(self.store.path), f"{digest}.{index}"))
                if data is None or _BEGIN not in data:
                    break
                cert = parse_pem_certificate(data)
                if cert is None:
                    raise _Unsure(digest)
                found.append(cert)
                index += 1
            self._by_hash[digest] = found
        return self._by_hash[digest]

    def _bundle_certs(self) -> List[RawCert]:
        if self._bundle is None:
            data = _read_store_file(str(self.store.path))
            if not data or data.count(b"-----BEGIN ") != data.count(_BEGIN) or _BEGIN not in data:
                raise _Unsure("bundle")
            certs = [parse_pem_certificate(_BEGIN + block) for block in data.split(_BEGIN)[1:]]
            if any(cert is None for cert in certs):
                raise _Unsure("bundle")
            self._bundle = [cert for cert in certs if cert is not None]
        return self._bundle

    def named(self, cert: RawCert) -> List[RawCert]:
        """The store's CAs whose subject is the issuer of ``cert``; raises _Unsure when in doubt."""
        key = name_key(cert.issuer)
        if self.store.kind == "dir":
            return [ca for ca in self._hash_files(name_hash(cert.issuer)) if name_key(ca.subject) == key]
        found = [ca for ca in self._bundle_certs() if name_key(ca.subject) == key]
        if any(ca.subject_der != cert.issuer_der for ca in found):
            raise _Unsure("same name, other encoding")  # castore prefers exact encodings first
        return found


def _likely_issued(issuer: RawCert, cert: RawCert) -> bool:
    """cachain._likely_issued for an RSA-PKCS#1-signed ``cert``: key identifiers, then an RSA key."""
    if cert.aki_key_id is not None and issuer.ski is not None and issuer.ski != cert.aki_key_id:
        return False
    if cert.aki_serial is not None and cert.aki_serial != issuer.serial:
        return False
    return issuer.rsa_key is not None


def _self_signed(cert: RawCert) -> bool:
    return name_key(cert.issuer) == name_key(cert.subject) and _likely_issued(cert, cert)


def _in_time(cert: RawCert, now: float) -> bool:
    return cert.not_before <= now <= cert.not_after


def _issuer(cert: RawCert, lookup: IssuerLookup, now: float) -> RawCert:
    """The candidate cachain picks (the first likely, time-valid one); _Unsure when it would pick none."""
    if _rsa_algorithm(cert.sig_alg) is None:
        raise _Unsure("signature algorithm")
    for candidate in lookup.named(cert):
        if _likely_issued(candidate, cert):
            if _in_time(candidate, now):
                return candidate
    raise _Unsure("no time-valid issuer")  # unknown issuer, or an expired CA: the full path says which


def _build_chain(cert: RawCert, lookup: IssuerLookup, now: float) -> List[RawCert]:
    """cachain._build_chain without untrusted certificates; the chain ends at a self-signed store CA."""
    chain = [cert]
    while len(chain) <= MAX_DEPTH:
        issuer = _issuer(chain[-1], lookup, now)
        if _rsa_algorithm(issuer.sig_alg) is None:
            raise _Unsure("signature algorithm of a CA")
        if _self_signed(chain[-1]):
            chain[-1] = issuer  # a self-signed certificate is replaced by its trusted twin
            return chain
        chain.append(issuer)
        if _self_signed(issuer):
            return chain
    raise _Unsure("chain too long")


def _chain_good(chain: List[RawCert], now: float) -> bool:
    """CA constraints, path lengths, signatures and validity: True only when all are good."""
    issued_below = 0
    for depth, cert in enumerate(chain[1:], 1):
        if cert.ca is not True or cert.key_cert_sign is False:
            return False
        if depth > 1 and cert.path_length is not None and issued_below > cert.path_length:
            return False
        if name_key(cert.subject) != name_key(cert.issuer):
            issued_below += 1
    for depth, cert in enumerate(chain):
        if not _in_time(cert, now):
            return False
        issuer_key = chain[depth + 1].rsa_key if depth + 1 < len(chain) else None
        if depth + 1 < len(chain) and (issuer_key is None or
                                       not rsa_signature_ok(issuer_key, cert.sig_alg, cert.signature, cert.tbs)):
            return False
    return True


def verify_fast(cert_pem: bytes, store: CAStore, now: float) -> Optional[Verdict]:
    """The good verdict for ``cert_pem`` against ``store`` at ``now`` (epoch seconds), or None.

    None means "not decided here": the chain fails somewhere, or something
    in it is outside what this module checks; run
    :func:`jenv.cachain.verify_certificate` then.  Never raises for bad
    input; only the good case gets a verdict, identical to the full one.
    """
    if store.kind not in ("dir", "file") or store.path is None:
        return None
    if store.kind == "dir" and not os.path.isdir(store.path):
        return None
    cert = parse_pem_certificate(cert_pem)
    if cert is None:
        return None
    try:
        chain = _build_chain(cert, IssuerLookup(store), now)
    except _Unsure:
        return None
    if not _chain_good(chain, now):
        return None
    return verified(tuple(name_text(c.subject) for c in chain))


def verify_pem_certificate(cert_pem: bytes, what: str, store: CAStore, now: float) -> Verdict:
    """The verdict for a PEM certificate: the fast path when it decides, else the full verification.

    Raises what loading the certificate or the store raises (InvalidInputError,
    NotFoundError); a chain that does not verify is a verdict, not an error.
    """
    verdict = verify_fast(cert_pem, store, now)
    if verdict is not None:
        return verdict
    import datetime as dt

    from jenv.cachain import verify_certificate
    from jenv.castore import open_ca_store
    from jenv.pem import parse_certificate

    cert = parse_certificate(cert_pem, what)
    return verify_certificate(cert, open_ca_store(store), dt.datetime.fromtimestamp(now, dt.timezone.utc))
