"""A minimal DER reader for distinguished names (:mod:`jenv.lite.names`): elements, lengths, OIDs.

It only splits bytes into elements for the name text and the CA directory's subject hash, which pick
files and write messages; every decision about a certificate (dates, keys, validity, CA-ness) is the
libraries' (:mod:`jenv.tokens.judge`, :mod:`jenv.ca.verify`).  Strict DER only: anything else raises
:class:`DerError`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path: no typing at run time
    from typing import List, Tuple

__all__ = ["DerError", "elements", "oid_text", "encode"]

if TYPE_CHECKING:
    Tlv = Tuple[int, bytes]
    #: (tag, contents, the whole encoding): one element of :func:`elements`.
    Element = Tuple[int, bytes, bytes]

class DerError(Exception):
    """The bytes are not the (strict) DER shape this reader understands."""


_Bad = DerError


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


