"""Recognise a PKCS#12 bundle (``.p12``/``.pfx``) by its content, so every reader can name the fix.

The CERN CA hands out the user certificate and key as one PKCS#12 file,
exported from the browser.  Pointed at one where a PEM certificate or key
belongs, jenv says what it is and that ``jenv cert-import <file>`` turns it
into the two PEM files.  This only looks at the first bytes of the
structure (RFC 7292 section 4)::

    PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, macData MacData OPTIONAL }
    ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER (pkcs7-data or pkcs7-signedData), ... }

BER's indefinite lengths (some exporters write them) are accepted here.  No
trust decision is made: the bundle is opened by ``cryptography`` only.
"""

from __future__ import annotations


TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing at run time
    from typing import Optional, Tuple

__all__ = ["is_pkcs12", "outer_length_matches", "pkcs12_problem"]

_PKCS7_DATA = bytes.fromhex("2a864886f70d010701")  # 1.2.840.113549.1.7.1
_PKCS7_SIGNED = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2


def _header(data: bytes, pos: int) -> Optional[Tuple[int, Optional[int], int]]:
    """(tag, length or None for indefinite, start of contents) of the element at ``pos``; None when short."""
    if pos + 2 > len(data):
        return None
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        return tag, first, pos
    count = first & 0x7F
    if count == 0:
        return tag, None, pos  # BER indefinite length
    if count > 4 or pos + count > len(data):
        return None
    return tag, int.from_bytes(data[pos:pos + count], "big"), pos + count


def is_pkcs12(data: bytes) -> bool:
    """True when ``data`` starts like a PKCS#12 PFX: SEQUENCE { INTEGER 3, SEQUENCE { OID pkcs7-data ... } ... }."""
    outer = _header(data, 0)
    if outer is None or outer[0] != 0x30:
        return False
    version = _header(data, outer[2])
    if version is None or version[:2] != (0x02, 1) or data[version[2]:version[2] + 1] != b"\x03":
        return False
    auth_safe = _header(data, version[2] + 1)
    if auth_safe is None or auth_safe[0] != 0x30:
        return False
    oid = _header(data, auth_safe[2])
    if oid is None or oid[0] != 0x06 or oid[1] is None:
        return False
    return data[oid[2]:oid[2] + oid[1]] in (_PKCS7_DATA, _PKCS7_SIGNED)


def outer_length_matches(data: bytes) -> bool:
    """False when the PFX's own (definite) length says the file is cut short or has bytes after it."""
    outer = _header(data, 0)
    if outer is None:
        return False
    return outer[1] is None or outer[2] + outer[1] == len(data)


def pkcs12_problem(path: Optional[str] = None, variable: Optional[str] = None) -> str:
    """What to say after "<what> <path>" when a PKCS#12 bundle is found where PEM belongs: the fix."""
    import shlex  # error path only

    fix = f"run 'jenv cert-import {shlex.quote(path) if path else '<file.p12>'}' to install it as " \
          "~/.globus/usercert.pem and userkey.pem"
    if variable:
        fix += f", then unset {variable}"
    return f"is a PKCS#12 bundle (.p12: certificate and key in one file), not PEM: {fix}"
