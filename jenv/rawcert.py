"""Certificate fields straight from DER, without ``cryptography``, for the fast verifier.

:func:`parse_cert_der` reads what chain verification needs (the signed
bytes, the signature and its algorithm, names, validity, the RSA key and
the CA-related extensions) and raises :class:`jenv.der.DerError` for
anything outside the common, strictly encoded shape: then the caller falls
back to the full parse with ``cryptography`` (:mod:`jenv.cachain`).

It must never accept what ``cryptography`` rejects, or the fast verifier
could say "ok" where the full one reports a corrupt certificate.  So it is
stricter on purpose: DER only, version 3, names in UTF8String,
PrintableString or IA5String, and only extensions it validates
(cryptography parses these and rejects a certificate whose extension is
malformed); any other extension that cryptography might parse, and any
unknown critical one, means "not sure".
"""

from __future__ import annotations

import hashlib
from typing import Dict, List, NamedTuple, Optional, Tuple

from jenv.der import SHORT_NAMES, DerError, Element, canonical_text, elements, encode, oid_text, parse_time

__all__ = ["RawCert", "parse_cert_der", "Name", "name_text", "name_key", "name_hash"]

_BOOL, _INT, _BITS, _OCTETS, _NULL, _OID, _SEQ, _SET = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x30, 0x31
_UTF8, _PRINTABLE, _IA5 = 0x0C, 0x13, 0x16
_PRINTABLE_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")

_RSA_KEY = bytes.fromhex("2a864886f70d010101")
_EC_KEY = bytes.fromhex("2a8648ce3d0201")
_EC_CURVES = {bytes.fromhex("2a8648ce3d030107"): 32, bytes.fromhex("2b81040022"): 48,
              bytes.fromhex("2b81040023"): 66}  # P-256, P-384, P-521: coordinate bytes

_BC, _KU, _SKI, _AKI = (bytes.fromhex("551d" + x) for x in ("13", "0f", "0e", "23"))
_EKU, _SAN, _IAN, _CRLDP, _POLICIES = (bytes.fromhex("551d" + x) for x in ("25", "11", "12", "1f", "20"))
_AIA = bytes.fromhex("2b06010505070101")
_CPS_QUALIFIER = bytes.fromhex("2b06010505070201")
_NETSCAPE = (bytes.fromhex("6086480186f8420101"), bytes.fromhex("6086480186f842010d"))  # cert type, comment
#: OpenSSL handles these when critical; any other critical extension is "not sure".
_CRITICAL_OK = {_BC, _KU, _EKU, _SAN}

#: An attribute of a name: (OID contents, value text); a Name is a list of RDNs (attribute lists).
Name = Tuple[Tuple[Tuple[bytes, str], ...], ...]


class RawCert(NamedTuple):
    """The fields of one certificate that verification needs (times in epoch seconds)."""

    tbs: bytes
    sig_alg: bytes  # the whole AlgorithmIdentifier encoding
    signature: bytes
    serial: int
    issuer_der: bytes
    subject_der: bytes
    issuer: Name
    subject: Name
    not_before: int
    not_after: int
    rsa_key: Optional[Tuple[int, int]]  # (n, e); None for an EC key
    ca: Optional[bool]  # basicConstraints cA; None when the extension is absent
    path_length: Optional[int]
    key_cert_sign: Optional[bool]  # None when keyUsage is absent
    ski: Optional[bytes]
    aki_key_id: Optional[bytes]
    aki_serial: Optional[int]


def _one(data: bytes, tag: int) -> bytes:
    """The contents of the single element filling ``data``, which must have ``tag``."""
    items = elements(data)
    if len(items) != 1 or items[0][0] != tag:
        raise DerError(f"expected one element of tag {tag:#x}")
    return items[0][1]


def _integer(value: bytes, positive: bool = True) -> int:
    if not value or len(value) > 1 and (value[0] == 0 and value[1] < 0x80 or value[0] == 0xFF and value[1] >= 0x80):
        raise DerError("non-minimal INTEGER")
    number = int.from_bytes(value, "big", signed=True)
    if positive and number <= 0:
        raise DerError("INTEGER not positive")
    return number


def _bits(value: bytes, whole_bytes: bool = False) -> bytes:
    """BIT STRING contents without the unused-bits byte; the padding bits must be zero."""
    if whole_bytes and value[:1] != b"\x00":
        raise DerError("BIT STRING of whole bytes expected")
    if not value or value[0] > 7 or value[0] and (len(value) == 1 or value[-1] & ((1 << value[0]) - 1)):
        raise DerError("bad BIT STRING")
    return value[1:]


def _text(tag: int, value: bytes) -> str:
    if tag == _UTF8:
        return value.decode("utf-8")  # UnicodeDecodeError is a ValueError; callers catch it
    if tag == _PRINTABLE and not value.translate(None, bytes(_PRINTABLE_CHARS)):
        return value.decode("ascii")
    if tag == _IA5 and value.isascii():
        return value.decode("ascii")
    raise DerError("unsupported string type or character")


def _name(contents: bytes) -> Name:
    rdns = []
    for tag, rdn, _raw in elements(contents):
        members = elements(rdn)
        if tag != _SET or not members:
            raise DerError("bad RDN")
        if any(a[2] >= b[2] for a, b in zip(members, members[1:])):
            raise DerError("RDN members not in DER order")
        attrs = []
        for mtag, member, _ in members:
            fields = elements(member)
            if mtag != _SEQ or len(fields) != 2 or fields[0][0] != _OID:
                raise DerError("bad attribute")
            oid_text(fields[0][1])
            attrs.append((fields[0][1], _text(fields[1][0], fields[1][1])))
        rdns.append(tuple(attrs))
    if not rdns:
        raise DerError("empty name")
    return tuple(rdns)


def name_text(name: Name) -> str:
    """The grid DN of a name, as :func:`jenv.pem.grid_dn` writes it: /C=ch/O=AliEn2/CN=jdoe."""
    parts = []
    for rdn in name:
        attrs = sorted((oid_text(oid), value) for oid, value in rdn)
        parts.append("+".join(f"{SHORT_NAMES.get(dotted, dotted)}={value}" for dotted, value in attrs))
    return "/" + "/".join(parts)


def name_key(name: Name) -> Tuple[Tuple[Tuple[bytes, str], ...], ...]:
    """A comparison key equal for names :func:`jenv.castore.name_key` calls equal."""
    return tuple(tuple(sorted((oid, "".join(c.lower() if c.isascii() else c for c in " ".join(value.split())))
                              for oid, value in rdn)) for rdn in name)


def name_hash(name: Name) -> str:
    """OpenSSL's X509_NAME_hash (``openssl x509 -subject_hash``) of a name, as 8 hex digits."""
    canonical = b"".join(
        encode(_SET, b"".join(sorted(encode(_SEQ, encode(_OID, oid) + encode(_UTF8, canonical_text(value)))
                                     for oid, value in rdn))) for rdn in name)
    return "%08x" % int.from_bytes(hashlib.sha1(canonical).digest()[:4], "little")


def _general_names(contents: bytes) -> None:
    """Check GeneralNames the way cryptography would accept them (raises DerError otherwise)."""
    names = elements(contents)
    if not names:
        raise DerError("empty GeneralNames")
    for tag, value, _raw in names:
        if tag in (0x81, 0x82, 0x86):  # rfc822Name, dNSName, URI: IA5String
            _text(_IA5, value)
        elif tag == 0x87:  # iPAddress
            if len(value) not in (4, 16):
                raise DerError("bad IP address")
        elif tag == 0x88:  # registeredID
            oid_text(value)
        elif tag == 0xA4:  # directoryName
            _name(_one(value, _SEQ))
        elif tag == 0xA0:  # otherName: type-id, [0] EXPLICIT value
            fields = elements(value)
            if len(fields) != 2 or fields[0][0] != _OID or fields[1][0] != 0xA0 or len(elements(fields[1][1])) != 1:
                raise DerError("bad otherName")
            oid_text(fields[0][1])
        else:
            raise DerError("unsupported GeneralName")


def _sequence_of(contents: bytes, tag: int = _SEQ) -> List[Element]:
    items = elements(contents)
    if not items or any(item[0] != tag for item in items):
        raise DerError("bad SEQUENCE OF")
    return items


def _check_other(oid: bytes, value: bytes) -> None:
    """Validate the other extensions cryptography parses (and so may reject)."""
    if oid == _EKU:
        for _tag, item, _ in _sequence_of(_one(value, _SEQ), _OID):
            oid_text(item)
    elif oid in (_SAN, _IAN):
        _general_names(_one(value, _SEQ))
    elif oid == _AIA:
        for _tag, item, _ in _sequence_of(_one(value, _SEQ)):
            method = elements(item)
            if len(method) != 2 or method[0][0] != _OID:
                raise DerError("bad AccessDescription")
            oid_text(method[0][1])
            _general_names(method[1][2])
    elif oid == _CRLDP:  # only the common shape: distributionPoint [0] fullName [0]
        for _tag, point, _ in _sequence_of(_one(value, _SEQ)):
            _general_names(_one(_one(point, 0xA0), 0xA0))
    elif oid == _POLICIES:
        for _tag, policy, _ in _sequence_of(_one(value, _SEQ)):
            fields = elements(policy)
            if not 1 <= len(fields) <= 2 or fields[0][0] != _OID:
                raise DerError("bad PolicyInformation")
            oid_text(fields[0][1])
            for _qtag, qualifier, _ in _sequence_of(fields[1][1]) if len(fields) == 2 else ():
                parts = elements(qualifier)
                if len(parts) != 2 or parts[0][1] != _CPS_QUALIFIER or parts[0][0] != _OID or parts[1][0] != _IA5:
                    raise DerError("unsupported policy qualifier")
                _text(_IA5, parts[1][1])
    elif oid not in _NETSCAPE:
        raise DerError("extension not understood")


def _basic_constraints(value: bytes) -> Tuple[bool, Optional[int]]:
    fields = elements(_one(value, _SEQ))
    ca = bool(fields) and fields[0][0] == _BOOL
    if ca:
        if fields[0][1] != b"\xff":
            raise DerError("cA FALSE must be omitted in DER")
        fields = fields[1:]
    if not fields:
        return ca, None
    if len(fields) != 1 or fields[0][0] != _INT or not ca:
        raise DerError("bad basicConstraints")
    length = _integer(fields[0][1], positive=False)
    if length < 0:
        raise DerError("negative path length")
    return ca, length


def _key_cert_sign(value: bytes) -> bool:
    bits = _bits(_one(value, _BITS)) + b"\x00\x00"
    if bits[0] & 0x01 or bits[1] & 0x80:  # encipherOnly/decipherOnly: cryptography checks them against keyAgreement
        raise DerError("encipherOnly or decipherOnly")
    return bool(bits[0] & 0x04)


def _authority_key_id(value: bytes) -> Tuple[Optional[bytes], Optional[int]]:
    items = elements(_one(value, _SEQ))
    fields = {tag: item for tag, item, _ in items}
    if [tag for tag, _item, _ in items] not in ([], [0x80], [0xA1, 0x82], [0x80, 0xA1, 0x82]):
        raise DerError("unsupported authorityKeyIdentifier")
    if 0xA1 in fields:
        _general_names(fields[0xA1])
    serial = _integer(fields[0x82], positive=False) if 0x82 in fields else None
    return fields.get(0x80), serial


def _extensions(items: List[Element]) -> Dict[bytes, bytes]:
    """The extensions by OID contents (raw values); DerError for duplicates, unknown critical ones."""
    found = {}
    for tag, extension, _raw in items:
        fields = elements(extension)
        if tag != _SEQ or not 2 <= len(fields) <= 3 or fields[0][0] != _OID or fields[-1][0] != _OCTETS:
            raise DerError("bad Extension")
        oid = fields[0][1]
        critical = len(fields) == 3
        if critical and (fields[1][0] != _BOOL or fields[1][1] != b"\xff"):
            raise DerError("critical FALSE must be omitted in DER")
        if oid in found or critical and oid not in _CRITICAL_OK:
            raise DerError("duplicate or unhandled critical extension")
        found[oid] = fields[-1][1]
        if oid not in (_BC, _KU, _SKI, _AKI):
            _check_other(oid, fields[-1][1])
    if not found:
        raise DerError("empty extensions")
    return found


def _public_key(spki: bytes) -> Optional[Tuple[int, int]]:
    """(n, e) of an RSA key, None for an EC key on P-256/384/521; DerError for anything else."""
    fields = elements(spki)
    if len(fields) != 2 or fields[0][0] != _SEQ or fields[1][0] != _BITS:
        raise DerError("bad SubjectPublicKeyInfo")
    algorithm, key = elements(fields[0][1]), _bits(fields[1][1], True)
    if len(algorithm) != 2 or algorithm[0][0] != _OID:
        raise DerError("bad key algorithm")
    if algorithm[0][1] == _EC_KEY and algorithm[1][0] == _OID and algorithm[1][1] in _EC_CURVES:
        size = _EC_CURVES[algorithm[1][1]]
        if len(key) == (1 + 2 * size if key[:1] == b"\x04" else 1 + size) and key[:1] in b"\x02\x03\x04":
            return None
        raise DerError("bad EC point")
    if algorithm[0][1] != _RSA_KEY or algorithm[1][2] != b"\x05\x00":
        raise DerError("unsupported key type")
    numbers = elements(_one(key, _SEQ))
    if len(numbers) != 2 or numbers[0][0] != _INT or numbers[1][0] != _INT:
        raise DerError("bad RSA key")
    n, e = _integer(numbers[0][1]), _integer(numbers[1][1])
    if not (2048 <= n.bit_length() <= 16384 and n & 1 and e & 1 and 3 <= e < 1 << 32):
        raise DerError("RSA key outside the common range")
    return n, e


def parse_cert_der(der: bytes) -> RawCert:
    """The verification fields of a DER certificate; raises DerError (or ValueError) when unsure."""
    outer = elements(_one(der, _SEQ))
    if len(outer) != 3 or outer[0][0] != _SEQ or outer[1][0] != _SEQ or outer[2][0] != _BITS:
        raise DerError("not a certificate")
    tbs = elements(outer[0][1])  # version 3 only: the explicit [0] version is 2
    if len(tbs) not in (7, 8) or tbs[0][0] != 0xA0 or _one(tbs[0][1], _INT) != b"\x02":
        raise DerError("not a version 3 TBSCertificate")
    serial, algorithm, issuer, validity, subject, spki = tbs[1:7]
    if serial[0] != _INT or algorithm[2] != outer[1][2] or issuer[0] != _SEQ or subject[0] != _SEQ:
        raise DerError("unexpected TBSCertificate fields")
    times = elements(_one(validity[2], _SEQ))
    if len(times) != 2 or spki[0] != _SEQ or len(tbs) == 8 and tbs[7][0] != 0xA3:
        raise DerError("unexpected TBSCertificate fields")
    ext = _extensions(elements(_one(tbs[7][1], _SEQ))) if len(tbs) == 8 else {}
    ca, path_length = _basic_constraints(ext[_BC]) if _BC in ext else (None, None)
    aki_key_id, aki_serial = _authority_key_id(ext[_AKI]) if _AKI in ext else (None, None)
    return RawCert(
        tbs=outer[0][2], sig_alg=outer[1][2], signature=_bits(outer[2][1], True), serial=_integer(serial[1]),
        issuer_der=issuer[2], subject_der=subject[2], issuer=_name(issuer[1]), subject=_name(subject[1]),
        not_before=parse_time(times[0][0], times[0][1]), not_after=parse_time(times[1][0], times[1][1]),
        rsa_key=_public_key(spki[1]), ca=ca, path_length=path_length,
        key_cert_sign=_key_cert_sign(ext[_KU]) if _KU in ext else None,
        ski=_one(ext[_SKI], _OCTETS) if _SKI in ext else None, aki_key_id=aki_key_id, aki_serial=aki_serial)
