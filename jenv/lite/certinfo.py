"""What jenv reports about a certificate, read from its DER without ``cryptography`` (no trust decision).

``jenv status`` looks at four credentials at once; importing ``cryptography``
to read dates and names costs it more than all its own work.  :func:`summarize`
reads the same :class:`CertInfo` that :func:`jenv.pem.cert_info` builds with
``cryptography`` (a test compares the two on every certificate the tests
make), and answers None for anything it is not sure of, so the caller falls
back to ``cryptography``.  Nothing here decides trust: verification is
:mod:`jenv.ca.verify`'s, through OpenSSL.
"""

from __future__ import annotations

import datetime as dt

from jenv.lite import der
from jenv.lite.names import grid_dn
from jenv.lite.record import record
from jenv.lite.timefmt import validity_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Tuple

    from jenv.locations import Location

__all__ = ["CertInfo", "summarize", "key_summary", "validity_state", "iso_utc", "validity_problem",
           "is_encrypted_key"]

_BASIC_CONSTRAINTS = "2.5.29.19"
_RSA = "1.2.840.113549.1.1.1"
_EC = "1.2.840.10045.2.1"
#: Named curves cryptography reports, by OID: (name, bits).
_CURVES = {"1.2.840.10045.3.1.7": ("secp256r1", 256), "1.3.132.0.34": ("secp384r1", 384),
           "1.3.132.0.35": ("secp521r1", 521)}


class CertInfo(record("CertInfo", "subject issuer not_before not_after serial key_type key_bits "
                                  "fingerprint_sha256 is_ca")):
    """What jenv reports about a certificate (dates are aware UTC datetimes)."""

    __slots__ = ()

    def seconds_left(self, now: dt.datetime) -> int:
        return int((self.not_after - now).total_seconds())


def is_encrypted_key(data: bytes) -> bool:
    """True for a passphrase-protected PEM key (PKCS#8 or the traditional Proc-Type form)."""
    return b"ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data


def validity_state(info: CertInfo, now: dt.datetime, min_seconds: int = 0) -> str:
    """'valid', 'expired', 'expiring' (fewer than ``min_seconds`` left) or 'not yet valid'."""
    if now < info.not_before:
        return "not yet valid"
    if now >= info.not_after:
        return "expired"
    if info.seconds_left(now) < min_seconds:
        return "expiring"
    return "valid"


def iso_utc(moment: dt.datetime) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _renew_hint(loc: "Location") -> str:
    if loc.what.startswith("token"):
        return "run 'jenv token-init' for a new token"
    return "renew your grid user certificate with your certification authority"


def validity_problem(info: CertInfo, loc: "Location", now: dt.datetime) -> Optional[str]:
    """A one-line message (with the fix) when the certificate is not valid now, else None."""
    return validity_text(loc.describe(), int(info.not_before.timestamp()), int(info.not_after.timestamp()),
                         now.timestamp(), _renew_hint(loc))


def _integer(value: bytes) -> int:
    return int.from_bytes(value, "big", signed=True)


def _minimal_integer(value: bytes) -> bool:
    """DER's INTEGER rule (cryptography refuses the others): no needless leading 0x00 or 0xFF."""
    return bool(value) and not (len(value) > 1 and (value[0] == 0 and value[1] < 0x80
                                                      or value[0] == 0xFF and value[1] >= 0x80))


#: Name string types read as cryptography reads them (a T61String, say, is left to cryptography).
_PLAIN_STRINGS = (0x0C, 0x13, 0x16)  # UTF8String, PrintableString, IA5String


def _plain_name(name_der: bytes) -> bool:
    """Single-valued RDNs of plain string types only (a multi-valued RDN's DER order is cryptography's
    to check)."""
    from jenv.lite.names import parse_name

    return all(len(rdn) == 1 and rdn[0][2] in _PLAIN_STRINGS for rdn in parse_name(name_der))


_ECDSA_SIGNATURES = ("1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4")


def _plain_algorithm(algorithm: bytes) -> bool:
    """An AlgorithmIdentifier as DER writes it: ECDSA signatures carry no parameters."""
    parts = der.elements(algorithm)
    return bool(parts) and parts[0][0] == 0x06 and not (
        der.oid_text(parts[0][1]) in _ECDSA_SIGNATURES and len(parts) != 1)


def _public_key(spki: bytes) -> Optional[Tuple[str, int]]:
    """(key type, bits) of a SubjectPublicKeyInfo, as :func:`jenv.pem.key_description` names them."""
    fields = der.elements(spki)
    if len(fields) != 2 or fields[0][0] != 0x30 or fields[1][0] != 0x03 or fields[1][1][:1] != b"\x00":
        return None
    algorithm = der.elements(fields[0][1])
    if not algorithm or algorithm[0][0] != 0x06:
        return None
    oid = der.oid_text(algorithm[0][1])
    if oid == _RSA:
        numbers = der.elements(der.elements(fields[1][1][1:])[0][1])
        if len(numbers) != 2 or numbers[0][0] != 0x02 or _integer(numbers[0][1]) <= 0:
            return None
        return "RSA", _integer(numbers[0][1]).bit_length()
    if oid == _EC and len(algorithm) == 2 and algorithm[1][0] == 0x06:
        curve = _CURVES.get(der.oid_text(algorithm[1][1]))
        return (f"EC ({curve[0]})", curve[1]) if curve else None
    return None


def _is_ca(extensions: bytes) -> Optional[bool]:
    """basicConstraints' cA flag from the [3] extensions field; None when the field is not plain."""
    outer = der.elements(extensions)
    if len(outer) != 1 or outer[0][0] != 0x30:
        return None
    listed = [der.elements(extension[1]) for extension in der.elements(outer[0][1])]
    oids = [der.oid_text(parts[0][1]) for parts in listed if parts and parts[0][0] == 0x06]
    if len(oids) != len(listed) or len(set(oids)) != len(oids):
        return None  # a duplicate extension: cryptography refuses the certificate; let it say so
    is_ca = False
    for parts in listed:
        if len(parts) == 3 and parts[1][:2] != (0x01, b"\xff"):
            return None  # a critical flag that is not DER's TRUE (FALSE is left out, TRUE is 0xFF)
        if der.oid_text(parts[0][1]) != _BASIC_CONSTRAINTS:
            continue
        value = parts[-1]
        if value[0] != 0x04:
            return None
        inner = der.elements(value[1])
        if len(inner) != 1 or inner[0][0] != 0x30:
            return None
        flags = der.elements(inner[0][1])
        ca_flag = bool(flags) and flags[0][0] == 0x01
        if ca_flag and flags[0][1] != b"\xff":
            return None  # cA written out as FALSE, or TRUE not as 0xFF
        path_length = flags[1:] if ca_flag else flags
        if path_length and (not ca_flag or path_length[0][0] != 0x02 or not _minimal_integer(path_length[0][1])
                            or _integer(path_length[0][1]) < 0):
            return None  # a pathLenConstraint without cA, or a negative one: cryptography refuses it
        is_ca = ca_flag
    return is_ca


def summarize(cert_pem: bytes) -> Optional[CertInfo]:
    """The CertInfo of the first PEM certificate in ``cert_pem``, or None when unsure (then
    :func:`jenv.pem.cert_info` reads it with ``cryptography``)."""
    cert_der = der.pem_block(cert_pem, b"CERTIFICATE")
    if cert_der is None:
        return None
    try:
        certificate = der.elements(cert_der)
        if len(certificate) != 1 or certificate[0][0] != 0x30:
            return None
        outer = der.elements(certificate[0][1])
        if len(outer) != 3 or outer[0][0] != 0x30:
            return None
        tbs = der.elements(outer[0][1])
        if tbs and tbs[0][0] == 0xA0:  # only v3 here: cryptography refuses v2, and v1 has no [0]
            version = der.elements(tbs[0][1])
            if len(version) != 1 or version[0][:2] != (0x02, b"\x02"):
                return None
            tbs = tbs[1:]
        if len(tbs) < 6 or tbs[0][0] != 0x02 or tbs[2][0] != 0x30 or tbs[4][0] != 0x30:
            return None
        if not (_minimal_integer(tbs[0][1]) and _plain_algorithm(tbs[1][1]) and _plain_algorithm(outer[1][1])
                and _plain_name(tbs[2][2]) and _plain_name(tbs[4][2])):
            return None
        validity = der.elements(tbs[3][1])
        key = _public_key(tbs[5][1])
        extensions = [item for item in tbs[6:] if item[0] == 0xA3]
        is_ca = _is_ca(extensions[0][1]) if extensions else False
        if len(validity) != 2 or key is None or is_ca is None:
            return None
        not_before, not_after = (der.parse_time(tag, value) for tag, value, _whole in validity)
        import hashlib

        fingerprint = hashlib.sha256(cert_der).digest().hex(":").upper()
        return CertInfo(grid_dn(tbs[4][2]), grid_dn(tbs[2][2]),
                        dt.datetime.fromtimestamp(not_before, dt.timezone.utc),
                        dt.datetime.fromtimestamp(not_after, dt.timezone.utc),
                        _integer(tbs[0][1]), key[0], key[1], fingerprint, is_ca)
    except (der.DerError, ValueError, IndexError, UnicodeDecodeError, OverflowError):
        return None


def key_summary(key_pem: bytes) -> Optional[Tuple[Tuple[str, bytes], str, int]]:
    """(the public half as :func:`jenv.lite.der.key_public_key` gives it, key type, bits) of an
    unencrypted PEM key, or None when unsure."""
    public = der.key_public_key(key_pem)
    if public is None:
        return None
    kind, value = public
    if kind == "rsa":
        modulus, _sep, exponent = value.rpartition(b"/")
        if exponent != b"\x01\x00\x01":  # the exponent everyone uses; any other is cryptography's to read
            return None
        bits = _integer(modulus).bit_length() if modulus else 0
        return (public, "RSA", bits) if bits else None
    return None  # EC: the curve is not in the bare point; cryptography names it
