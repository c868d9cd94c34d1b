"""What a PEM file holds, sniffed from its armour lines (standard library only; no trust decision).

The libraries read PEM differently: OpenSSL's certificate readers take a
``CERTIFICATE``, an ``X509 CERTIFICATE`` or a ``TRUSTED CERTIFICATE`` block,
whichever comes first, and a TLS stack takes the first of several blocks,
while ``cryptography`` reads only ``CERTIFICATE`` blocks.  A token file that
the libraries could read in two ways is refused outright, so every reader
of it (jenv's, alien.py's, any TLS client's) sees the same certificate:
:func:`certificate_framing` and :func:`key_framing` say, for a message, what
is wrong with a file's framing, and the libraries decide the rest
(:mod:`jenv.tokens.judge`).  :func:`pem_block` gives one block's bytes to the
CA directory lookup, which only picks files.
"""

from __future__ import annotations

import binascii

from jenv.lite.pkcs12 import is_pkcs12, pkcs12_problem

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing at run time
    from typing import List, Optional, Tuple

__all__ = ["blocks", "describe_non_pem", "certificate_framing", "key_framing", "pem_block", "private_key_blocks", "is_encrypted_key"]

_BEGIN, _END, _DASHES = b"-----BEGIN ", b"-----END ", b"-----"
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#: Blocks a key file may hold beside its one private key: ``openssl ecparam -genkey`` writes the curve first.
_KEY_COMPANIONS = (b"EC PARAMETERS",)


def blocks(data: bytes) -> List[Tuple[bytes, bytes, bool]]:
    """Every ``-----BEGIN <label>-----`` of ``data``, in order: (label, body between the armour lines,
    whether a matching END line closes it)."""
    found = []
    position = data.find(_BEGIN)
    while position >= 0:
        start = position + len(_BEGIN)
        close = data.find(_DASHES, start)
        if close < 0:
            found.append((data[start:start + 40].split(b"\n")[0], b"", False))
            break
        label = data[start:close]
        end = data.find(_END + label + _DASHES, close)
        following = data.find(_BEGIN, close)
        closed = end >= 0 and (following < 0 or end < following)
        found.append((label, data[close + len(_DASHES):end] if closed else b"", closed))
        position = following
    return found


def _label(label: bytes) -> str:
    return label.decode("ascii", "replace")[:40]


def _body_problem(body: bytes) -> Optional[str]:
    """Why a block's body is not plain base64 (RFC 7468's strict form), or None."""
    text = body.translate(None, b" \t\r\n")
    if b":" in body:
        return "has header lines inside its PEM block"
    payload = text.rstrip(b"=")
    if payload.translate(None, _BASE64) or len(text) - len(payload) > 2 or len(text) % 4:
        return "has characters or padding in its PEM block that are not base64"
    return None


def describe_non_pem(data: bytes, wanted: str) -> str:
    """What bytes without a usable PEM block are instead (the words follow "the file ..."); ``wanted`` is
    "certificate" or "private key"."""
    stripped = data.strip()
    if not stripped:
        return "is empty"
    if is_pkcs12(stripped):
        return pkcs12_problem()
    if stripped[:1] == b"\x30":
        tool = "openssl x509 -inform der -outform pem" if wanted == "certificate" else "openssl pkey -inform der"
        return f"is in DER (binary) form, not PEM: convert it with '{tool}'"
    return f"is not a PEM {wanted}"


def certificate_framing(data: bytes, single: bool = True) -> Optional[str]:
    """Why ``data`` is not plain ``CERTIFICATE`` blocks, exactly one when ``single`` (a token; a user
    certificate file may carry its chain after it), or None.  The words follow "the file ..."."""
    found = blocks(data)
    if not found:
        return describe_non_pem(data, "certificate")
    if all(label.endswith(b"PRIVATE KEY") for label, _body, _closed in found):
        return "holds a private key, not a certificate"
    if single and len(found) > 1:
        return "holds " + str(len(found)) + " PEM blocks (" + \
            ", ".join(_label(label) for label, _body, _closed in found) + \
            "): a token certificate file holds exactly one CERTIFICATE block"
    for label, body, closed in found:
        if label != b"CERTIFICATE":
            return f"holds a PEM '{_label(label)}' block, which readers take differently: keep only " \
                   "CERTIFICATE blocks"
        if not closed:
            return "holds a truncated certificate (no END line)"
        problem = _body_problem(body)
        if problem is not None:
            return problem
    return None


def key_framing(data: bytes) -> Optional[str]:
    """Why ``data`` is not exactly one plain private key block (EC PARAMETERS may stand before it), or None."""
    found = [item for item in blocks(data) if item[0] not in _KEY_COMPANIONS]
    keys = [item for item in found if item[0].endswith(b"PRIVATE KEY")]
    if not keys:
        if any(label.endswith(b"CERTIFICATE") for label, _body, _closed in found):
            return "holds a certificate, not a private key"
        return describe_non_pem(data, "private key") if not found else \
            f"holds a PEM '{_label(found[0][0])}' block, not a private key"
    if len(keys) > 1:
        return f"holds {len(keys)} private keys: keep only the one that belongs to the certificate"
    if len(found) > 1:
        return "holds other PEM blocks beside its private key (" + \
            ", ".join(_label(label) for label, _body, _closed in found) + ")"
    label, body, closed = keys[0]
    if not closed:
        return "holds a truncated private key (no END line)"
    if label == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in body:
        return "is encrypted"
    return _body_problem(body)


def pem_block(text: bytes, label: bytes) -> Optional[bytes]:
    """The DER bytes of the first ``label`` block when its body is plain base64, else None."""
    for found, body, closed in blocks(text):
        if found == label:
            if not closed or _body_problem(body) is not None:
                return None
            try:
                return binascii.a2b_base64(body.translate(None, b" \t\r\n"))
            except (binascii.Error, ValueError):
                return None
    return None


def private_key_blocks(data: bytes) -> int:
    """How many ``-----BEGIN ... PRIVATE KEY-----`` blocks ``data`` holds (EC PARAMETERS blocks do not count)."""
    return sum(1 for label, _body, _closed in blocks(data) if label.endswith(b"PRIVATE KEY"))


def is_encrypted_key(data: bytes) -> bool:
    """True for a passphrase-protected PEM key (PKCS#8 or the traditional Proc-Type form)."""
    return b"ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data
