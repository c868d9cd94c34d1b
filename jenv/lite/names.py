"""Distinguished names: the one home for how jenv reads, prints, compares and hashes them.

Everything here works on the DER encoding of an X.509 ``Name`` (what
``cryptography``'s ``Name.public_bytes()`` and OpenSSL's ``i2d_X509_NAME``
give), so certificates parsed by either library share one implementation.  Stdlib only.  Nothing here
makes a trust decision: the grid DN is text for people and for JAliEn's
subject rules, the comparison key and the subject hash only say which
``<hash>.N`` files a lookup reads (OpenSSL itself then decides).

- :func:`grid_dn`: ``/C=ch/O=AliEn2/CN=Users/CN=jdoe``, as ``openssl x509
  -subject -nameopt compat`` prints it (multi-valued RDNs joined with ``+``).
- :func:`name_key`: equal for names OpenSSL's ``X509_NAME_cmp`` calls equal.
- :func:`subject_hash`: OpenSSL's ``X509_NAME_hash`` (``openssl x509 -subject_hash``).
"""

from __future__ import annotations


TYPE_CHECKING = False
if TYPE_CHECKING:  # on the fast path (alien-token-info): no typing at run time
    from typing import List, Tuple

from jenv.lite.der import DerError, encode, oid_text

__all__ = ["Attribute", "parse_name", "grid_dn", "escape_value", "name_key", "subject_hash", "canonical_text",
           "SHORT_NAMES",
           "cert_names", "has_trailing_bytes", "attributes", "DerError"]

#: OpenSSL's short names of name attributes, as grid DNs spell them (/C=ch/O=AliEn2/CN=...).
SHORT_NAMES = {
    "2.5.4.6": "C", "2.5.4.8": "ST", "2.5.4.7": "L", "2.5.4.10": "O", "2.5.4.11": "OU",
    "2.5.4.3": "CN", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
    "1.2.840.113549.1.9.1": "emailAddress", "2.5.4.5": "serialNumber", "2.5.4.4": "SN",
    "2.5.4.42": "GN", "2.5.4.12": "title", "2.5.4.17": "postalCode", "2.5.4.9": "street",
}

_SET, _SEQUENCE, _OID, _UTF8 = 0x31, 0x30, 0x06, 0x0C

#: String types OpenSSL canonicalises (ASN1_MASK_CANON), and how their bytes become text.
_TEXT_TAGS = {
    0x0C: "utf-8",       # UTF8String
    0x13: "latin-1",     # PrintableString
    0x14: "latin-1",     # T61String (OpenSSL reads it as Latin-1)
    0x16: "latin-1",     # IA5String
    0x1A: "latin-1",     # VisibleString
    0x1E: "utf-16-be",   # BMPString
    0x1C: "utf-32-be",   # UniversalString
}

#: (dotted OID, DER OID contents, string tag, value bytes): one attribute of a name.
if TYPE_CHECKING:
    Attribute = Tuple[str, bytes, int, bytes]


def _tlv(data: bytes, pos: int) -> Tuple[int, bytes, int]:
    """One TLV at ``pos`` (definite lengths, short or long form): (tag, contents, end)."""
    if pos + 2 > len(data):
        raise DerError("truncated")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    length = first
    if first & 0x80:
        count = first & 0x7F
        if not 0 < count <= 4 or pos + count > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise DerError("truncated")
    return tag, data[pos:pos + length], pos + length


def _items(contents: bytes) -> List[Tuple[int, bytes]]:
    items, pos = [], 0
    while pos < len(contents):
        tag, value, pos = _tlv(contents, pos)
        items.append((tag, value))
    return items


def parse_name(name_der: bytes) -> Tuple[Tuple[Attribute, ...], ...]:
    """The RDNs of a DER ``Name`` (each a tuple of attributes, in encoded order); raises DerError."""
    tag, contents, end = _tlv(name_der, 0)
    if tag != _SEQUENCE or end != len(name_der):
        raise DerError("not a Name")
    rdns = []
    for set_tag, rdn in _items(contents):
        members = _items(rdn)
        if set_tag != _SET or not members:
            raise DerError("bad RDN")
        attrs = []
        for seq_tag, member in members:
            fields = _items(member)
            if seq_tag != _SEQUENCE or len(fields) != 2 or fields[0][0] != _OID:
                raise DerError("bad attribute")
            attrs.append((oid_text(fields[0][1]), fields[0][1], fields[1][0], fields[1][1]))
        rdns.append(tuple(attrs))
    return tuple(rdns)


def _text(tag: int, value: bytes) -> str:
    codec = _TEXT_TAGS.get(tag)
    if codec is None:
        return value.decode("latin-1")
    try:
        return value.decode(codec)
    except UnicodeDecodeError:
        return value.decode("latin-1")


def attributes(name_der: bytes) -> Tuple[Tuple[Tuple[str, str], ...], ...]:
    """The RDNs of a DER name as (short name, text) pairs, in encoded order: (("C", "ch"),), ...;
    raises DerError when it is not a Name."""
    return tuple(tuple((SHORT_NAMES.get(oid, oid), _text(tag, value)) for oid, _raw, tag, value in rdn)
                 for rdn in parse_name(name_der))


def escape_value(value: str) -> str:
    """An attribute value as the one-line form writes it: its separators ``/`` and ``+`` escaped."""
    return value.replace("/", "\\/").replace("+", "\\+")


def grid_dn(name_der: bytes) -> str:
    """The grid form of a DER name, ``/C=ch/O=AliEn2/CN=jdoe``; raises DerError when it is not a Name.

    As ``openssl x509 -nameopt compat`` prints it, except that text outside
    ASCII stays text (callers escape control characters for the terminal).
    """
    parts = []
    for rdn in parse_name(name_der):
        parts.append("+".join(f"{SHORT_NAMES.get(oid, oid)}={escape_value(_text(tag, value))}"
                              for oid, _raw, tag, value in rdn))
    return "/" + "/".join(parts) if parts else ""


#: The whitespace OpenSSL's name canonicalisation folds (ASCII only, ossl_isspace).
_ASCII_SPACE = " \t\n\v\f\r"


def canonical_text(value: str) -> bytes:
    """OpenSSL asn1_string_canon, as UTF-8: trim, collapse ASCII whitespace runs, lowercase ASCII."""
    words = [word for word in value.translate({ord(c): " " for c in _ASCII_SPACE}).split(" ") if word]
    return "".join(c.lower() if c.isascii() else c for c in " ".join(words)).encode("utf-8")


def _canonical_attribute(oid_der: bytes, tag: int, value: bytes) -> bytes:
    if tag in _TEXT_TAGS:
        body = encode(_UTF8, canonical_text(_text(tag, value)))
    else:
        body = encode(tag, value)  # not a canonicalised string type: compared as encoded
    return encode(_SEQUENCE, encode(_OID, oid_der) + body)


def _canonical(name_der: bytes) -> bytes:
    """OpenSSL's x509_name_canon: each RDN a SET of canonical attributes in DER order, no outer header."""
    return b"".join(encode(_SET, b"".join(sorted(_canonical_attribute(raw, tag, value)
                                                  for _oid, raw, tag, value in rdn)))
                    for rdn in parse_name(name_der))


def name_key(name_der: bytes) -> bytes:
    """A comparison key: equal exactly for the names OpenSSL's X509_NAME_cmp calls equal."""
    return _canonical(name_der)


def subject_hash(name_der: bytes) -> str:
    """OpenSSL's X509_NAME_hash of a DER name: the 8 hex digits of ``openssl x509 -subject_hash``.

    SHA-1 over the canonical encoding; the first four digest bytes read as a
    little-endian number.
    """
    import hashlib  # only for CA lookups, never on the fast path

    digest = hashlib.sha1(_canonical(name_der)).digest()
    return "%08x" % int.from_bytes(digest[:4], "little")


def has_trailing_bytes(der: bytes) -> bool:
    """True when bytes follow the first (definite-length) element of ``der``; False when unsure."""
    try:
        return _tlv(der, 0)[2] != len(der)
    except DerError:
        return False


def cert_names(cert_der: bytes) -> Tuple[bytes, bytes]:
    """(subject, issuer) DER names of a certificate's DER; raises DerError when it has not that shape."""
    tag, contents, _end = _tlv(cert_der, 0)
    if tag != _SEQUENCE:
        raise DerError("not a certificate")
    tbs_tag, tbs, _ = _tlv(contents, 0)
    if tbs_tag != _SEQUENCE:
        raise DerError("not a certificate")
    fields, pos = [], 0
    while pos < len(tbs) and len(fields) < 7:
        start = pos
        field_tag, _value, pos = _tlv(tbs, pos)
        fields.append((field_tag, tbs[start:pos]))
    if fields and fields[0][0] == 0xA0:  # explicit version
        fields = fields[1:]
    if len(fields) < 5 or fields[2][0] != _SEQUENCE or fields[4][0] != _SEQUENCE:
        raise DerError("not a TBSCertificate")
    return fields[4][1], fields[2][1]  # serial, signature, issuer, validity, subject
