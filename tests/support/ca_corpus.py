"""Generated certificate chains, good and hostile, for the openssl differential test.

Every :class:`Case` is a certificate to verify (the "leaf" file), the CA
certificates of the store (written as ``caN.pem`` plus ``<hash>.N`` links for
``-CApath``, and concatenated for ``-CAfile``), a ``kind`` tag naming the
attack class it belongs to, and the outcome it was built to have: ``"ok"``,
an OpenSSL ``X509_V_ERR_*`` number with the depth of the first error, or
``"unparseable"`` when OpenSSL cannot even read the certificate.

Certificates are built with ``cryptography`` where it can express them.
What it cannot (version 1 and 2 certificates, serial number 0, duplicate
extensions, mismatched signature algorithms, BER length encodings, trailing
bytes) is made by editing the DER of a built certificate's TBSCertificate
with the small DER helpers below and signing it again with the issuer's key.

Keys are made once per session and shared between certificates (RSA key
generation is slow): four RSA keys, and cheap EC keys on P-256 and P-384.
Where OpenSSL's behaviour is not what a reader may guess, the case says so
in a comment; ``openssl verify`` (OpenSSL 3) is the oracle.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
OLD = NOW - 400 * DAY  # not-before of expired certificates
SHA256, SHA384, SHA512 = hashes.SHA256(), hashes.SHA384(), hashes.SHA512()

# OpenSSL X509_V_ERR_* numbers the corpus expects (the names as in x509_vfy.h).
UNABLE_TO_GET_ISSUER_CERT = 2
CERT_SIGNATURE_FAILURE = 7
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
ERROR_IN_CERT_NOT_BEFORE_FIELD = 13
ERROR_IN_CERT_NOT_AFTER_FIELD = 14
DEPTH_ZERO_SELF_SIGNED_CERT = 18
SELF_SIGNED_CERT_IN_CHAIN = 19
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
INVALID_CA = 79  # OpenSSL 3 (1.1.1 said 24)
PATH_LENGTH_EXCEEDED = 25
UNHANDLED_CRITICAL_EXTENSION = 34
PROXY_CERTIFICATES_NOT_ALLOWED = 40
INVALID_EXTENSION = 41
UNNESTED_RESOURCE = 46
PERMITTED_VIOLATION = 47

UNPARSEABLE = "unparseable"


# --- keys ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def make_keys() -> Dict[str, object]:
    """The session's keys (made once, shared by every test module): four RSA, four EC."""
    keys: Dict[str, object] = {}
    for index in range(4):
        keys[f"rsa{index}"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        keys[f"ec{index}"] = ec.generate_private_key(ec.SECP256R1())
    return keys


@functools.lru_cache(maxsize=None)
def corpus_keys() -> Dict[str, object]:
    """make_keys() plus cheap EC keys: P-256 ``ec4``..``ec11`` and P-384 ``p384_0``..``p384_4``."""
    keys = dict(make_keys())
    for index in range(4, 12):
        keys[f"ec{index}"] = ec.generate_private_key(ec.SECP256R1())
    for index in range(5):
        keys[f"p384_{index}"] = ec.generate_private_key(ec.SECP384R1())
    return keys


# --- names ---------------------------------------------------------------------------------

def name(cn: str, org: str = "jenv-diff", string_type: Optional[_ASN1Type] = None) -> x509.Name:
    """/C=ch/O=<org>/CN=<cn>, the common name in ``string_type`` (cryptography's choice by default)."""
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "ch"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    common = x509.NameAttribute(NameOID.COMMON_NAME, cn) if string_type is None else \
        x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=string_type)
    return x509.Name(attrs + [common])


def typed_name(cn: str, string_type: _ASN1Type, org: str = "jenv-diff") -> x509.Name:
    """Like :func:`name`, but every attribute (country excepted) in ``string_type``."""
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "ch"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org, _type=string_type),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=string_type)])


# --- certificates --------------------------------------------------------------------------

def pem_armour(payload: bytes) -> bytes:
    """``payload`` (normally one DER certificate) as a PEM CERTIFICATE block."""
    text = base64.b64encode(payload).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()


@dataclass
class Cert:
    """A certificate built by cryptography, with the key it certifies (so it can sign others)."""

    cert: x509.Certificate
    key: object

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def subject(self) -> x509.Name:
        return self.cert.subject

    @property
    def serial(self) -> int:
        return self.cert.serial_number


@dataclass
class RawCert:
    """A certificate as bytes, possibly one cryptography refuses to load, with the key it certifies.

    ``subject`` and ``serial`` are kept from the template it was edited from,
    so that it can still issue certificates.  ``file_bytes`` is the content
    of its PEM file when that is not just the armour of ``der`` (trailing
    bytes, text around the block, garbage).
    """

    der: bytes
    key: object
    subject: x509.Name
    serial: int = 1
    file_bytes: Optional[bytes] = None

    @property
    def pem(self) -> bytes:
        return self.file_bytes if self.file_bytes is not None else pem_armour(self.der)

    @property
    def cert(self) -> x509.Certificate:
        """The certificate as cryptography sees it (raises for what it cannot load)."""
        return x509.load_der_x509_certificate(self.der)


AnyCert = Union[Cert, RawCert]


def ski(key) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def full_akid(issuer: AnyCert, issuers_issuer: x509.Name, serial: Optional[int] = None,
              keyid: bool = True) -> x509.AuthorityKeyIdentifier:
    """An authorityKeyIdentifier with key id, issuer name and serial (as the ALICE CAs carry).

    RFC 5280: the name is that of the issuer's issuer, the serial the issuer's own.
    """
    return x509.AuthorityKeyIdentifier(
        ski(issuer.key).digest if keyid else None, [x509.DirectoryName(issuers_issuer)],
        issuer.serial if serial is None else serial)


def issue(subject: x509.Name, key, issuer: Optional[AnyCert] = None, *, ca: bool = True,
          not_before: dt.datetime = NOW - 30 * DAY, not_after: dt.datetime = NOW + 365 * DAY,
          signer_key=None, issuer_name: Optional[x509.Name] = None, akid=True,
          path_length: Optional[int] = None, key_cert_sign: bool = True, bc: bool = True, pss: bool = False,
          unknown_critical: bool = False, hash_alg: hashes.HashAlgorithm = SHA256, key_usage: bool = True,
          subject_key_id: bool = True, ski_critical: bool = False, serial: Optional[int] = None,
          bc_critical: bool = True, extensions: Sequence[Tuple[x509.ExtensionType, bool]] = ()) -> Cert:
    """Build a certificate of ``key`` named ``subject``, issued by ``issuer`` (self-signed without one).

    CAs (``ca``) get a critical basicConstraints (``bc``) with ``path_length``
    and a critical keyUsage (``key_usage``; keyCertSign unless
    ``key_cert_sign`` is false); end entities a CA:FALSE basicConstraints.
    ``akid`` is True (key identifier of the issuer's key, only when there is
    an issuer), False (none) or an AuthorityKeyIdentifier to use as is.
    ``signer_key`` signs with another key than the issuer's (a forgery);
    ``issuer_name`` writes another issuer name than the issuer's subject.
    """
    parent_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_name or (issuer.subject if issuer else subject))
               .public_key(key.public_key())
               .serial_number(serial if serial is not None else x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after))
    if subject_key_id:
        builder = builder.add_extension(ski(key), ski_critical)
    if bc:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
                                        bc_critical)
    if ca and key_usage:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=True, encipher_only=False,
            decipher_only=False), True)
    if isinstance(akid, x509.AuthorityKeyIdentifier):
        builder = builder.add_extension(akid, False)
    elif akid and issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent_key.public_key()), False)
    if unknown_critical:  # an extension no verifier knows, marked critical: must be refused
        builder = builder.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"), critical=True)
    for value, critical in extensions:
        builder = builder.add_extension(value, critical)
    signer = signer_key or parent_key
    if pss:
        return Cert(builder.sign(signer, hash_alg, rsa_padding=padding.PSS(
            mgf=padding.MGF1(hash_alg), salt_length=32)), key)
    return Cert(builder.sign(signer, hash_alg), key)


def chain(specs: Sequence[dict], keys: Sequence[object], leaf_key, leaf_name: str = "Chain User",
          hash_alg: hashes.HashAlgorithm = SHA256, leaf: Optional[dict] = None) -> List[Cert]:
    """A root and intermediates from ``specs`` (root first; each a dict of :func:`issue` options plus
    ``cn``), each with the next of ``keys``, and an end-entity certificate at the bottom.

    Returns [root, ..., last intermediate, leaf].
    """
    made: List[Cert] = []
    for spec, key in zip(specs, keys):
        options = dict(spec)
        cn = options.pop("cn")
        made.append(issue(name(cn), key, made[-1] if made else None, hash_alg=hash_alg, **options))
    made.append(issue(name(leaf_name), leaf_key, made[-1], ca=False, hash_alg=hash_alg, **(leaf or {})))
    return made


# --- DER, for what cryptography cannot build -------------------------------------------------

def der_length(length: int) -> bytes:
    """The DER (shortest) encoding of a length."""
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """A DER element with a one-byte ``tag``."""
    return bytes([tag]) + der_length(len(content)) + content


def ber_long_tlv(tag: int, content: bytes, width: int = 3) -> bytes:
    """BER, not DER: the length in long form over ``width`` octets (leading zero octets)."""
    return bytes([tag, 0x80 | width]) + len(content).to_bytes(width, "big") + content


def ber_indefinite_tlv(tag: int, content: bytes) -> bytes:
    """BER, not DER: a constructed element of indefinite length (0x80 ... 00 00)."""
    return bytes([tag, 0x80]) + content + b"\x00\x00"


def read_tlv(data: bytes, pos: int = 0) -> Tuple[int, int, int]:
    """(tag, start of content, end) of the definite-length element at ``pos``."""
    tag, first = data[pos], data[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    count = first & 0x7F
    start = pos + 2 + count
    return tag, start, start + int.from_bytes(data[pos + 2:start], "big")


def children(element: bytes) -> List[bytes]:
    """The elements (whole TLVs) inside a constructed element."""
    _, pos, end = read_tlv(element)
    out = []
    while pos < end:
        _, _, stop = read_tlv(element, pos)
        out.append(element[pos:stop])
        pos = stop
    return out


def content_of(element: bytes) -> bytes:
    _, start, end = read_tlv(element)
    return element[start:end]


def der_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER element."""
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def der_int(value: int) -> bytes:
    """A (non-negative) INTEGER element, minimal as DER wants."""
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return tlv(0x02, body)


NULL = b"\x05\x00"
_SIG_OIDS = {
    ("rsa", "sha256"): "1.2.840.113549.1.1.11", ("rsa", "sha384"): "1.2.840.113549.1.1.12",
    ("rsa", "sha512"): "1.2.840.113549.1.1.13",
    ("ec", "sha256"): "1.2.840.10045.4.3.2", ("ec", "sha384"): "1.2.840.10045.4.3.3",
    ("ec", "sha512"): "1.2.840.10045.4.3.4",
}


def key_family(key) -> str:
    return "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ec"


def sig_alg(family: str, hash_name: str, null_params: Optional[bool] = None) -> bytes:
    """A signature AlgorithmIdentifier; RSA carries NULL parameters and ECDSA none unless ``null_params`` says."""
    params = (family == "rsa") if null_params is None else null_params
    return tlv(0x30, der_oid(_SIG_OIDS[(family, hash_name)]) + (NULL if params else b""))


def sign_bytes(key, data: bytes, hash_alg: hashes.HashAlgorithm) -> bytes:
    """PKCS#1 v1.5 (RSA) or ECDSA signature of ``data``."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hash_alg)
    return key.sign(data, ec.ECDSA(hash_alg))


def extension_der(oid: str, value: bytes, critical: bool = False, critical_byte: Optional[bytes] = None) -> bytes:
    """An Extension element; ``critical_byte`` writes the BOOLEAN's content octet as given (BER)."""
    flag = tlv(0x01, critical_byte) if critical_byte is not None else (tlv(0x01, b"\xff") if critical else b"")
    return tlv(0x30, der_oid(oid) + flag + tlv(0x04, value))


def extension_oid(ext: bytes) -> bytes:
    """The OBJECT IDENTIFIER element of an Extension element."""
    return children(ext)[0]


@dataclass
class Tbs:
    """The fields of a TBSCertificate as raw elements, for editing; ``tail`` holds unique ids and [3]."""

    version: Optional[bytes]
    serial: bytes
    signature: bytes
    issuer: bytes
    validity: bytes
    subject: bytes
    spki: bytes
    tail: List[bytes]

    @classmethod
    def of(cls, cert_der: bytes) -> "Tbs":
        elements = children(children(cert_der)[0])
        version = elements.pop(0) if elements[0][0] == 0xA0 else None
        return cls(version, *elements[:6], tail=elements[6:])

    @property
    def extensions(self) -> List[bytes]:
        for item in self.tail:
            if item[0] == 0xA3:
                return children(content_of(item))
        return []

    @extensions.setter
    def extensions(self, exts: Sequence[bytes]) -> None:
        kept = [item for item in self.tail if item[0] != 0xA3]
        self.tail = kept + ([tlv(0xA3, tlv(0x30, b"".join(exts)))] if exts else [])

    def set_version(self, number: Optional[int]) -> None:
        """``number`` is the encoded value (0 = v1, 1 = v2, 2 = v3); None omits the field (v1 by default)."""
        self.version = None if number is None else tlv(0xA0, tlv(0x02, bytes([number])))

    def content(self) -> bytes:
        return b"".join([self.version or b"", self.serial, self.signature, self.issuer, self.validity,
                         self.subject, self.spki, *self.tail])

    def encode(self) -> bytes:
        return tlv(0x30, self.content())


def resign(template: AnyCert, signer_key, edit: Optional[Callable[[Tbs], None]] = None, *,
           hash_alg: hashes.HashAlgorithm = SHA256, outer_alg: Optional[bytes] = None,
           encode_tbs: Optional[Callable[[Tbs], bytes]] = None, sign_over: Optional[Callable[[Tbs], bytes]] = None,
           wrap: Optional[Callable[[bytes], bytes]] = None, flip_signature: bool = False) -> RawCert:
    """``template`` with its TBSCertificate edited and signed again by ``signer_key``.

    The TBS signature algorithm is set to the one ``signer_key`` and
    ``hash_alg`` make, then ``edit`` changes the fields in place.  The TBS is
    encoded by ``encode_tbs`` (DER by default); the signature is over those
    bytes, or over ``sign_over(tbs)`` when given.  ``outer_alg`` is the
    Certificate's signatureAlgorithm (default: the TBS one); ``wrap`` encodes
    the outer Certificate SEQUENCE from its content (DER by default);
    ``flip_signature`` corrupts the last signature byte.
    """
    tbs = Tbs.of(template.der)
    tbs.signature = sig_alg(key_family(signer_key), hash_alg.name)
    if edit is not None:
        edit(tbs)
    tbs_der = encode_tbs(tbs) if encode_tbs else tbs.encode()
    signature = sign_bytes(signer_key, sign_over(tbs) if sign_over else tbs_der, hash_alg)
    if flip_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
    body = tbs_der + (outer_alg or tbs.signature) + tlv(0x03, b"\x00" + signature)
    return RawCert(wrap(body) if wrap else tlv(0x30, body), template.key, template.subject, template.serial)


def with_file(cert: AnyCert, file_bytes: bytes) -> RawCert:
    """``cert`` whose PEM file holds ``file_bytes``."""
    return RawCert(cert.der, cert.key, cert.subject, cert.serial, file_bytes)


def dup_extension(oid: str) -> Callable[[Tbs], None]:
    """An edit that writes the extension ``oid`` twice (the copy right after the original)."""
    target = der_oid(oid)

    def edit(tbs: Tbs) -> None:
        exts = []
        for ext in tbs.extensions:
            exts.append(ext)
            if extension_oid(ext) == target:
                exts.append(ext)
        assert len(exts) == len(tbs.extensions) + 1, f"no {oid} to duplicate"
        tbs.extensions = exts
    return edit


def add_extensions(*exts: bytes) -> Callable[[Tbs], None]:
    def edit(tbs: Tbs) -> None:
        tbs.extensions = tbs.extensions + list(exts)
    return edit


def replace_extension(oid: str, new: bytes) -> Callable[[Tbs], None]:
    """An edit that puts the Extension element ``new`` in the place of the extension ``oid``."""
    target = der_oid(oid)

    def edit(tbs: Tbs) -> None:
        exts = [new if extension_oid(ext) == target else ext for ext in tbs.extensions]
        assert new in exts, f"no {oid} to replace"
        tbs.extensions = exts
    return edit


def validity_edit(not_before: bytes, not_after: bytes) -> Callable[[Tbs], None]:
    """An edit that writes the validity as the two given time elements."""
    def edit(tbs: Tbs) -> None:
        tbs.validity = tlv(0x30, not_before + not_after)
    return edit


def utc_time(text: str) -> bytes:
    return tlv(0x17, text.encode())


def generalized_time(text: str) -> bytes:
    return tlv(0x18, text.encode())


def version(number: Optional[int], drop_extensions: bool = False) -> Callable[[Tbs], None]:
    """An edit to version ``number`` (encoded value; None = field absent), optionally without extensions."""
    def edit(tbs: Tbs) -> None:
        tbs.set_version(number)
        if drop_extensions:
            tbs.extensions = []
    return edit


def serial_edit(body: bytes) -> Callable[[Tbs], None]:
    """An edit that sets the serial INTEGER's content octets to ``body`` as given."""
    def edit(tbs: Tbs) -> None:
        tbs.serial = tlv(0x02, body)
    return edit


# --- extension values cryptography does not know ---------------------------------------------

OID_PROXY_CERT_INFO = "1.3.6.1.5.5.7.1.14"
OID_IP_ADDR_BLOCKS = "1.3.6.1.5.5.7.1.7"
OID_AS_IDS = "1.3.6.1.5.5.7.1.8"
OID_PRIVATE = "1.3.6.1.4.1.55555.1"

#: ProxyCertInfo (RFC 3820): no path length, policy id-ppl-inheritAll.
PROXY_CERT_INFO = tlv(0x30, tlv(0x30, der_oid("1.3.6.1.5.5.7.21.1")))


def ip_blocks(*prefixes: Tuple[int, ...], inherit: bool = False) -> bytes:
    """IPAddrBlocks (RFC 3779) for IPv4: each prefix as (octets..., bits), or ``inherit``."""
    if inherit:
        choice = NULL
    else:
        items = []
        for *octets, bits in prefixes:
            whole = (bits + 7) // 8
            unused = whole * 8 - bits
            items.append(tlv(0x03, bytes([unused]) + bytes(octets[:whole])))
        choice = tlv(0x30, b"".join(items))
    return tlv(0x30, tlv(0x30, tlv(0x04, b"\x00\x01") + choice))


def as_ids(*numbers: int, inherit: bool = False) -> bytes:
    """ASIdentifiers (RFC 3779): asnum [0] with the given AS numbers, or ``inherit``."""
    choice = NULL if inherit else tlv(0x30, b"".join(der_int(n) for n in numbers))
    return tlv(0x30, tlv(0xA0, choice))


def unrecognized(oid: str, value: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value)


# --- the corpus ------------------------------------------------------------------------------

Expectation = Tuple[Union[str, int], int]


@dataclass
class Case:
    """One verification: ``target`` against the CA ``store``, built to give ``expect`` at ``depth``.

    ``expect`` is "ok", an X509_V_ERR number or "unparseable"; ``file_expect``
    overrides (expect, depth) for ``-CAfile`` mode where the directory layout
    matters.  ``links`` names each store certificate's file in the directory
    (None: the next free ``<hash>.N``; "": no hash link at all).
    """

    name: str
    kind: str
    target: AnyCert
    store: Sequence[AnyCert]
    expect: Union[str, int] = "ok"
    depth: int = 0
    file_expect: Optional[Expectation] = None
    links: Optional[Sequence[Optional[str]]] = None

    def expectation(self, mode: str) -> Expectation:
        """(outcome, depth) this case was built to give in ``-CApath`` or ``-CAfile`` mode."""
        if mode == "-CAfile" and self.file_expect is not None:
            return self.file_expect
        return self.expect, self.depth


#: Every class of attack or edge the corpus must cover (test_verify_differential checks them all).
REQUIRED_KINDS = frozenset({
    "good-chain", "name-copy-self-signed", "same-name-other-key", "trusted-copy",
    "not-ca-intermediate", "no-bc-keycertsign", "ku-without-certsign", "path-length",
    "validity", "nbsp-name", "name-folding", "string-type", "duplicate-extension", "version",
    "critical-unknown", "proxy-cert-info", "rfc3779-ip", "rfc3779-as", "akid-mismatch",
    "sigalg-mismatch", "bad-signature", "wrong-key", "same-name-cas", "wrong-hash-name", "hash-gap",
    "serial-zero", "akid-issuer-serial", "ber-encoding", "pem-trailing", "unparseable", "error-order",
    "unknown-issuer", "name-constraints", "time-encoding", "hash-file-content",
})


def build_cases(k: Optional[Dict[str, object]] = None) -> List[Case]:
    """The whole corpus (a few hundred certificates, made in a second or two)."""
    k = corpus_keys() if k is None else {**corpus_keys(), **k}
    cases: List[Case] = []
    for part in (_classic_cases, _good_chains, _name_copies, _ca_flags, _path_lengths, _validity,
                 _name_matching, _nbsp_escapes, _versions_and_duplicates, _critical_extensions,
                 _akid_cases, _signatures, _store_layouts, _alice_like, _encodings, _error_order,
                 _more_edges, _time_encodings):
        cases.extend(part(k))
    return cases


def _classic_cases(k) -> List[Case]:
    """The first corpus of 31 cases, names kept (tests/support/ca_server.py builds similar CAs)."""
    root = issue(name("Diff Root"), k["rsa0"])
    inter = issue(name("Diff Inter"), k["rsa1"], root)
    leaf = issue(name("Jane Doe"), k["ec0"], inter, ca=False)
    direct = issue(name("John Roe"), k["ec1"], root, ca=False)
    ec_root = issue(name("Diff EC Root"), k["ec2"])
    ec_inter = issue(name("Diff EC Inter"), k["ec3"], ec_root)
    expired_root = issue(name("Diff Old Root"), k["rsa2"], not_before=OLD, not_after=NOW - DAY)
    renewed_root = issue(name("Diff Old Root"), k["rsa2"])  # same name and key as expired_root, valid
    twin_a = issue(name("Diff Twin Root"), k["rsa2"])
    twin_b = issue(name("Diff Twin Root"), k["rsa3"])
    stranger = issue(name("Diff Stranger Root"), k["rsa3"])
    impostor = issue(name("Diff Inter"), k["rsa3"], root)  # same name as inter, another key, not in the store
    forged_inter = issue(name("Diff Inter"), k["rsa1"], root, signer_key=k["rsa3"])
    printable_root = issue(name("Diff Printable Root", string_type=_ASN1Type.PrintableString), k["rsa3"])
    return [
        Case("root itself", "trusted-copy", root, [root]),
        Case("leaf from root", "good-chain", direct, [root]),
        Case("leaf from intermediate", "good-chain", leaf, [root, inter]),
        Case("EC chain", "good-chain", issue(name("Ec User"), k["ec0"], ec_inter, ca=False), [ec_root, ec_inter]),
        Case("RSA leaf under EC CA", "good-chain", issue(name("Rsa User"), k["rsa3"], ec_inter, ca=False),
             [ec_root, ec_inter]),
        Case("RSA-PSS signature", "good-chain", issue(name("Pss User"), k["ec0"], root, ca=False, pss=True), [root]),
        Case("intermediate missing from store", "unknown-issuer", leaf, [root],
             UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
        # The trusted intermediate's own issuer is missing: "unable to get issuer certificate" (2), not 20.
        Case("root missing from store", "unknown-issuer", leaf, [inter], UNABLE_TO_GET_ISSUER_CERT, 1),
        Case("unknown issuer", "unknown-issuer", issue(name("Lost"), k["ec0"], stranger, ca=False), [root, inter],
             UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
        Case("self-signed, not in store", "unknown-issuer", issue(name("Selfie"), k["ec1"]), [root],
             DEPTH_ZERO_SELF_SIGNED_CERT, 0),
        Case("store without any related CA", "unknown-issuer", direct, [stranger],
             UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
        Case("expired root, renewed with the same key", "validity",
             issue(name("Renewed"), k["ec0"], expired_root, ca=False), [expired_root, renewed_root]),
        Case("expired root listed after its renewal", "validity",
             issue(name("Renewed"), k["ec0"], expired_root, ca=False), [renewed_root, expired_root]),
        Case("bad signature, right issuer name and key id", "wrong-key",
             issue(name("Forged"), k["ec0"], inter, ca=False, signer_key=k["rsa3"]), [root, inter],
             CERT_SIGNATURE_FAILURE, 0),
        Case("bad signature, no key id", "wrong-key",
             issue(name("Forged"), k["ec0"], inter, ca=False, signer_key=k["rsa3"], akid=False),
             [root, inter], CERT_SIGNATURE_FAILURE, 0),
        Case("forged intermediate", "wrong-key", issue(name("Under Forged"), k["ec0"], forged_inter, ca=False),
             [root, forged_inter], CERT_SIGNATURE_FAILURE, 1),
        Case("issuer name known, key id names another key", "akid-mismatch",
             issue(name("Wrong Kid"), k["ec0"], impostor, ca=False), [root, inter],
             UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
        Case("same-subject CAs, issued by the first", "same-name-cas",
             issue(name("Twin A"), k["ec0"], twin_a, ca=False), [twin_a, twin_b]),
        Case("same-subject CAs, issued by the second", "same-name-cas",
             issue(name("Twin B"), k["ec0"], twin_b, ca=False), [twin_a, twin_b]),
        # Without a key id OpenSSL takes the first CA of that name (.0, or first in the bundle) and
        # reports its signature failure; it does not try the second.
        Case("same-subject CAs, no key id, second signs", "same-name-cas",
             issue(name("Twin C"), k["ec0"], twin_b, ca=False, akid=False), [twin_a, twin_b],
             CERT_SIGNATURE_FAILURE, 0),
        Case("same-subject CAs, no key id, first signs", "same-name-cas",
             issue(name("Twin D"), k["ec0"], twin_a, ca=False, akid=False), [twin_a, twin_b]),
        Case("issuer name in another string type and case", "string-type",
             issue(name("Case User"), k["ec0"], printable_root, ca=False,
                   issuer_name=name("diff   PRINTABLE root")), [printable_root]),
    ]


def _good_chains(k) -> List[Case]:
    """Good chains with 1..4 CAs above the leaf: RSA and EC keys, SHA-256 and SHA-384."""
    cases = []
    for family in ("rsa", "ec"):
        for hash_alg in (SHA256, SHA384):
            if family == "rsa":
                keys = [k["rsa0"], k["rsa1"], k["rsa2"], k["rsa3"]]
                leaf_key = k["ec4"]
            elif hash_alg is SHA256:
                keys = [k["ec4"], k["ec5"], k["ec6"], k["ec7"]]
                leaf_key = k["ec8"]
            else:
                keys = [k["p384_0"], k["p384_1"], k["p384_2"], k["p384_3"]]
                leaf_key = k["p384_4"]
            for cas in range(1, 5):
                specs = [{"cn": f"Good {family} {hash_alg.name} CA {level}"} for level in range(cas)]
                certs = chain(specs, keys, leaf_key, hash_alg=hash_alg)
                cases.append(Case(f"good {family} {hash_alg.name} chain, {cas} CA(s)", "good-chain",
                                  certs[-1], certs[:-1]))
    root = issue(name("Good Mixed Root"), k["p384_0"], hash_alg=SHA384)
    inter = issue(name("Good Mixed Inter"), k["rsa1"], root, hash_alg=SHA384)
    cases.append(Case("good chain: P-384 root, RSA intermediate, SHA-512 leaf", "good-chain",
                      issue(name("Mixed User"), k["ec9"], inter, ca=False, hash_alg=SHA512), [root, inter]))
    cases.append(Case("good chain, store order reversed", "good-chain",
                      issue(name("Reverse User"), k["ec9"], inter, ca=False), [inter, root]))
    far = issue(name("Good Far Root"), k["rsa2"], not_before=NOW - 9000 * DAY, not_after=NOW + 9000 * DAY)
    cases.append(Case("good chain, validity from 1950 (UTCTime) to 2055 (GeneralizedTime)", "good-chain",
                      issue(name("Far User"), k["ec9"], far, ca=False, not_before=dt.datetime(1950, 1, 1, tzinfo=UTC),
                            not_after=dt.datetime(2055, 1, 1, tzinfo=UTC)), [far]))
    cases.append(Case("good chain, leaf is a CA itself", "good-chain",
                      issue(name("Ca Leaf"), k["ec9"], inter), [root, inter]))
    cases.append(Case("good chain, leaf without any extension", "good-chain",
                      issue(name("Bare User"), k["ec9"], inter, ca=False, bc=False, akid=False,
                            subject_key_id=False), [root, inter]))
    return cases


def _name_copies(k) -> List[Case]:
    """Self-signed certificates that copy the subject name of a CA in the store, and same-name impostor CAs."""
    root = issue(name("Copy Root"), k["rsa0"])
    ec_root = issue(name("Copy EC Root"), k["ec4"])
    inter = issue(name("Copy Inter"), k["rsa1"], root)
    cases = []
    for label, key in (("RSA", k["rsa2"]), ("EC", k["ec5"])):
        for target_root, root_label in ((root, "RSA root"), (ec_root, "EC root")):
            subject = target_root.subject
            cases.append(Case(f"self-signed {label} leaf copying the {root_label} name", "name-copy-self-signed",
                              issue(subject, key, ca=False), [root, ec_root], DEPTH_ZERO_SELF_SIGNED_CERT, 0))
        cases.append(Case(f"self-signed {label} CA copying the RSA root name", "name-copy-self-signed",
                          issue(root.subject, key), [root, inter], DEPTH_ZERO_SELF_SIGNED_CERT, 0))
        # It copies the root's key id into its akid (and has no SKI of its own to contradict it):
        # OpenSSL still calls it self-signed (18), it does not try the real root's key.
        cases.append(Case(f"self-signed {label} leaf copying name and key id of the root", "name-copy-self-signed",
                          issue(root.subject, key, ca=False, subject_key_id=False, akid=x509.AuthorityKeyIdentifier(
                              ski(k["rsa0"]).digest, None, None)), [root], DEPTH_ZERO_SELF_SIGNED_CERT, 0))
    cases.append(Case("self-signed leaf copying an intermediate's name", "name-copy-self-signed",
                      issue(inter.subject, k["ec6"], ca=False), [root, inter], DEPTH_ZERO_SELF_SIGNED_CERT, 0))
    impostor = issue(root.subject, k["rsa3"])
    cases += [
        Case("other CA with the root's name and another key, as the target", "same-name-other-key",
             impostor, [root, inter], DEPTH_ZERO_SELF_SIGNED_CERT, 0),
        Case("leaf of a same-name impostor CA, key id", "same-name-other-key",
             issue(name("Impostor User"), k["ec6"], impostor, ca=False), [root, inter],
             UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
        Case("leaf of a same-name impostor CA, no key id", "same-name-other-key",
             issue(name("Impostor User"), k["ec6"], impostor, ca=False, akid=False), [root, inter],
             CERT_SIGNATURE_FAILURE, 0),
        Case("intermediate of a same-name impostor root", "same-name-other-key",
             issue(name("Impostor User"), k["ec6"], issue(name("Copy Inter"), k["rsa2"], impostor), ca=False),
             [root, inter], UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
        Case("byte-identical copy of the trusted root", "trusted-copy", Cert(root.cert, root.key), [root, inter]),
        Case("byte-identical copy of a trusted EC root", "trusted-copy", ec_root, [root, ec_root]),
        Case("byte-identical copy of a trusted intermediate", "trusted-copy", inter, [root, inter]),
        # Same name and key, another serial: not the stored certificate, so not a trust anchor.
        Case("self-signed end-entity certificate, another of its name and key in the store", "name-copy-self-signed",
             issue(name("Lonely User"), k["ec7"], ca=False), [issue(name("Lonely User"), k["ec7"], ca=False)],
             DEPTH_ZERO_SELF_SIGNED_CERT, 0),
    ]
    lonely = issue(name("Lonely Twin"), k["ec7"], ca=False)
    # The very same self-signed end-entity certificate in the store is a trust anchor: OK.
    cases.append(Case("self-signed end-entity certificate, the same one in the store", "trusted-copy",
                      lonely, [lonely]))
    return cases


def _ca_flags(k) -> List[Case]:
    """Intermediates and roots that are not (quite) CAs: basicConstraints and keyUsage."""
    root = issue(name("Flag Root"), k["rsa0"])
    cases = []

    def under(inter: Cert, label: str, kind: str, expect, depth=1):
        leaf = issue(name("Flag User"), k["ec4"], inter, ca=False)
        cases.append(Case(label, kind, leaf, [root, inter], expect, depth if expect != "ok" else 0))

    under(issue(name("Flag Not CA"), k["rsa1"], root, ca=False), "intermediate with CA:FALSE",
          "not-ca-intermediate", INVALID_CA)
    under(issue(name("Flag Not CA Signs"), k["ec5"], root, ca=False,
                extensions=[(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)]),
          "intermediate with CA:FALSE and keyCertSign", "not-ca-intermediate", INVALID_CA)
    under(issue(name("Flag EC Not CA"), k["ec5"], root, ca=False), "EC intermediate with CA:FALSE",
          "not-ca-intermediate", INVALID_CA)
    # No basicConstraints, keyUsage with keyCertSign: OpenSSL 3 refuses it as an intermediate
    # ("X509_V_FLAG_X509_STRICT is implicit for intermediate CAs"), but accepts it as the root (below).
    under(issue(name("Flag No BC"), k["rsa1"], root, bc=False), "intermediate without basicConstraints, keyCertSign",
          "no-bc-keycertsign", INVALID_CA)
    under(issue(name("Flag No BC EC"), k["ec5"], root, bc=False, key_cert_sign=True),
          "EC intermediate without basicConstraints, keyCertSign", "no-bc-keycertsign", INVALID_CA)
    under(issue(name("Flag No BC No KU"), k["rsa1"], root, bc=False, key_usage=False),
          "intermediate without basicConstraints or keyUsage", "no-bc-keycertsign", INVALID_CA)
    under(issue(name("Flag No BC No Sign"), k["rsa1"], root, bc=False, key_cert_sign=False),
          "intermediate without basicConstraints, keyUsage without keyCertSign", "ku-without-certsign", INVALID_CA)
    under(issue(name("Flag No Sign"), k["rsa1"], root, key_cert_sign=False),
          "CA:TRUE intermediate, keyUsage without keyCertSign", "ku-without-certsign", INVALID_CA)
    under(issue(name("Flag EC No Sign"), k["ec5"], root, key_cert_sign=False),
          "EC CA:TRUE intermediate, keyUsage without keyCertSign", "ku-without-certsign", INVALID_CA)
    # The trust anchor itself is checked as a CA too.
    for label, bad_root in (("root with CA:FALSE", issue(name("Flag Root F"), k["rsa2"], ca=False)),
                            ("root without keyCertSign", issue(name("Flag Root NS"), k["rsa2"], key_cert_sign=False))):
        cases.append(Case(label, "ku-without-certsign" if "keyCertSign" in label else "not-ca-intermediate",
                          issue(name("Flag User"), k["ec4"], bad_root, ca=False), [bad_root], INVALID_CA, 1))
    no_bc_root = issue(name("Flag Root NB"), k["rsa2"], bc=False)
    cases.append(Case("root without basicConstraints, keyCertSign", "no-bc-keycertsign",
                      issue(name("Flag User"), k["ec4"], no_bc_root, ca=False), [no_bc_root]))
    return cases


def _path_lengths(k) -> List[Case]:
    """pathLenConstraint 0/1/2/3 on each CA of chains of 3, 4 and 5 certificates."""
    keys = [k["rsa0"], k["ec4"], k["ec5"], k["ec6"]]
    cases = []
    for length in (3, 4, 5):
        cas = length - 1
        for position in range(cas):  # 0 = the root
            depth = length - 1 - position  # the CA's depth in the chain (leaf = 0)
            below = depth - 1  # CAs between this one and the leaf
            for limit in sorted({0, 1, below - 1, below} - {-1}):
                specs = [{"cn": f"Len CA {i}"} for i in range(cas)]
                specs[position]["path_length"] = limit
                certs = chain(specs, keys, k["ec7"])
                expect = "ok" if below <= limit else PATH_LENGTH_EXCEEDED
                cases.append(Case(f"chain of {length}, pathlen {limit} at depth {depth}", "path-length",
                                  certs[-1], certs[:-1], expect, depth if expect != "ok" else 0))
    # Two violations: OpenSSL reports the one nearest the leaf first.
    specs = [{"cn": "Len Two 0", "path_length": 0}, {"cn": "Len Two 1"}, {"cn": "Len Two 2", "path_length": 0},
             {"cn": "Len Two 3"}]
    certs = chain(specs, keys, k["ec7"])
    cases.append(Case("chain of 5, pathlen 0 at depths 4 and 2", "path-length", certs[-1], certs[:-1],
                      PATH_LENGTH_EXCEEDED, 2))
    # A self-issued intermediate (key rollover: same name, new key) does not count against the limit.
    root = issue(name("Len Rollover"), k["rsa0"], path_length=0)
    rolled = issue(name("Len Rollover"), k["ec4"], root)
    cases.append(Case("pathlen 0 root, self-issued rollover intermediate", "path-length",
                      issue(name("Len User"), k["ec7"], rolled, ca=False), [root, rolled]))
    return cases


def _validity(k) -> List[Case]:
    """Expired and not-yet-valid certificates at each depth of chains of 3 and 4."""
    cases = []
    for family, keys, leaf_key in (("RSA", [k["rsa0"], k["rsa1"], k["rsa2"]], k["ec4"]),
                                   ("EC", [k["ec5"], k["ec6"], k["ec7"]], k["ec8"])):
        for length in (3, 4):
            cas = length - 1
            for depth in range(length):
                for label, window, code in (("expired", (OLD, NOW - DAY), CERT_HAS_EXPIRED),
                                            ("not yet valid", (NOW + DAY, NOW + 400 * DAY), CERT_NOT_YET_VALID)):
                    if family == "EC" and length == 4 and label == "not yet valid":
                        continue  # enough already
                    window_opts = {"not_before": window[0], "not_after": window[1]}
                    specs = [{"cn": f"Time CA {i}"} for i in range(cas)]
                    leaf_opts = None
                    if depth == 0:
                        leaf_opts = window_opts
                    else:
                        specs[cas - depth].update(window_opts)
                    certs = chain(specs, keys, leaf_key, leaf=leaf_opts)
                    cases.append(Case(f"{family} chain of {length}, {label} at depth {depth}", "validity",
                                      certs[-1], certs[:-1], code, depth))
    # A renewed intermediate (same name and key) beside the expired one: OpenSSL prefers the valid one.
    root = issue(name("Time Renew Root"), k["rsa0"])
    old_inter = issue(name("Time Renew Inter"), k["ec5"], root, not_before=OLD, not_after=NOW - DAY)
    new_inter = issue(name("Time Renew Inter"), k["ec5"], root)
    leaf = issue(name("Time User"), k["ec8"], new_inter, ca=False)
    cases.append(Case("expired intermediate beside its renewal", "validity", leaf, [root, old_inter, new_inter]))
    cases.append(Case("renewed intermediate listed before the expired one", "validity", leaf,
                      [root, new_inter, old_inter]))
    return cases


def _name_matching(k) -> List[Case]:
    """Issuer names spelled otherwise than the CA's subject: what OpenSSL's canonical form folds and what not.

    OpenSSL compares names in a canonical form: UTF-8, ASCII letters in lower
    case, runs of ASCII whitespace as one space, leading and trailing
    whitespace dropped, string types converted (PrintableString, T61String
    read as Latin-1, IA5String, BMPString, UTF8String).  Nothing else is folded.
    """
    base = issue(name("Fold Root CA"), k["rsa0"])
    cases = []

    def spelled(label: str, kind: str, issuer_name: x509.Name, ca: Cert = base, expect="ok", **opts):
        leaf = issue(name("Fold User"), k["ec4"], ca, ca=False, issuer_name=issuer_name, **opts)
        cases.append(Case(label, kind, leaf, [ca], expect, 0))

    miss = UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    spelled("issuer name in upper case", "name-folding", name("FOLD ROOT CA", org="JENV-DIFF"))
    spelled("issuer name in lower case", "name-folding", name("fold root ca"))
    spelled("issuer name with doubled spaces", "name-folding", name("Fold   Root  CA"))
    spelled("issuer name with leading and trailing spaces", "name-folding", name("  Fold Root CA "))
    spelled("issuer name with a tab and a newline for spaces", "name-folding", name("Fold\tRoot\nCA"))
    spelled("issuer name, country in upper case", "name-folding",
            x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CH"),
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jenv-diff"),
                       x509.NameAttribute(NameOID.COMMON_NAME, "Fold Root CA")]))
    spelled("issuer name with a non-breaking space", "nbsp-name", name("Fold\u00a0Root CA"), expect=miss)
    spelled("issuer name with a trailing non-breaking space", "nbsp-name", name("Fold Root CA\u00a0"), expect=miss)
    spelled("issuer name with an em space", "nbsp-name", name("Fold\u2003Root CA"), expect=miss)
    spelled("issuer name without the space", "name-folding", name("FoldRoot CA"), expect=miss)
    spelled("issuer name with attributes in another order", "name-folding",
            x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jenv-diff"),
                       x509.NameAttribute(NameOID.COUNTRY_NAME, "ch"),
                       x509.NameAttribute(NameOID.COMMON_NAME, "Fold Root CA")]), expect=miss)
    spelled("issuer name with the CN as an OU", "name-folding",
            x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "ch"),
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jenv-diff"),
                       x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Fold Root CA")]), expect=miss)

    umlaut = issue(name("Fold Zürich CA"), k["rsa1"])
    spelled("non-ASCII letter in upper case (Ü for ü)", "name-folding", name("Fold ZÜrich CA"), umlaut, miss)
    spelled("non-ASCII letter, ASCII part in upper case", "name-folding", name("FOLD ZüRICH CA"), umlaut)
    sharp = issue(name("Fold Straße CA"), k["rsa1"])
    spelled("ß spelled ss (Unicode case folding)", "name-folding", name("Fold Strasse CA"), sharp, miss)

    printable = issue(typed_name("Type Root CA", _ASN1Type.PrintableString), k["rsa2"])
    utf8 = issue(typed_name("Type Root CA", _ASN1Type.UTF8String), k["rsa2"])
    for ca_label, ca in (("PrintableString", printable), ("UTF8String", utf8)):
        for leaf_type in (_ASN1Type.PrintableString, _ASN1Type.UTF8String, _ASN1Type.BMPString,
                          _ASN1Type.IA5String, _ASN1Type.T61String):
            if leaf_type.name == ca_label:
                continue
            spelled(f"{ca_label} CA, issuer name as {leaf_type.name}", "string-type",
                    typed_name("Type Root CA", leaf_type), ca)
    spelled("PrintableString CA, issuer in UTF8String and another case", "string-type",
            typed_name("type ROOT ca", _ASN1Type.UTF8String), printable)
    # cryptography writes T61String as UTF-8 bytes; OpenSSL reads T61String as Latin-1: no match.
    spelled("T61String issuer name with UTF-8 bytes for ü", "string-type",
            typed_name("Fold Zürich CA", _ASN1Type.T61String), umlaut, miss)
    latin1_issuer = _t61_latin1_issuer(name("Fold Zürich CA"))
    leaf = issue(name("Fold User"), k["ec4"], umlaut, ca=False)
    cases.append(Case("T61String issuer name with the Latin-1 byte for ü", "string-type",
                      resign(leaf, umlaut.key, latin1_issuer), [umlaut]))
    return cases


def _t61_latin1_issuer(utf8_name: x509.Name) -> Callable[[Tbs], None]:
    """An edit writing the issuer as ``utf8_name`` with its CN a T61String in Latin-1 bytes."""
    def edit(tbs: Tbs) -> None:
        rdns = []
        for rdn in utf8_name.rdns:
            (attr,) = list(rdn)
            if attr.oid == NameOID.COMMON_NAME:
                value = tlv(0x14, attr.value.encode("latin-1"))
            elif attr.oid == NameOID.COUNTRY_NAME:
                value = tlv(0x13, attr.value.encode())
            else:
                value = tlv(0x0C, attr.value.encode())
            rdns.append(tlv(0x31, tlv(0x30, der_oid(attr.oid.dotted_string) + value)))
        tbs.issuer = tlv(0x30, b"".join(rdns))
    return edit


def _nbsp_escapes(k) -> List[Case]:
    """A sub-CA named like its pathlen-0 parent but for one character, hoping to pass as self-issued.

    A self-issued CA (issuer name = subject name) does not count against a
    path-length limit.  OpenSSL folds only ASCII case and ASCII whitespace,
    so a U+00A0 (or other Unicode space or letter case) makes a new name:
    the sub-CA counts and the parent's pathlen 0 is exceeded (error 25 at
    the parent, depth 2).  A sub-CA differing only in ASCII case or ASCII
    whitespace is self-issued for OpenSSL: it does not count, the chain verifies.
    """
    cases = []
    for parent_at_root in (True, False):
        top = issue(name("Nbsp Top Root"), k["rsa0"])
        if parent_at_root:
            parent = issue(name("Tight Grid CA"), k["rsa1"], path_length=0)
            store_base: List[Cert] = [parent]
        else:
            parent = issue(name("Tight Grid CA"), k["rsa1"], top, path_length=0)
            store_base = [top, parent]
        where = "root" if parent_at_root else "intermediate"
        for label, sub_cn, expect in (
                ("U+00A0 for the space", "Tight\u00a0Grid CA", PATH_LENGTH_EXCEEDED),
                ("trailing U+00A0", "Tight Grid CA\u00a0", PATH_LENGTH_EXCEEDED),
                ("U+2003 em space", "Tight\u2003Grid CA", PATH_LENGTH_EXCEEDED),
                ("U+3000 ideographic space", "Tight\u3000Grid CA", PATH_LENGTH_EXCEEDED),
                ("ASCII case only", "tight grid ca", "ok"),
                ("doubled ASCII space", "Tight  Grid CA", "ok"),
                ("trailing ASCII space", "Tight Grid CA ", "ok"),
                ("tab for the space", "Tight\tGrid CA", "ok")):
            if not parent_at_root and label not in ("U+00A0 for the space", "ASCII case only", "trailing U+00A0"):
                continue
            sub = issue(name(sub_cn), k["ec4"], parent)
            leaf = issue(name("Nbsp User"), k["ec5"], sub, ca=False)
            kind = "nbsp-name" if expect != "ok" else "name-folding"
            cases.append(Case(f"pathlen 0 {where}, sub-CA name differs by {label}", kind, leaf,
                              store_base + [sub], expect, 2 if expect != "ok" else 0))
    # Non-ASCII case folding is not done by OpenSSL either.
    parent = issue(name("Tight Grid CÄ"), k["rsa1"], path_length=0)
    sub = issue(name("tight grid cä"), k["ec4"], parent)
    cases.append(Case("pathlen 0 root, sub-CA name differs by non-ASCII case", "nbsp-name",
                      issue(name("Nbsp User"), k["ec5"], sub, ca=False), [parent, sub], PATH_LENGTH_EXCEEDED, 2))
    return cases


def _versions_and_duplicates(k) -> List[Case]:
    """Version 1 and 2 certificates, and certificates with an extension twice."""
    cases = []
    root = issue(name("Ver Root"), k["rsa0"])
    inter = issue(name("Ver Inter"), k["rsa1"], root)
    v1_root = resign(issue(name("Ver V1 Root"), k["rsa2"]), k["rsa2"], version(None, drop_extensions=True))
    v1_leaf_tpl = issue(name("Ver V1 User"), k["ec4"], v1_root, ca=False)
    cases += [
        # A self-signed version 1 root is a trust anchor for OpenSSL (check_ca: V1_ROOT).
        Case("v1 self-signed root, v3 leaf", "version", issue(name("Ver User"), k["ec4"], v1_root, ca=False,
                                                               akid=False), [v1_root]),
        Case("v1 self-signed root, v1 leaf", "version",
             resign(v1_leaf_tpl, k["rsa2"], version(None, drop_extensions=True)), [v1_root]),
        Case("v1 root verified itself", "version", v1_root, [v1_root]),
        Case("v1 leaf under a v3 chain", "version",
             resign(issue(name("Ver V1 Leaf"), k["ec4"], inter, ca=False), k["rsa1"],
                    version(None, drop_extensions=True)), [root, inter]),
        Case("v1 leaf, version 0 written out (DEFAULT encoded)", "version",
             resign(issue(name("Ver V1 Explicit"), k["ec4"], inter, ca=False), k["rsa1"],
                    version(0, drop_extensions=True)), [root, inter]),
    ]
    v1_inter = resign(issue(name("Ver V1 Inter"), k["ec5"], root), k["rsa0"], version(None, drop_extensions=True))
    cases.append(Case("v1 intermediate", "version", issue(name("Ver User"), k["ec4"], v1_inter, ca=False, akid=False),
                      [root, v1_inter], INVALID_CA, 1))
    v1_ss_inter = resign(issue(name("Ver V1 Inter SS"), k["ec5"]), k["ec5"], version(None, drop_extensions=True))
    cases.append(Case("v1 self-signed CA used as an intermediate's issuer", "version",
                      issue(name("Ver User"), k["ec4"], v1_ss_inter, ca=False, akid=False), [v1_ss_inter]))
    # Version 2 (value 1) with extensions: OpenSSL reads and uses the extensions (not -x509_strict).
    v2_inter = resign(issue(name("Ver V2 Inter"), k["ec5"], root), k["rsa0"], version(1))
    v2_root = resign(issue(name("Ver V2 Root"), k["rsa2"]), k["rsa2"], version(1, True))
    v1_ext_inter = resign(issue(name("Ver V1 Ext CA"), k["ec5"], root), k["rsa0"], version(None))
    cases += [
        Case("v2 intermediate with basicConstraints", "version",
             issue(name("Ver User"), k["ec4"], v2_inter, ca=False), [root, v2_inter]),
        Case("v2 leaf with extensions", "version",
             resign(issue(name("Ver V2 User"), k["ec4"], inter, ca=False), k["rsa1"], version(1)), [root, inter]),
        Case("v2 leaf without extensions", "version",
             resign(issue(name("Ver V2 Bare"), k["ec4"], inter, ca=False), k["rsa1"], version(1, True)),
             [root, inter]),
        # Only a version 1 self-signed certificate without basicConstraints passes as a root (V1_ROOT).
        Case("v2 self-signed root without extensions", "version",
             issue(name("Ver User"), k["ec4"], v2_root, ca=False, akid=False), [v2_root], INVALID_CA, 1),
        # Extensions in a certificate that says version 1: OpenSSL still reads them.
        Case("v1 leaf carrying extensions", "version",
             resign(issue(name("Ver V1 Ext"), k["ec4"], inter, ca=False), k["rsa1"], version(None)), [root, inter]),
        Case("v1 intermediate carrying CA extensions", "version",
             issue(name("Ver User"), k["ec4"], v1_ext_inter, ca=False), [root, v1_ext_inter]),
    ]
    # Duplicate extensions: OpenSSL marks the certificate invalid (EXFLAG_INVALID) when it finds one twice.
    dup_cases = [
        ("leaf with basicConstraints twice", "2.5.29.19", False),
        ("leaf with subjectKeyIdentifier twice", "2.5.29.14", False),
        ("leaf with authorityKeyIdentifier twice", "2.5.29.35", False),
        ("leaf with an unknown private extension twice", OID_PRIVATE, False),
        ("intermediate with basicConstraints twice", "2.5.29.19", True),
        ("intermediate with keyUsage twice", "2.5.29.15", True),
    ]
    for label, oid, at_inter in dup_cases:
        extra = [(unrecognized(OID_PRIVATE, NULL), False)] if oid == OID_PRIVATE else []
        if at_inter:
            dup = resign(issue(name("Dup Inter"), k["ec5"], root), k["rsa0"], dup_extension(oid))
            target = issue(name("Dup User"), k["ec4"], dup, ca=False)
            store = [root, dup]
        else:
            target = resign(issue(name("Dup User"), k["ec4"], inter, ca=False, extensions=extra), k["rsa1"],
                            dup_extension(oid))
            store = [root, inter]
        # OpenSSL refuses a certificate with a known extension twice (EXFLAG_INVALID): it is never
        # taken as issuer, nor given an issuer, so the leaf's issuer is "not found" (20 at depth 0).
        # An unknown extension twice is not looked at.
        expect = "ok" if oid == OID_PRIVATE else UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        cases.append(Case(label, "duplicate-extension", target, store, expect, 0))
    return cases


def _critical_extensions(k) -> List[Case]:
    """Critical extensions OpenSSL does not handle, proxyCertInfo, RFC 3779 resources, name constraints."""
    cases = []
    root = issue(name("Crit Root"), k["rsa0"])
    inter = issue(name("Crit Inter"), k["rsa1"], root)

    def leaf_with(label, kind, exts, expect, depth=0, ca=inter, store=None, **opts):
        target = issue(name("Crit User"), k["ec4"], ca, ca=False, extensions=exts, **opts)
        cases.append(Case(label, kind, target, store or [root, inter], expect, depth))

    private = unrecognized(OID_PRIVATE, NULL)
    leaf_with("unknown private extension, critical", "critical-unknown", [(private, True)],
              UNHANDLED_CRITICAL_EXTENSION)
    leaf_with("unknown private extension, not critical", "critical-unknown", [(private, False)], "ok")
    strict_inter = issue(name("Crit Strict Inter"), k["ec5"], root, unknown_critical=True)
    leaf_with("unknown critical extension in an intermediate", "critical-unknown", [], UNHANDLED_CRITICAL_EXTENSION,
              1, strict_inter, [root, strict_inter])
    strict_root = issue(name("Crit Strict Root"), k["rsa2"], unknown_critical=True)
    leaf_with("unknown critical extension in the root", "critical-unknown", [], UNHANDLED_CRITICAL_EXTENSION,
              1, strict_root, [strict_root])
    # Extensions OpenSSL knows but does not "handle" (X509_supported_extension): critical = refused.
    leaf_with("subjectKeyIdentifier marked critical", "critical-unknown", [], UNHANDLED_CRITICAL_EXTENSION,
              ski_critical=True)
    leaf_with("authorityInfoAccess marked critical", "critical-unknown",
              [(x509.AuthorityInformationAccess([x509.AccessDescription(
                  x509.oid.AuthorityInformationAccessOID.OCSP,
                  x509.UniformResourceIdentifier("http://ocsp.example.org"))]), True)],
              UNHANDLED_CRITICAL_EXTENSION)
    leaf_with("issuerAltName marked critical", "critical-unknown",
              [(x509.IssuerAlternativeName([x509.DNSName("ca.example.org")]), True)], UNHANDLED_CRITICAL_EXTENSION)
    # Handled ones may be critical.
    leaf_with("extendedKeyUsage and subjectAltName critical", "critical-unknown",
              [(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), True),
               (x509.SubjectAlternativeName([x509.RFC822Name("jane@example.org")]), True)], "ok")
    leaf_with("certificatePolicies critical", "critical-unknown",
              [(x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("1.2.3.4"), None)]), True)],
              "ok")
    # BER boolean: any non-zero octet is TRUE for OpenSSL.
    cases.append(Case("unknown extension, critical written as 0x01", "critical-unknown",
                      resign(issue(name("Crit User"), k["ec4"], inter, ca=False), k["rsa1"], add_extensions(
                          extension_der(OID_PRIVATE, NULL, critical_byte=b"\x01"))), [root, inter],
                      UNHANDLED_CRITICAL_EXTENSION, 0))
    cases.append(Case("unknown extension, critical FALSE written out", "critical-unknown",
                      resign(issue(name("Crit User"), k["ec4"], inter, ca=False), k["rsa1"], add_extensions(
                          extension_der(OID_PRIVATE, NULL, critical_byte=b"\x00"))), [root, inter]))

    # proxyCertInfo: OpenSSL knows it; `openssl verify` does not allow proxy certificates.
    proxy = unrecognized(OID_PROXY_CERT_INFO, PROXY_CERT_INFO)
    leaf_with("proxyCertInfo critical, issued by a CA", "proxy-cert-info", [(proxy, True)],
              PROXY_CERTIFICATES_NOT_ALLOWED)
    leaf_with("proxyCertInfo not critical, issued by a CA", "proxy-cert-info", [(proxy, False)],
              PROXY_CERTIFICATES_NOT_ALLOWED)
    user = issue(name("Crit Proxy Owner"), k["ec5"], inter, ca=False,
                 extensions=[(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)])
    proxy_name = x509.Name(list(user.subject) + [x509.NameAttribute(NameOID.COMMON_NAME, "12345")])
    rfc3820 = issue(proxy_name, k["ec6"], user, ca=False, bc=False, extensions=[(proxy, True)])
    cases.append(Case("RFC 3820 proxy of a user certificate in the store", "proxy-cert-info", rfc3820,
                      [root, inter, user], PROXY_CERTIFICATES_NOT_ALLOWED, 0))
    cases.append(Case("RFC 3820 proxy, proxyCertInfo critical with a path length", "proxy-cert-info",
                      issue(proxy_name, k["ec6"], user, ca=False, bc=False, extensions=[
                          (unrecognized(OID_PROXY_CERT_INFO, tlv(0x30, der_int(0) + tlv(0x30, der_oid(
                              "1.3.6.1.5.5.7.21.1")))), True)]), [root, inter, user],
                      PROXY_CERTIFICATES_NOT_ALLOWED, 0))

    # RFC 3779: OpenSSL handles sbgp-ipAddrBlock and sbgp-autonomousSysNum and checks the nesting.
    def ip(*prefixes, inherit=False):
        return unrecognized(OID_IP_ADDR_BLOCKS, ip_blocks(*prefixes, inherit=inherit))

    def asn(*numbers, inherit=False):
        return unrecognized(OID_AS_IDS, as_ids(*numbers, inherit=inherit))

    # The error is reported at the depth of the issuer that lacks the resource.
    leaf_with("RFC 3779 IP block critical, issuers without", "rfc3779-ip", [(ip((10, 8)), True)],
              UNNESTED_RESOURCE, 1)
    leaf_with("RFC 3779 AS numbers critical, issuers without", "rfc3779-as", [(asn(64512), True)],
              UNNESTED_RESOURCE, 1)
    for label, root_ip, inter_ip, leaf_ip, expect, depth in (
            ("nested IP blocks", (10, 8), (10, 1, 16), (10, 1, 2, 24), "ok", 0),
            ("leaf IP block outside its issuer's", (10, 8), (10, 1, 16), (10, 2, 16), UNNESTED_RESOURCE, 1),
            ("intermediate IP block outside the root's", (10, 8), (11, 8), (11, 1, 16), UNNESTED_RESOURCE, 2)):
        ip_root = issue(name("Ip Root"), k["rsa2"], extensions=[(ip(root_ip), True)])
        ip_inter = issue(name("Ip Inter"), k["ec5"], ip_root, extensions=[(ip(inter_ip), True)])
        target = issue(name("Ip User"), k["ec4"], ip_inter, ca=False, extensions=[(ip(leaf_ip), True)])
        cases.append(Case(f"RFC 3779 {label}, all critical", "rfc3779-ip", target, [ip_root, ip_inter], expect, depth))
    ip_root = issue(name("Ip Root"), k["rsa2"], extensions=[(ip((10, 8)), True)])
    cases.append(Case("RFC 3779 IP inherit under a root with a block", "rfc3779-ip",
                      issue(name("Ip User"), k["ec4"], ip_root, ca=False, extensions=[(ip(inherit=True), True)]),
                      [ip_root]))
    as_root = issue(name("As Root"), k["rsa2"], extensions=[(asn(64512, 64520), True)])
    cases.append(Case("RFC 3779 AS number within the root's", "rfc3779-as",
                      issue(name("As User"), k["ec4"], as_root, ca=False, extensions=[(asn(64520), True)]), [as_root]))
    cases.append(Case("RFC 3779 AS number outside the root's", "rfc3779-as",
                      issue(name("As User"), k["ec4"], as_root, ca=False, extensions=[(asn(65000), True)]), [as_root],
                      UNNESTED_RESOURCE, 1))
    # Adjacent AS numbers as two ids instead of one range are not canonical (RFC 3779 2.3):
    # OpenSSL calls the extension invalid (41), at the depth of the certificate carrying it.
    odd_root = issue(name("As Odd Root"), k["rsa2"], extensions=[(asn(64512, 64513), True)])
    cases.append(Case("RFC 3779 AS numbers not in canonical form in the root", "rfc3779-as",
                      issue(name("As User"), k["ec4"], odd_root, ca=False, extensions=[(asn(64512), True)]),
                      [odd_root], INVALID_EXTENSION, 1))
    cases.append(Case("RFC 3779 IP blocks not in canonical form in the leaf", "rfc3779-ip",
                      issue(name("Ip User"), k["ec4"], ip_root, ca=False,
                            extensions=[(ip((10, 2, 16), (10, 1, 16)), True)]), [ip_root], INVALID_EXTENSION, 0))

    # Name constraints on the root: the leaf's subject outside the permitted subtree.
    nc = x509.NameConstraints(permitted_subtrees=[x509.DirectoryName(x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "ch"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jenv-diff")]))],
        excluded_subtrees=None)
    nc_root = issue(name("Nc Root"), k["rsa2"], extensions=[(nc, True)])
    cases.append(Case("name constraints: leaf inside the permitted subtree", "name-constraints",
                      issue(name("Nc User"), k["ec4"], nc_root, ca=False), [nc_root]))
    cases.append(Case("name constraints: leaf outside the permitted subtree", "name-constraints",
                      issue(name("Nc User", org="elsewhere"), k["ec4"], nc_root, ca=False), [nc_root],
                      PERMITTED_VIOLATION, 0))
    return cases


def _akid_cases(k) -> List[Case]:
    """authorityKeyIdentifier fields (key id, issuer name, serial) that do or do not match the issuer."""
    root = issue(name("Akid Root"), k["rsa0"])
    inter = issue(name("Akid Inter"), k["rsa1"], root)
    miss = UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    cases = []
    for label, akid, expect in (
            ("key id, issuer name and serial all right", full_akid(inter, root.subject), "ok"),
            ("issuer name and serial, no key id", full_akid(inter, root.subject, keyid=False), "ok"),
            ("serial of another certificate", full_akid(inter, root.subject, serial=inter.serial + 1), miss),
            ("issuer name of another CA", full_akid(inter, name("Akid Elsewhere")), miss),
            ("the issuer's own name instead of its issuer's", full_akid(inter, inter.subject), miss),
            ("wrong serial, no key id", full_akid(inter, root.subject, serial=7, keyid=False), miss),
            ("key id of another key", x509.AuthorityKeyIdentifier(ski(k["rsa3"]).digest, None, None), miss)):
        target = issue(name("Akid User"), k["ec4"], inter, ca=False, akid=akid)
        cases.append(Case(f"authorityKeyIdentifier: {label}", "akid-mismatch" if expect != "ok" else
                          "akid-issuer-serial", target, [root, inter], expect, 0))
    # The issuer has no subjectKeyIdentifier: a key id in the leaf cannot be compared, OpenSSL ignores it.
    bare = issue(name("Akid Bare Inter"), k["ec5"], root, subject_key_id=False)
    cases.append(Case("authorityKeyIdentifier key id, issuer without subjectKeyIdentifier", "akid-mismatch",
                      issue(name("Akid User"), k["ec4"], bare, ca=False, akid=x509.AuthorityKeyIdentifier(
                          b"\x01\x02\x03", None, None)), [root, bare]))
    # An intermediate whose akid points at another root: OpenSSL finds no issuer for it.
    lost = issue(name("Akid Lost Inter"), k["ec5"], root, akid=full_akid(root, root.subject, serial=root.serial + 5))
    cases.append(Case("intermediate whose authorityKeyIdentifier serial is wrong", "akid-mismatch",
                      issue(name("Akid User"), k["ec4"], lost, ca=False), [root, lost], UNABLE_TO_GET_ISSUER_CERT, 1))
    return cases


def _signatures(k) -> List[Case]:
    """Bad signatures, wrong keys, and outer signatureAlgorithm differing from the TBS one."""
    cases = []
    root = issue(name("Sig Root"), k["rsa0"])
    inter = issue(name("Sig Inter"), k["rsa1"], root)
    ec_inter = issue(name("Sig EC Inter"), k["ec5"], root)
    fail = CERT_SIGNATURE_FAILURE

    def leaf(cn="Sig User", issuer=inter):
        return issue(name(cn), k["ec4"], issuer, ca=False)

    cases += [
        Case("RSA signature with its last byte changed", "bad-signature",
             resign(leaf(), k["rsa1"], flip_signature=True), [root, inter], fail, 0),
        Case("ECDSA signature with its last byte changed", "bad-signature",
             resign(leaf(issuer=ec_inter), k["ec5"], flip_signature=True), [root, ec_inter], fail, 0),
        Case("intermediate's signature with its last byte changed", "bad-signature",
             leaf(), [root, resign(inter, k["rsa0"], flip_signature=True)], fail, 1),
        # OpenSSL does not check the trust anchor's self-signature.
        Case("root's self-signature with its last byte changed", "bad-signature",
             issue(name("Sig User"), k["ec4"], resign(root, k["rsa0"], flip_signature=True), ca=False),
             [resign(root, k["rsa0"], flip_signature=True)]),
        Case("leaf signed by the wrong RSA key, key id right", "wrong-key",
             issue(name("Sig User"), k["ec4"], inter, ca=False, signer_key=k["rsa2"]), [root, inter], fail, 0),
        Case("leaf signed by the wrong EC key, key id right", "wrong-key",
             issue(name("Sig User"), k["ec4"], ec_inter, ca=False, signer_key=k["ec6"]), [root, ec_inter], fail, 0),
        Case("leaf signed by the root, naming the intermediate", "wrong-key",
             issue(name("Sig User"), k["ec4"], inter, ca=False, signer_key=k["rsa0"]), [root, inter], fail, 0),
        # An ECDSA signature under an RSA issuer: the key type does not fit, OpenSSL never takes it as issuer.
        Case("leaf signed by an EC key, issuer has an RSA key", "wrong-key",
             issue(name("Sig User"), k["ec4"], inter, ca=False, signer_key=k["ec6"]), [root, inter],
             UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
    ]
    rsa256, rsa384 = sig_alg("rsa", "sha256"), sig_alg("rsa", "sha384")
    for label, outer, expect in (
            ("outer sha384WithRSA, TBS sha256WithRSA", rsa384, fail),
            ("outer without the NULL parameters", sig_alg("rsa", "sha256", null_params=False), fail),
            ("outer ecdsa-with-SHA256, TBS sha256WithRSA", sig_alg("ec", "sha256"), fail),
            ("outer the same as the TBS (control)", rsa256, "ok")):
        cases.append(Case(f"signatureAlgorithm mismatch: {label}", "sigalg-mismatch",
                          resign(leaf(), k["rsa1"], outer_alg=outer), [root, inter], expect, 0))
    # Signed with SHA-384 but both algorithm fields say SHA-256: the signature fails.
    cases.append(Case("signatureAlgorithm says SHA-256, signed with SHA-384", "sigalg-mismatch",
                      resign(leaf(), k["rsa1"], lambda tbs: setattr(tbs, "signature", rsa256), hash_alg=SHA384),
                      [root, inter], fail, 0))
    cases.append(Case("outer signatureAlgorithm mismatch in an intermediate", "sigalg-mismatch",
                      leaf(), [root, resign(inter, k["rsa0"], outer_alg=rsa384)], fail, 1))
    # RSA algorithm identifiers with absent parameters, both the same: OpenSSL accepts them.
    no_null = sig_alg("rsa", "sha256", null_params=False)
    cases.append(Case("sha256WithRSA without NULL parameters in both fields", "sigalg-mismatch",
                      resign(leaf(), k["rsa1"], lambda tbs: setattr(tbs, "signature", no_null)), [root, inter]))
    ec_null = sig_alg("ec", "sha256", null_params=True)
    cases.append(Case("ecdsa-with-SHA256 with NULL parameters in both fields", "sigalg-mismatch",
                      resign(leaf(issuer=ec_inter), k["ec5"], lambda tbs: setattr(tbs, "signature", ec_null)),
                      [root, ec_inter]))
    return cases


def _store_layouts(k) -> List[Case]:
    """The ``<hash>.N`` files of a CA directory: same-name CAs, wrong names, numbering gaps."""
    cases = []
    twin_a = issue(name("Hash Twin CA"), k["rsa0"])
    twin_b = issue(name("Hash Twin CA"), k["ec4"])
    twin_c = issue(name("Hash Twin CA"), k["ec5"])
    other = issue(name("Hash Other CA"), k["rsa1"])

    def user(ca, **opts):
        return issue(name("Hash User"), k["ec6"], ca, ca=False, **opts)

    cases += [
        Case("three same-name CAs, the third signs, key id", "same-name-cas", user(twin_c), [twin_a, twin_b, twin_c]),
        # The RSA one comes first, but an ECDSA signature does not fit an RSA key: OpenSSL skips it.
        Case("two same-name CAs, RSA and EC, the EC one signs, no key id", "same-name-cas",
             user(twin_b, akid=False), [twin_a, twin_b]),
        Case("two same-name CAs, the second signs, no key id, listed first", "same-name-cas",
             user(twin_b, akid=False), [twin_b, twin_a]),
    ]
    # The issuer's file has the hash of another name: OpenSSL's directory lookup cannot find it;
    # in a bundle it is found.
    hash_of_other = subject_hash_of(other) or ""
    twin_hash = subject_hash_of(twin_a) or ""
    cases.append(Case("issuer stored under another CA's hash", "wrong-hash-name", user(other), [twin_a, other],
                      UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, file_expect=("ok", 0),
                      links=[hash_of_other + ".0", twin_hash + ".0"]))
    cases.append(Case("issuer stored under an upper-case hash", "wrong-hash-name", user(other), [other],
                      UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, file_expect=("ok", 0),
                      links=[hash_of_other.upper() + ".0"]))
    cases.append(Case("issuer stored as ca0.pem only, no hash link", "wrong-hash-name", user(other), [other],
                      UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, file_expect=("ok", 0), links=[""]))
    cases.append(Case("issuer stored as <hash>.1 with no .0", "hash-gap", user(other), [other],
                      UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, file_expect=("ok", 0), links=[hash_of_other + ".1"]))
    cases.append(Case("same-name CAs as .0 and .2, the .2 one signs", "hash-gap", user(twin_b), [twin_a, twin_b],
                      UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, file_expect=("ok", 0),
                      links=[twin_hash + ".0", twin_hash + ".2"]))
    cases.append(Case("same-name CAs as .0 and .2, the .0 one signs", "hash-gap", user(twin_a), [twin_a, twin_b],
                      links=[twin_hash + ".0", twin_hash + ".2"]))
    cases.append(Case("same-name CAs as .0, .1 and .3, the .3 one signs", "hash-gap", user(twin_c),
                      [twin_a, twin_b, twin_c], UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, file_expect=("ok", 0),
                      links=[twin_hash + ".0", twin_hash + ".1", twin_hash + ".3"]))
    cases += _hash_file_layouts(k, user)
    # A .0 that is not a certificate at all: OpenSSL's lookup gives up there and never reads .1.
    garbage = RawCert(b"", None, other.subject, file_bytes=b"not a certificate\n")
    cases.append(Case("unreadable <hash>.0 in front of the issuer at .1", "hash-gap", user(other), [garbage, other],
                      UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0, file_expect=("ok", 0),
                      links=[hash_of_other + ".0", hash_of_other + ".1"]))
    return cases


def _hash_file_layouts(k, user) -> List[Case]:
    """A CA filed under another subject's hash, several certificates in one hash file, a same-name
    root placed second in a file: OpenSSL's by_dir loads every certificate of a file it opens into the
    store, and looks a name up only under that name's hash."""
    root = issue(name("Layout Root"), k["rsa2"])
    inter = issue(name("Layout Inter"), k["ec7"], root)
    twin = issue(name("Layout Root"), k["ec8"])  # the root's name, another key
    leaf = user(inter)
    root_hash, inter_hash = subject_hash_of(root) or "", subject_hash_of(inter) or ""
    leaf_hash = subject_hash_of(leaf) or ""

    def together(*certs: Cert) -> RawCert:
        return RawCert(certs[0].der, certs[0].key, certs[0].subject, certs[0].serial,
                       file_bytes=b"".join(cert.pem for cert in certs))

    expected = LAYOUT_VERDICTS
    return [
        Case(f"layout: {label}", kind, leaf, store, *expected[label], file_expect=("ok", 0), links=links)
        for label, kind, store, links in [
            ("root filed under the intermediate's hash", "wrong-hash-name", [inter, root],
             [inter_hash + ".0", inter_hash + ".1"]),
            ("intermediate filed under the leaf's subject hash", "wrong-hash-name", [root, inter],
             [root_hash + ".0", leaf_hash + ".0"]),
            ("intermediate filed under the root's hash, root at .0", "wrong-hash-name", [root, inter],
             [root_hash + ".0", root_hash + ".1"]),
            ("intermediate and root in one file under the intermediate's hash", "hash-file-content",
             [together(inter, root)], [inter_hash + ".0"]),
            ("root and intermediate in one file under the root's hash", "hash-file-content",
             [together(root, inter)], [root_hash + ".0"]),
            ("same-name root placed second in the root's hash file", "hash-file-content",
             [together(twin, root), inter], [root_hash + ".0", inter_hash + ".0"]),
            ("same-name root placed first in the root's hash file", "hash-file-content",
             [together(root, twin), inter], [root_hash + ".0", inter_hash + ".0"]),
        ]
    ]


#: What ``openssl verify -CApath`` (OpenSSL 3) says for each layout of :func:`_hash_file_layouts`: a
#: certificate is found when its name's hash file holds it, or when a file opened for another name
#: (the intermediate's, looked up first) held it too; never by a hash file of another name alone.
LAYOUT_VERDICTS: Dict[str, Tuple[Union[str, int], int]] = {
    "root filed under the intermediate's hash": ("ok", 0),
    "intermediate filed under the leaf's subject hash": (UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
    "intermediate filed under the root's hash, root at .0": (UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
    "intermediate and root in one file under the intermediate's hash": ("ok", 0),
    "root and intermediate in one file under the root's hash": (UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
    "same-name root placed second in the root's hash file": ("ok", 0),
    "same-name root placed first in the root's hash file": ("ok", 0),
}


def _alice_like(k) -> List[Case]:
    """Serial number 0, authorityKeyIdentifier with issuer name and serial, pathlen 0: as the ALICE CAs."""
    cases = []

    def zero(cert: AnyCert, signer) -> RawCert:
        made = resign(cert, signer, serial_edit(b"\x00"))
        made.serial = 0
        return made

    root_tpl = issue(name("AliEn2-like CA"), k["rsa0"], path_length=0)
    root_akid = full_akid(root_tpl, root_tpl.subject, serial=0)
    # Self-signed with an akid naming itself and serial 0, like AliEn2-CA.
    root0 = zero(issue(name("AliEn2-like CA"), k["rsa0"], path_length=0, akid=root_akid), k["rsa0"])
    cases.append(Case("serial 0 root with akid name+serial, verified itself", "serial-zero", root0, [root0]))
    leaf = issue(name("Alice User"), k["ec4"], root0, ca=False, akid=full_akid(root0, root0.subject))
    cases.append(Case("leaf of a serial 0 pathlen 0 root, akid name+serial 0", "akid-issuer-serial", leaf, [root0]))
    cases.append(Case("leaf of a serial 0 root, akid serial 1", "akid-mismatch",
                      issue(name("Alice User"), k["ec4"], root0, ca=False,
                            akid=full_akid(root0, root0.subject, serial=1)), [root0],
                      UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0))
    cases.append(Case("serial 0 leaf", "serial-zero",
                      zero(issue(name("Alice Zero User"), k["ec4"], root0, ca=False), k["rsa0"]), [root0]))
    # pathlen 0 root: an intermediate below it is one too many, whatever its akid says.
    sub = issue(name("Alice Sub CA"), k["ec5"], root0, akid=full_akid(root0, root0.subject))
    cases.append(Case("intermediate under a pathlen 0 serial 0 root", "path-length",
                      issue(name("Alice User"), k["ec4"], sub, ca=False), [root0, sub], PATH_LENGTH_EXCEEDED, 2))
    big_root = issue(name("Alice Grid Root"), k["rsa1"])
    sub0 = zero(issue(name("Alice Zero Sub CA"), k["ec5"], big_root, path_length=0,
                      akid=full_akid(big_root, big_root.subject)), k["rsa1"])
    cases.append(Case("serial 0 intermediate, leaf akid name+serial 0", "serial-zero",
                      issue(name("Alice User"), k["ec4"], sub0, ca=False, akid=full_akid(sub0, big_root.subject)),
                      [big_root, sub0]))
    cases.append(Case("serial 0 intermediate, leaf akid serial 0 but the wrong issuer name", "akid-mismatch",
                      issue(name("Alice User"), k["ec4"], sub0, ca=False, akid=full_akid(sub0, sub0.subject)),
                      [big_root, sub0], UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0))
    return cases


def _encodings(k) -> List[Case]:
    """BER where DER is due, trailing bytes, extra text, and certificates OpenSSL cannot read at all."""
    cases = []
    root = issue(name("Ber Root"), k["rsa0"])
    inter = issue(name("Ber Inter"), k["rsa1"], root)
    leaf = issue(name("Ber User"), k["ec4"], inter, ca=False)
    store = [root, inter]

    def ber_validity(tbs: Tbs) -> bytes:
        """The TBS with its validity SEQUENCE in long-form length."""
        body = tbs.content().replace(tbs.validity, ber_long_tlv(0x30, content_of(tbs.validity)), 1)
        return tlv(0x30, body)

    cases += [
        # OpenSSL decodes BER lengths and checks the signature over the bytes as they are.
        Case("outer Certificate SEQUENCE in long-form length", "ber-encoding",
             resign(leaf, k["rsa1"], wrap=lambda body: ber_long_tlv(0x30, body)), store),
        Case("TBSCertificate in long-form length, signed as is", "ber-encoding",
             resign(leaf, k["rsa1"], encode_tbs=lambda tbs: ber_long_tlv(0x30, tbs.content())), store),
        Case("validity in long-form length, signed as is", "ber-encoding",
             resign(leaf, k["rsa1"], encode_tbs=ber_validity), store),
        Case("validity in long-form length, signature over the DER form", "ber-encoding",
             resign(leaf, k["rsa1"], encode_tbs=ber_validity, sign_over=lambda tbs: tbs.encode()), store,
             CERT_SIGNATURE_FAILURE, 0),
        Case("TBSCertificate of indefinite length, signed as is", "ber-encoding",
             resign(leaf, k["rsa1"], encode_tbs=lambda tbs: ber_indefinite_tlv(0x30, tbs.content())), store),
        Case("intermediate in long-form lengths", "ber-encoding", leaf,
             [root, resign(inter, k["rsa0"], encode_tbs=lambda tbs: ber_long_tlv(0x30, tbs.content()),
                           wrap=lambda body: ber_long_tlv(0x30, body))]),
        # Not every BER liberty is taken: a non-minimal INTEGER makes the certificate unreadable.
        Case("serial with a needless leading zero octet", "ber-encoding",
             resign(leaf, k["rsa1"], serial_edit(b"\x00\x01\x02")), store, UNPARSEABLE, 0),
    ]
    # Trailing bytes and text.
    der = leaf.der
    cases += [
        Case("trailing bytes after the certificate inside the PEM", "pem-trailing",
             with_file(leaf, pem_armour(der + b"\x00\x00junk")), store),
        Case("a second DER element after the certificate inside the PEM", "pem-trailing",
             with_file(leaf, pem_armour(der + tlv(0x30, b""))), store),
        Case("text before and after the PEM block", "pem-trailing",
             with_file(leaf, b"Subject: Jane\n" + leaf.pem + b"trailer text\n"), store),
        # The directory lookup reads CA files with d2i_X509_AUX, which takes the bytes after the
        # certificate for its trust settings and fails on these: the CA is not found. The bundle
        # reader ignores them.
        Case("store CA with trailing bytes inside its PEM", "pem-trailing", leaf,
             [root, with_file(inter, pem_armour(inter.der + b"\xff" * 7))], UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0,
             file_expect=("ok", 0)),
        Case("two certificates in the file: a bad one first", "pem-trailing",
             with_file(leaf, issue(name("Ber Other"), k["ec4"], inter, ca=False, signer_key=k["rsa2"]).pem + leaf.pem),
             store, CERT_SIGNATURE_FAILURE, 0),
        Case("two certificates in the file: the good one first", "pem-trailing",
             with_file(leaf, leaf.pem + issue(name("Ber Other"), k["ec4"], inter, ca=False,
                                              signer_key=k["rsa2"]).pem), store),
    ]
    # Not certificates at all for OpenSSL.
    truncated = der[:len(der) // 2]
    cases += [
        Case("PEM of a truncated certificate", "unparseable", with_file(leaf, pem_armour(truncated)), store,
             UNPARSEABLE, 0),
        Case("PEM of random bytes", "unparseable", with_file(leaf, pem_armour(os.urandom(300))), store,
             UNPARSEABLE, 0),
        Case("PEM block with broken base64", "unparseable",
             with_file(leaf, b"-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n-----END CERTIFICATE-----\n"), store,
             UNPARSEABLE, 0),
        # OpenSSL 3.0 reads and accepts a version field of 3 (a "v4" certificate).
        Case("certificate version 4 (value 3)", "version", resign(leaf, k["rsa1"], version(3)), store),
        Case("outer SEQUENCE length one too long", "unparseable",
             with_file(leaf, pem_armour(der[:2] + (int.from_bytes(der[2:4], "big") + 1).to_bytes(2, "big") + der[4:])),
             store, UNPARSEABLE, 0),
    ]
    return cases


def _error_order(k) -> List[Case]:
    """Several faults in one chain: which one OpenSSL reports first (its first error line).

    OpenSSL builds the chain, then checks extensions (critical, CA flags,
    path lengths) from the leaf up, then signatures and times from the root
    down (for each certificate its signature before its time).
    """
    root = issue(name("Order Root"), k["rsa0"])
    inter = issue(name("Order Inter"), k["rsa1"], root)
    old = {"not_before": OLD, "not_after": NOW - DAY}
    stranger = issue(name("Order Stranger"), k["rsa2"])
    old_root = issue(name("Order Old Root"), k["rsa2"], **old)
    old_inter = issue(name("Order Old Inter"), k["rsa1"], root, **old)
    old_not_ca = issue(name("Order Old Not CA"), k["ec5"], root, ca=False, **old)
    not_ca = issue(name("Order Not CA"), k["ec5"], root, ca=False)
    old_tight_root = issue(name("Order Tight Root"), k["rsa2"], path_length=0, **old)
    sub = issue(name("Order Sub"), k["ec5"], old_tight_root)
    forged_inter = resign(inter, k["rsa0"], flip_signature=True)

    def user(ca, **opts):
        return issue(name("Order User"), k["ec4"], ca, ca=False, **opts)

    return [
        Case("expired leaf of an unknown issuer", "error-order", user(stranger, **old), [root, inter],
             UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0),
        Case("expired leaf with a bad signature", "error-order", user(inter, signer_key=k["rsa2"], **old),
             [root, inter], CERT_SIGNATURE_FAILURE, 0),
        Case("expired root and forged leaf: root reported first", "error-order",
             user(old_root, signer_key=k["rsa3"]), [old_root], CERT_HAS_EXPIRED, 1),
        Case("expired leaf under a forged intermediate", "error-order", user(inter, **old), [root, forged_inter],
             CERT_SIGNATURE_FAILURE, 1),
        Case("not yet valid leaf under an expired intermediate", "error-order",
             user(old_inter, not_before=NOW + DAY), [root, old_inter], CERT_HAS_EXPIRED, 1),
        # Extension checks come first: exit 6, not the 5 of an expired leaf.
        Case("expired leaf with an unknown critical extension", "error-order",
             user(inter, unknown_critical=True, **old), [root, inter], UNHANDLED_CRITICAL_EXTENSION, 0),
        Case("expired intermediate that is not a CA", "error-order", user(old_not_ca), [root, old_not_ca],
             INVALID_CA, 1),
        Case("path length exceeded under an expired root", "error-order", user(sub), [old_tight_root, sub],
             PATH_LENGTH_EXCEEDED, 2),
        Case("leaf with an unknown critical extension under a CA:FALSE intermediate", "error-order",
             user(not_ca, unknown_critical=True), [root, not_ca], UNHANDLED_CRITICAL_EXTENSION, 0),
    ]


def _more_edges(k) -> List[Case]:
    """Odd corners a re-implementation may get wrong: key ids, RDN sets, serials, basicConstraints forms."""
    cases = []
    root = issue(name("Edge Root"), k["rsa0"])
    inter = issue(name("Edge Inter"), k["rsa1"], root)
    miss = UNABLE_TO_GET_ISSUER_CERT_LOCALLY

    def user(ca=inter, **opts):
        return issue(name("Edge User"), k["ec4"], ca, ca=False, **opts)

    # The issuer's subjectKeyIdentifier is not the SHA-1 of its key: OpenSSL compares the stored values.
    odd_ski = issue(name("Edge Odd Ski"), k["ec5"], root, subject_key_id=False,
                    extensions=[(x509.SubjectKeyIdentifier(b"\x01\x02\x03\x04"), False)])
    cases.append(Case("issuer SKI is not its key's hash, leaf akid is the key's hash", "akid-mismatch",
                      user(odd_ski), [root, odd_ski], miss, 0))
    cases.append(Case("issuer SKI is not its key's hash, leaf akid copies the SKI", "akid-issuer-serial",
                      user(odd_ski, akid=x509.AuthorityKeyIdentifier(b"\x01\x02\x03\x04", None, None)),
                      [root, odd_ski]))
    # akid issuer given as a DNS name: only a directory name is compared, the serial still is.
    dns = [x509.DNSName("ca.example.org")]
    cases.append(Case("akid issuer as a DNS name, right serial", "akid-issuer-serial",
                      user(akid=x509.AuthorityKeyIdentifier(None, dns, inter.serial)), [root, inter]))
    cases.append(Case("akid issuer as a DNS name, wrong serial", "akid-mismatch",
                      user(akid=x509.AuthorityKeyIdentifier(None, dns, inter.serial + 1)), [root, inter], miss, 0))
    cases.append(Case("akid issuer name in another case", "akid-issuer-serial",
                      user(akid=full_akid(inter, name("EDGE ROOT", org="JENV-DIFF"))), [root, inter]))

    # A multi-valued RDN whose SET OF members are not in DER order in the leaf's issuer name:
    # OpenSSL's canonical form sorts them, so the name matches.
    rdn_name = x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jenv-diff"),
                                                          x509.NameAttribute(NameOID.COMMON_NAME, "Edge Rdn CA")])])
    rdn_ca = issue(rdn_name, k["rsa2"])

    def unsorted_issuer(tbs: Tbs) -> None:
        (rdn,) = children(tbs.issuer)
        members = children(rdn)
        tbs.issuer = tlv(0x30, tlv(0x31, b"".join(reversed(members))))
    cases.append(Case("multi-valued RDN in the issuer name, members out of DER order", "name-folding",
                      resign(user(rdn_ca), k["rsa2"], unsorted_issuer), [rdn_ca]))

    # Serial numbers and subjects.
    cases.append(Case("negative serial number", "serial-zero", resign(user(), k["rsa1"], serial_edit(b"\xff\x01")),
                      [root, inter]))
    cases.append(Case("empty subject name, subjectAltName critical", "good-chain",
                      issue(x509.Name([]), k["ec4"], inter, ca=False, extensions=[
                          (x509.SubjectAlternativeName([x509.RFC822Name("nobody@example.org")]), True)]),
                      [root, inter]))
    # An unknown signature algorithm: OpenSSL cannot match it to the issuer's key and finds no issuer.
    unknown_alg = tlv(0x30, der_oid("1.3.6.1.4.1.55555.9"))
    cases.append(Case("unknown signature algorithm OID", "sigalg-mismatch",
                      resign(user(), k["rsa1"], lambda tbs: setattr(tbs, "signature", unknown_alg)), [root, inter],
                      miss, 0))

    # basicConstraints forms: non-critical CA:TRUE is accepted (RFC 5280 wants it critical, OpenSSL
    # only in -x509_strict); a pathLenConstraint on CA:FALSE is ignored; a negative one makes the
    # CA invalid (EXFLAG_INVALID), so it is never taken as issuer.
    soft = issue(name("Edge Soft BC"), k["ec5"], root, bc_critical=False)
    cases.append(Case("intermediate with non-critical basicConstraints", "not-ca-intermediate", user(soft),
                      [root, soft]))
    bc_oid = "2.5.29.19"
    cases.append(Case("leaf with CA:FALSE and a pathLenConstraint", "path-length",
                      resign(user(), k["rsa1"], replace_extension(bc_oid, extension_der(
                          bc_oid, tlv(0x30, der_int(0)), critical=True))), [root, inter]))
    negative = resign(issue(name("Edge Negative Len"), k["ec5"], root), k["rsa0"], replace_extension(
        bc_oid, extension_der(bc_oid, tlv(0x30, b"\x01\x01\xff\x02\x01\xff"), critical=True)))
    cases.append(Case("intermediate with pathLenConstraint -1", "path-length", user(negative), [root, negative],
                      miss, 0))

    # A hash file holding two certificates, another CA first, then the issuer: the directory
    # lookup reads only the first certificate of the file; the bundle has both.
    both = RawCert(inter.der, inter.key, inter.subject, inter.serial,
                   file_bytes=issue(name("Edge Other"), k["rsa3"]).pem + inter.pem)
    cases.append(Case("hash file holding another CA, then the issuer", "hash-file-content", user(), [root, both],
                      miss, 0, file_expect=("ok", 0)))
    return cases


def _time_encodings(k) -> List[Case]:
    """Validity times in the forms DER forbids or that read differently than they look."""
    root = issue(name("Tenc Root"), k["rsa0"])
    inter = issue(name("Tenc Inter"), k["rsa1"], root)
    template = issue(name("Tenc User"), k["ec4"], inter, ca=False)
    before = utc_time((NOW - 30 * DAY).strftime("%y%m%d%H%M%SZ"))
    after = utc_time((NOW + 365 * DAY).strftime("%y%m%d%H%M%SZ"))
    hour = dt.timedelta(hours=1)
    cases = []

    def timed(label, not_before, not_after, expect, depth=0):
        cases.append(Case(f"validity: {label}", "time-encoding",
                          resign(template, k["rsa1"], validity_edit(not_before, not_after)), [root, inter],
                          expect, depth))

    # OpenSSL 3 checks the times in the strict RFC 5280 form: no seconds, fractions, offsets or a
    # missing Z are "format error" (13 for notBefore, 14 for notAfter), not a time to compare.
    bad_after = ERROR_IN_CERT_NOT_AFTER_FIELD
    timed("UTCTime without seconds", before, utc_time((NOW + 365 * DAY).strftime("%y%m%d%H%MZ")), bad_after)
    timed("GeneralizedTime for a year before 2050", before,
          generalized_time((NOW + 365 * DAY).strftime("%Y%m%d%H%M%SZ")), "ok")
    timed("GeneralizedTime with fractional seconds", before,
          generalized_time((NOW + 365 * DAY).strftime("%Y%m%d%H%M%S.5Z")), bad_after)
    # notAfter 3 h from now in a zone 5 h east (2 h ago in UTC): refused for its form, whatever it means.
    timed("notAfter with a +0500 offset", before, utc_time((NOW + 3 * hour).strftime("%y%m%d%H%M%S+0500")),
          bad_after)
    timed("notBefore with a -0300 offset", utc_time((NOW - hour).strftime("%y%m%d%H%M%S-0300")), after,
          ERROR_IN_CERT_NOT_BEFORE_FIELD)
    # UTCTime years 50..99 are 1950..1999 (RFC 5280): "50" is 1950, long expired.
    timed("UTCTime year 50 (1950, not 2050)", utc_time("500101000000Z"), utc_time("501231235959Z"),
          CERT_HAS_EXPIRED)
    timed("UTCTime notAfter year 49 (2049)", before, utc_time("491231235959Z"), "ok")
    timed("notAfter month 13", before, utc_time("991301000000Z"), bad_after)
    timed("notAfter without the Z", before, utc_time((NOW + 365 * DAY).strftime("%y%m%d%H%M%S")), bad_after)
    return cases


# --- stores ----------------------------------------------------------------------------------

_HASHES: Dict[bytes, str] = {}


def subject_hash_openssl(pem_path: Path) -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-subject_hash", "-in", str(pem_path)],
                          capture_output=True, text=True, check=True).stdout.strip()


def subject_hash_of(cert: AnyCert) -> Optional[str]:
    """OpenSSL's subject hash of ``cert`` (``openssl x509 -subject_hash``), cached by PEM; None if unreadable."""
    pem = cert.pem
    if pem not in _HASHES:
        proc = subprocess.run(["openssl", "x509", "-noout", "-subject_hash"], input=pem, capture_output=True)
        _HASHES[pem] = proc.stdout.decode().strip() if proc.returncode == 0 else None
    return _HASHES[pem]


def write_store(directory: Path, certs: Sequence[AnyCert],
                links: Optional[Sequence[Optional[str]]] = None) -> Tuple[Path, Path]:
    """A CA directory (``caN.pem`` plus ``<hash>.N`` links, in list order) and a bundle beside it.

    ``links`` names each certificate's link (None: the next free
    ``<hash>.N``, none when OpenSSL cannot read it; "": none).  The bundle holds the certificates (those that
    are certificates) in list order.
    """
    store = directory / "certificates"
    store.mkdir(parents=True)
    for index, item in enumerate(certs):
        pem = store / f"ca{index}.pem"
        pem.write_bytes(item.pem)
        link = links[index] if links is not None else None
        digest = subject_hash_of(item) if link is None else None
        if digest is not None:
            n = 0
            while (store / f"{digest}.{n}").exists():
                n += 1
            link = f"{digest}.{n}"
        if link:
            os.symlink(pem.name, store / link)
    bundle = directory / "bundle.pem"
    bundle.write_bytes(b"".join(item.pem for item in certs if item.der))
    return store, bundle


# --- revocation ------------------------------------------------------------------------------

CRL_NOT_YET_VALID = 11
CRL_HAS_EXPIRED = 12
UNABLE_TO_GET_CRL = 3
CRL_SIGNATURE_FAILURE = 8
CERT_REVOKED = 23
UNHANDLED_CRITICAL_CRL_EXTENSION = 36


def make_crl(issuer: AnyCert, revoked: Sequence[AnyCert] = (), *, signer_key=None,
             last_update: dt.datetime = NOW - DAY, next_update: dt.datetime = NOW + 7 * DAY,
             unknown_critical: bool = False, number: int = 1) -> bytes:
    """A PEM CRL of ``issuer`` revoking ``revoked``, with a CRL number and the issuer's key id.

    ``signer_key`` signs with another key (a forgery); ``unknown_critical`` adds an extension no
    verifier knows, marked critical (RFC 5280: the CRL must then not be used).
    """
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
               .last_update(last_update).next_update(next_update)
               .add_extension(x509.CRLNumber(number), False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial).revocation_date(NOW - 2 * DAY).build())
    if unknown_critical:
        builder = builder.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.55555.2"), b"\x05\x00"), critical=True)
    return builder.sign(signer_key or issuer.key, SHA256).public_bytes(serialization.Encoding.PEM)


@dataclass
class CrlCase:
    """A verification with CRLs in the store: ``case`` holds what ``openssl verify -crl_check_all`` says
    (its ``expect``/``depth``); ``jenv`` what jenv says where that differs by design (a CA of the chain
    without a CRL: "only where a CRL exists"); ``stale`` when a CRL of the chain is past its next update
    (jenv warns by default, and says what openssl says with JENV_CRL=require).  ``openssl4`` is what
    OpenSSL 4 (jenv's, through pyOpenSSL) decides where it differs from the oracle's OpenSSL 3."""

    case: Case
    crls: Sequence[bytes]
    jenv: Optional[Expectation] = None
    stale: bool = False
    openssl4: Optional[Expectation] = None

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def every_ca_has_a_crl(self) -> bool:
        return self.jenv is None


def build_crl_cases(k: Optional[Dict[str, object]] = None) -> List[CrlCase]:
    """Chains with CRLs for all, some or none of their CAs, revoking or not, good and broken CRLs."""
    k = corpus_keys() if k is None else {**corpus_keys(), **k}
    root = issue(name("Crl Root"), k["rsa0"])
    inter = issue(name("Crl Inter"), k["ec4"], root)
    leaf = issue(name("Crl User"), k["ec5"], inter, ca=False)
    other_leaf = issue(name("Crl Other User"), k["ec5"], inter, ca=False)
    unrelated = issue(name("Crl Unrelated Root"), k["ec6"])
    direct = issue(name("Crl Direct User"), k["ec7"], root, ca=False)
    stale = dict(last_update=NOW - 30 * DAY, next_update=NOW - DAY)
    future = dict(last_update=NOW + 2 * DAY, next_update=NOW + 9 * DAY)
    revoked = (CERT_REVOKED, 0)
    cases: List[CrlCase] = []

    def add(label: str, crls: Sequence[bytes], oracle: Expectation, jenv: Optional[Expectation] = None,
            target: AnyCert = leaf, store: Sequence[AnyCert] = (root, inter), **options) -> None:
        cases.append(CrlCase(Case(f"crl: {label}", "revocation", target, list(store), *oracle), crls, jenv,
                             **options))

    good_root, good_inter = make_crl(root), make_crl(inter)
    # Every CA of the chain has a CRL: jenv says what `openssl verify -crl_check_all` says.
    add("every CA has a CRL, nothing revoked", [good_root, good_inter], ("ok", 0))
    add("revoked leaf", [good_root, make_crl(inter, [leaf])], revoked)
    add("another certificate revoked, not the leaf", [good_root, make_crl(inter, [other_leaf])], ("ok", 0))
    add("revoked intermediate", [make_crl(root, [inter]), good_inter], (CERT_REVOKED, 1))
    add("revoked leaf and intermediate", [make_crl(root, [inter]), make_crl(inter, [leaf])], revoked)
    # OpenSSL 3 checks the self-signed trust anchor against its own CRL; OpenSSL 4 no longer does
    # (RFC 5280 6.1: a trust anchor is not revoked by a CRL; it is removed from the store).
    add("root revoked by its own CRL", [make_crl(root, [root]), good_inter], (CERT_REVOKED, 2),
        openssl4=("ok", 0))
    add("leaf of the root, revoked", [make_crl(root, [direct])], revoked, target=direct, store=[root])
    add("leaf of the root, its CRL revokes nothing", [good_root], ("ok", 0), target=direct, store=[root])
    add("leaf's CRL signed by another key", [good_root, make_crl(inter, signer_key=k["ec6"])],
        (CRL_SIGNATURE_FAILURE, 0))
    add("intermediate's CRL signed by another key", [make_crl(root, signer_key=k["rsa1"]), good_inter],
        (CRL_SIGNATURE_FAILURE, 1))
    add("leaf's CRL with an unknown critical extension", [good_root, make_crl(inter, unknown_critical=True)],
        (UNHANDLED_CRITICAL_CRL_EXTENSION, 0))
    add("intermediate's CRL with an unknown critical extension",
        [make_crl(root, unknown_critical=True), good_inter], (UNHANDLED_CRITICAL_CRL_EXTENSION, 1))
    add("leaf's CRL not yet valid", [good_root, make_crl(inter, **future)], (CRL_NOT_YET_VALID, 0))
    # Past its next update: a warning by default (the revocations in it still count), refused with
    # JENV_CRL=require.
    add("leaf's CRL past its next update", [good_root, make_crl(inter, **stale)], (CRL_HAS_EXPIRED, 0),
        ("ok", 0), stale=True)
    add("leaf's CRL past its next update, revoking the leaf", [good_root, make_crl(inter, [leaf], **stale)],
        (CRL_HAS_EXPIRED, 0), revoked, stale=True)
    add("intermediate's CRL past its next update", [make_crl(root, **stale), good_inter], (CRL_HAS_EXPIRED, 1),
        ("ok", 0), stale=True)
    # Only some CAs have a CRL: -crl_check_all refuses for the missing ones ("unable to get certificate
    # CRL"); jenv checks where a CRL exists and accepts the rest.
    add("only the intermediate has a CRL, nothing revoked", [good_inter], (UNABLE_TO_GET_CRL, 1), ("ok", 0))
    add("only the intermediate has a CRL, revoking the leaf", [make_crl(inter, [leaf])], revoked, revoked)
    add("only the root has a CRL, nothing revoked", [good_root], (UNABLE_TO_GET_CRL, 0), ("ok", 0))
    add("only the root has a CRL, revoking the intermediate", [make_crl(root, [inter])], (UNABLE_TO_GET_CRL, 0),
        (CERT_REVOKED, 1))
    add("only the intermediate's CRL, signed by another key", [make_crl(inter, signer_key=k["ec6"])],
        (CRL_SIGNATURE_FAILURE, 0), (CRL_SIGNATURE_FAILURE, 0))
    add("a CRL only for an unrelated CA", [make_crl(unrelated, [leaf])], (UNABLE_TO_GET_CRL, 0), ("ok", 0),
        store=[root, inter, unrelated])
    add("no CRL at all", [], (UNABLE_TO_GET_CRL, 0), ("ok", 0))
    # Revocation is checked before signatures and times: a revoked leaf that is also expired is
    # "certificate revoked" (also where another CA of the chain has no CRL).
    expired = issue(name("Crl Expired User"), k["ec5"], inter, ca=False, not_before=OLD, not_after=NOW - DAY)
    add("revoked leaf, also expired", [good_root, make_crl(inter, [expired])], revoked, target=expired)
    add("revoked leaf, also expired, only the intermediate has a CRL", [make_crl(inter, [expired])], revoked,
        revoked, target=expired)
    add("expired leaf, not revoked", [good_root, good_inter], (CERT_HAS_EXPIRED, 0), target=expired)
    return cases


_CRL_HASHES: Dict[bytes, str] = {}


def crl_hash_of(crl_pem: bytes) -> str:
    """OpenSSL's hash of a CRL's issuer name (``openssl crl -hash``): its ``<hash>.rN`` file name."""
    if crl_pem not in _CRL_HASHES:
        _CRL_HASHES[crl_pem] = subprocess.run(["openssl", "crl", "-noout", "-hash"], input=crl_pem,
                                              capture_output=True, check=True).stdout.decode().strip()
    return _CRL_HASHES[crl_pem]


def write_crls(store: Path, bundle: Path, crls: Sequence[bytes]) -> None:
    """The CRLs as ``<hash>.rN`` files of the directory (as fetch-crl writes them), and appended to the
    bundle (X509_CERT_FILE may hold X509 CRL blocks)."""
    for crl in crls:
        digest = crl_hash_of(crl)
        n = 0
        while (store / f"{digest}.r{n}").exists():
            n += 1
        (store / f"{digest}.r{n}").write_bytes(crl)
    with bundle.open("ab") as out:
        out.write(b"".join(crls))
