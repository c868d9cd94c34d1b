"""Whether a PKCS#12 bundle's MAC verifies with a password: a wrong password told from a damaged file.

``cryptography`` (OpenSSL's PKCS12_parse) says "Invalid password or PKCS12 data" for both; OpenSSL
itself checks the MAC first.  The MAC covers the whole authenticated content and is keyed by the
password alone (RFC 7292 section 4 and appendix B), so:

* the MAC verifies: the password is right, and a bundle that still cannot be read is damaged;
* it does not: the password is wrong, or the bundle was damaged.  :func:`without_mac` gives the
  bundle without its MAC, to see whether the password still opens the content: then the MAC itself was
  damaged.  Damage to the encrypted content cannot be told from a wrong password.

Only the password-based MAC of RFC 7292 is checked here (HMAC with the PKCS#12 key derivation, ID 3);
a bundle without a MAC, with BER indefinite lengths, with PBMAC1 (RFC 9579) or an unknown digest gives
None: no verdict.  Standard library only (hashlib, hmac).
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

__all__ = ["mac_verdict", "without_mac"]

#: DigestAlgorithm OIDs (DER content) -> hashlib names.
_DIGESTS = {
    bytes.fromhex("2b0e03021a"): "sha1",
    bytes.fromhex("608648016503040204"): "sha224",
    bytes.fromhex("608648016503040201"): "sha256",
    bytes.fromhex("608648016503040202"): "sha384",
    bytes.fromhex("608648016503040203"): "sha512",
}
_PKCS7_DATA = bytes.fromhex("2a864886f70d010701")
#: More rounds than any exporter uses (OpenSSL: 2048); a hostile count gets no verdict, not a hang.
_MAX_ITERATIONS = 1_000_000

_Element = Tuple[int, bytes]  # (tag, contents)


def _elements(data: bytes) -> Iterator[_Element]:
    """The DER elements of ``data`` in order; ValueError on anything else (BER indefinite lengths too)."""
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("short header")
        tag, first = data[pos], data[pos + 1]
        pos += 2
        if first >= 0x80:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise ValueError("unsupported length")
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        else:
            length = first
        if pos + length > len(data):
            raise ValueError("element longer than its container")
        yield tag, data[pos:pos + length]
        pos += length


def _der(tag: int, contents: bytes) -> bytes:
    length = len(contents)
    if length < 0x80:
        return bytes([tag, length]) + contents
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + contents


def without_mac(data: bytes) -> Optional[bytes]:
    """The bundle with its macData left out (DER re-encoded), or None when it has none or is not plain DER.
    For a diagnosis only: a bundle is never used without the MAC it came with."""
    try:
        (tag, pfx), = list(_elements(data))
        parts = list(_elements(pfx))
    except ValueError:
        return None
    if tag != 0x30 or len(parts) != 3:
        return None
    return _der(0x30, b"".join(_der(part_tag, contents) for part_tag, contents in parts[:2]))


def _sequence(contents: bytes, tags: List[int]) -> List[bytes]:
    """The contents of the elements of ``contents``, whose tags must start with ``tags``."""
    items = list(_elements(contents))
    if len(items) < len(tags) or [tag for tag, _ in items[:len(tags)]] != tags:
        raise ValueError("unexpected structure")
    return [value for _, value in items]


def _mac_parts(data: bytes) -> Optional[Tuple[bytes, str, bytes, bytes, int]]:
    """(authenticated content, digest name, MAC, salt, iterations), or None when there is no MAC the
    PKCS#12 way; ValueError when the structure is broken or uses what is not handled here."""
    (tag, pfx), = list(_elements(data))
    if tag != 0x30:
        raise ValueError("not a SEQUENCE")
    parts = list(_elements(pfx))
    if len(parts) < 3:
        return None  # no macData
    (_, _version), (_, auth_safe), (mac_tag, mac_data) = parts[:3]
    oid, wrapped = _sequence(auth_safe, [0x06, 0xA0])[:2]
    if oid != _PKCS7_DATA or mac_tag != 0x30:
        raise ValueError("not a password-integrity bundle")
    content, = _sequence(wrapped, [0x04])
    digest_info, salt, *rest = _sequence(mac_data, [0x30, 0x04])
    algorithm, mac = _sequence(digest_info, [0x30, 0x04])[:2]
    name = _DIGESTS.get(_sequence(algorithm, [0x06])[0])
    if name is None:
        raise ValueError("MAC digest not handled here (PBMAC1?)")
    iterations = int.from_bytes(rest[0], "big") if rest else 1
    return content, name, mac, salt, iterations


def _key(name: str, password: bytes, salt: bytes, iterations: int) -> bytes:
    """The MAC key: RFC 7292 appendix B.2 with ID 3, one hash block long (all the HMAC needs)."""
    import hashlib

    block = hashlib.new(name).block_size

    def stretched(value: bytes) -> bytes:
        size = block * -(-len(value) // block)
        return (value * (size // max(len(value), 1) + 1))[:size]

    digest = hashlib.new(name, b"\x03" * block + stretched(salt) + stretched(password)).digest()
    for _ in range(iterations - 1):
        digest = hashlib.new(name, digest).digest()
    return digest


def _bmp_forms(password: Optional[bytes]) -> List[bytes]:
    """The password as BMPString bytes, the ways OpenSSL may have made them: UTF-8 read as Unicode (OpenSSL
    3), bytes read as Latin-1 (older exporters); no password is both the empty string and none at all."""
    if not password:
        return [b"\x00\x00", b""]
    forms = []
    for encoding in ("utf-8", "latin-1"):
        try:
            form = password.decode(encoding).encode("utf-16-be") + b"\x00\x00"
        except UnicodeError:
            continue
        if form not in forms:
            forms.append(form)
    return forms


def mac_verdict(data: bytes, password: Optional[bytes]) -> Optional[bool]:
    """True when the bundle's MAC verifies with ``password`` (None or b"": no password, both ways), False
    when it does not, None when there is no verdict (see the module doc)."""
    import hmac

    try:
        parts = _mac_parts(data)
    except ValueError:
        return None
    if parts is None:
        return None
    content, name, mac, salt, iterations = parts
    if not 1 <= iterations <= _MAX_ITERATIONS:
        return None
    return any(hmac.compare_digest(hmac.new(_key(name, form, salt, iterations), content, name).digest(), mac)
               for form in _bmp_forms(password))
