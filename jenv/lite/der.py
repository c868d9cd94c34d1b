"""A tiny DER reader for the login fast path: certificate dates and public keys.

``jenv token`` runs in every login shell; importing ``cryptography`` alone
costs about as much as starting Python.  To decide whether the token files
are still good it is enough to read two dates out of the certificate's
TBSCertificate (RFC 5280 section 4.1) and to compare the public key in the
certificate with the one inside the private key.  Everything here is pure and
answers ``None`` whenever the input is not exactly the common shape; callers
then fall back to the full parse with ``cryptography``.
"""

from __future__ import annotations

import binascii

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path: no typing at run time
    from typing import List, Optional, Tuple

__all__ = ["cert_validity", "cert_public_key", "key_public_key", "pem_block", "DerError", "elements",
           "parse_time", "oid_text", "encode", "private_key_blocks"]

_SEQUENCE, _INTEGER, _BIT_STRING, _OCTET_STRING, _OID = 0x30, 0x02, 0x03, 0x04, 0x06
_UTC_TIME, _GENERALIZED_TIME = 0x17, 0x18
_CONTEXT_0, _CONTEXT_1 = 0xA0, 0xA1
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
_EC_OID = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1

if TYPE_CHECKING:
    Tlv = Tuple[int, bytes]
    #: (tag, contents, the whole encoding): one element of :func:`elements`.
    Element = Tuple[int, bytes, bytes]

class DerError(Exception):
    """The bytes are not the (strict) DER shape this reader understands."""


_Bad = DerError


def pem_block(text: bytes, label: bytes) -> Optional[bytes]:
    """The DER bytes of the first ``-----BEGIN <label>-----`` block, or None."""
    begin = b"-----BEGIN " + label + b"-----"
    start = text.find(begin)
    if start < 0:
        return None
    end = text.find(b"-----END " + label + b"-----", start)
    if end < 0:
        return None
    body = text[start + len(begin):end].translate(None, b" \t\r\n")
    # a2b_base64 skips stray characters; anything but base64 (such as RFC 1421
    # headers, "Proc-Type: 4,ENCRYPTED") means "not plain DER": let the full parser decide.
    if body.translate(None, _BASE64_ALPHABET) or len(body) % 4:
        return None
    try:
        return binascii.a2b_base64(body)
    except (binascii.Error, ValueError):
        return None


def _read(data: bytes, pos: int) -> Tuple[int, bytes, int]:
    """One TLV at ``pos``: (tag, contents, position after it); DER only (one-byte tags, minimal lengths)."""
    if pos + 2 > len(data):
        raise _Bad("truncated")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise _Bad("multi-byte tag")
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data) or data[pos] == 0:
            raise _Bad("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        if length < 0x80:
            raise _Bad("long form for a short length")  # not DER
        pos += count
    if pos + length > len(data):
        raise _Bad("truncated")
    return tag, data[pos:pos + length], pos + length


def _children(contents: bytes) -> List[Tlv]:
    items, pos = [], 0
    while pos < len(contents):
        tag, value, pos = _read(contents, pos)
        items.append((tag, value))
    return items


def elements(contents: bytes) -> List[Element]:
    """Every DER element in ``contents``, in order; raises DerError unless they fill it exactly."""
    items, pos = [], 0
    while pos < len(contents):
        tag, value, end = _read(contents, pos)
        items.append((tag, value, contents[pos:end]))
        pos = end
    return items


def encode(tag: int, content: bytes) -> bytes:
    """The DER encoding of one element (one-byte tag, minimal length)."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def oid_text(value: bytes) -> str:
    """The dotted form of OBJECT IDENTIFIER contents ("2.5.4.3"); raises DerError if not minimal DER."""
    if not value or value[-1] & 0x80:
        raise _Bad("truncated OID")
    arcs, current, fresh = [], 0, True
    for byte in value:
        if fresh and byte == 0x80:
            raise _Bad("non-minimal OID arc")
        current = (current << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first] + arcs[1:])


def _sequence(data: bytes) -> List[Tlv]:
    tag, contents, end = _read(data, 0)
    if tag != _SEQUENCE or end != len(data):
        raise _Bad("not one SEQUENCE")
    return _children(contents)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _time(tag: int, value: bytes) -> int:
    """Epoch seconds of an RFC 5280 UTCTime or GeneralizedTime ("...Z", with seconds)."""
    text = value.decode("ascii")
    if tag == _UTC_TIME and len(text) == 13:
        year = int(text[:2])
        year += 1900 if year >= 50 else 2000  # RFC 5280 4.1.2.5.1
        rest = text[2:]
    elif tag == _GENERALIZED_TIME and len(text) == 15:
        year, rest = int(text[:4]), text[4:]
    else:
        raise _Bad("unsupported time form")
    if not rest.endswith("Z") or not (text[:-1].isdigit() and text.isascii()):
        raise _Bad("unsupported time form")
    month, day, hour, minute, second = (int(rest[i:i + 2]) for i in range(0, 10, 2))
    if not (1 <= month <= 12 and 1 <= day and hour < 24 and minute < 60 and second < 60):
        raise _Bad("bad date")
    if _days_from_civil(year, month, day) >= _days_from_civil(year + month // 12, month % 12 + 1, 1):
        raise _Bad("no such day")  # 30 February
    return _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


def parse_time(tag: int, value: bytes) -> int:
    """Epoch seconds of an RFC 5280 UTCTime/GeneralizedTime ("...Z", whole seconds); raises DerError otherwise."""
    try:
        return _time(tag, value)
    except (ValueError, UnicodeDecodeError):
        raise DerError("bad time") from None


def _tbs(cert_der: bytes) -> List[Tlv]:
    cert = _sequence(cert_der)
    if len(cert) != 3 or cert[0][0] != _SEQUENCE:
        raise _Bad("not a certificate")
    tbs = _children(cert[0][1])
    if tbs and tbs[0][0] == _CONTEXT_0:  # explicit version
        tbs = tbs[1:]
    if len(tbs) < 6 or tbs[0][0] != _INTEGER or tbs[3][0] != _SEQUENCE or tbs[5][0] != _SEQUENCE:
        raise _Bad("not a TBSCertificate")
    return tbs  # serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...


def cert_validity(cert_pem: bytes) -> Optional[Tuple[int, int]]:
    """(notBefore, notAfter) in epoch seconds of the first PEM certificate, or None when unsure."""
    der = pem_block(cert_pem, b"CERTIFICATE")
    if der is None:
        return None
    try:
        validity = _children(_tbs(der)[3][1])
        if len(validity) != 2:
            return None
        return _time(*validity[0]), _time(*validity[1])
    except (_Bad, ValueError, UnicodeDecodeError):
        return None


def _spki_key(spki_contents: bytes) -> Optional[Tuple[str, bytes]]:
    fields = _children(spki_contents)
    if len(fields) != 2 or fields[0][0] != _SEQUENCE or fields[1][0] != _BIT_STRING:
        return None
    algorithm = _children(fields[0][1])
    bits = fields[1][1]
    if not algorithm or algorithm[0][0] != _OID or bits[:1] != b"\x00":
        return None
    if algorithm[0][1] == _RSA_OID:
        return _rsa_public(bits[1:])
    if algorithm[0][1] == _EC_OID:
        return "ec", bits[1:]
    return None


def _rsa_public(rsa_public_key: bytes) -> Optional[Tuple[str, bytes]]:
    fields = _sequence(rsa_public_key)
    if len(fields) != 2 or fields[0][0] != _INTEGER or fields[1][0] != _INTEGER:
        return None
    return "rsa", fields[0][1] + b"/" + fields[1][1]


def cert_public_key(cert_pem: bytes) -> Optional[Tuple[str, bytes]]:
    """("rsa", modulus/exponent) or ("ec", point) of the first PEM certificate; None when unsure."""
    der = pem_block(cert_pem, b"CERTIFICATE")
    if der is None:
        return None
    try:
        return _spki_key(_tbs(der)[5][1])
    except _Bad:
        return None


def _pkcs1_public(der: bytes) -> Optional[Tuple[str, bytes]]:
    fields = _sequence(der)
    if len(fields) < 3 or any(tag != _INTEGER for tag, _ in fields[:3]):
        return None
    return "rsa", fields[1][1] + b"/" + fields[2][1]


def _sec1_public(der: bytes) -> Optional[Tuple[str, bytes]]:
    for tag, value in _sequence(der)[2:]:
        if tag == _CONTEXT_1:
            inner = _children(value)
            if len(inner) == 1 and inner[0][0] == _BIT_STRING and inner[0][1][:1] == b"\x00":
                return "ec", inner[0][1][1:]
    return None  # no public key stored: cryptography has to derive it


def _pkcs8_public(der: bytes) -> Optional[Tuple[str, bytes]]:
    fields = _sequence(der)
    if len(fields) < 3 or fields[1][0] != _SEQUENCE or fields[2][0] != _OCTET_STRING:
        return None
    algorithm = _children(fields[1][1])
    if not algorithm or algorithm[0][0] != _OID:
        return None
    if algorithm[0][1] == _RSA_OID:
        return _pkcs1_public(fields[2][1])
    if algorithm[0][1] == _EC_OID:
        return _sec1_public(fields[2][1])
    return None


def key_public_key(key_pem: bytes) -> Optional[Tuple[str, bytes]]:
    """The public half stored in an unencrypted PEM private key (PKCS#1, SEC1, PKCS#8); None when unsure."""
    readers = ((b"RSA PRIVATE KEY", _pkcs1_public), (b"EC PRIVATE KEY", _sec1_public),
               (b"PRIVATE KEY", _pkcs8_public))
    for label, reader in readers:
        der = pem_block(key_pem, label)
        if der is not None:
            try:
                return reader(der)
            except _Bad:
                return None
    return None


def private_key_blocks(data: bytes) -> int:
    """How many ``-----BEGIN ... PRIVATE KEY-----`` blocks ``data`` holds (EC PARAMETERS blocks do not count)."""
    return sum(1 for part in data.split(b"-----BEGIN ")[1:] if part.split(b"-----", 1)[0].endswith(b"PRIVATE KEY"))
