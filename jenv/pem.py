"""Pure X.509 and key parsing: bytes in, objects or a precise error out.

Nothing here reads files.  Every parse error is a :class:`InvalidInputError`
whose message says what the bytes were instead (empty, DER, a key where a
certificate belongs, truncated PEM, garbage), prefixed with what the caller
was loading ("user certificate /home/u/.globus/usercert.pem").
"""

from __future__ import annotations

import os
import warnings
from typing import Callable, List, Optional, Tuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import datetime as dt

from jenv.lite import names
from jenv.lite.pemtext import is_encrypted_key, private_key_blocks
from jenv.lite.pkcs12 import is_pkcs12, pkcs12_problem
from jenv.lite.record import record
from jenv.lite.timefmt import format_duration, validity_text
from jenv.lite.validity import date_state
from jenv.errors import InvalidInputError, PassphraseError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from jenv.locations import Location

__all__ = [
    "key_signs_for",
    "CertInfo",
    "parse_certificate",
    "parse_certificates",
    "parse_private_key",
    "is_encrypted_key",
    "key_matches",
    "key_description",
    "grid_dn",
    "iso_utc",
    "validity_problem",
    "describe_non_certificate",
    "validity_bounds",
    "cert_info",
    "validity_state",
    "format_duration",
    "load_pkcs12",
    "check_pkcs12",
    "private_key_pem",
    "certificate_pem",
]

class CertInfo(record("CertInfo", "subject issuer not_before not_after serial key_type key_bits "
                                  "fingerprint_sha256 is_ca")):
    """What jenv reports about a certificate (dates are aware UTC datetimes), from :func:`cert_info`."""

    __slots__ = ()

    def seconds_left(self, now: dt.datetime) -> int:
        return int((self.not_after - now).total_seconds())


def validity_state(info: CertInfo, now: dt.datetime, min_seconds: int = 0) -> str:
    """The one rule (:func:`jenv.lite.validity.date_state`) on a CertInfo's dates."""
    return date_state(info.not_before.timestamp(), info.not_after.timestamp(), now.timestamp(), min_seconds)


def iso_utc(moment: dt.datetime) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def validity_problem(info: CertInfo, loc: "Location", now: dt.datetime) -> Optional[str]:
    """A one-line message (with the fix) when the certificate is not valid now, else None."""
    hint = "run 'jenv token-init' for a new token" if loc.what.startswith("token") else \
        "renew your grid user certificate with your certification authority"
    return validity_text(loc.describe(), int(info.not_before.timestamp()), int(info.not_after.timestamp()),
                         now.timestamp(), hint)


CERT_BEGIN = b"-----BEGIN CERTIFICATE-----"
CERT_END = b"-----END CERTIFICATE-----"
KEY_MARKER = b"PRIVATE KEY-----"

def describe_non_certificate(data: bytes) -> str:
    """A description of bytes that are not what was expected."""
    from jenv.lite.pemtext import describe_non_pem

    stripped = data.strip()
    if KEY_MARKER in stripped and CERT_BEGIN not in stripped:
        return "holds a private key, not a certificate"
    if CERT_BEGIN in stripped and CERT_END not in stripped:
        return "holds a truncated certificate (no END line)"
    if b"-----BEGIN" in stripped:
        label = stripped.split(b"-----BEGIN", 1)[1].split(b"-----", 1)[0].strip().decode("ascii", "replace")
        return f"holds a PEM '{label}' block, not a certificate"
    return describe_non_pem(data, "certificate")


def parse_certificates(data: bytes, what: str = "certificate") -> List[x509.Certificate]:
    """All certificates of a PEM bundle, in order; raises InvalidInputError if there is none."""
    if CERT_BEGIN not in data or CERT_END not in data:
        raise InvalidInputError(f"{what} {describe_non_certificate(data)}")
    try:
        with warnings.catch_warnings():
            # Real grid CAs (AliEn2-CA) have serial number 0, which cryptography warns about on every load.
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(data)
        for cert in certs:  # cryptography decodes these lazily: a corrupt one must fail here, not later
            cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc, cert.extensions
        return certs
    except (ValueError, x509.InvalidVersion, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise InvalidInputError(f"{what} holds a corrupt or truncated certificate ({_short(exc)})") from None


def validity_bounds(cert: x509.Certificate) -> Tuple[int, int]:
    """(notBefore, notAfter) of a certificate in epoch seconds."""
    return int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp())


def parse_certificate(data: bytes, what: str = "certificate") -> x509.Certificate:
    """The first certificate of PEM ``data``; raises InvalidInputError saying what the data is instead."""
    return parse_certificates(data, what)[0]


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def parse_private_key(data: bytes, what: str = "private key",
                      passphrase: Optional[Callable[[], bytes]] = None, own_key: bool = False):
    """An RSA or EC private key from PEM (PKCS#1, SEC1 or PKCS#8, plain or encrypted).

    ``passphrase`` is called only for an encrypted key.  ``own_key`` skips
    cryptography's RSA consistency check (``unsafe_skip_rsa_key_validation``),
    the costliest step of token-init, for keys that are checked another way:
    the user's own key, which OpenSSL loads and matches again for the TLS
    handshake (or that ``status`` only looks at), and the token key JCentral
    sends, which must sign for its certificate (:func:`key_signs_for`).  The
    key-match commands always run the full check.
    Raises
    InvalidInputError (not a key, corrupt, unsupported type) or
    PassphraseError (encrypted and no way to ask, or wrong passphrase).
    """
    if KEY_MARKER not in data:
        if CERT_BEGIN in data:
            raise InvalidInputError(f"{what} holds a certificate, not a private key")
        stripped = data.strip()
        if not stripped:
            raise InvalidInputError(f"{what} is empty")
        if is_pkcs12(stripped):
            raise InvalidInputError(f"{what} {pkcs12_problem()}")
        if stripped[:1] == b"\x30":
            raise InvalidInputError(f"{what} is in DER (binary) form, not PEM: convert it with "
                                    "'openssl pkey -inform der'")
        raise InvalidInputError(f"{what} is not a PEM private key")
    keys = private_key_blocks(data)
    if keys > 1:  # cryptography would take the first; the next reader might take another
        raise InvalidInputError(f"{what} holds {keys} private keys: keep only the one that belongs to the "
                                "certificate")
    password = None
    if is_encrypted_key(data):
        if passphrase is None:
            raise PassphraseError(f"{what} is encrypted and no passphrase can be asked for")
        password = passphrase()
        if not password:
            # cryptography raises TypeError for an empty password on an encrypted key.
            raise PassphraseError(f"empty passphrase for {what}")
    try:
        key = serialization.load_pem_private_key(data, password=password, unsafe_skip_rsa_key_validation=own_key)
    except ValueError as exc:
        if password is not None:
            raise PassphraseError(f"wrong passphrase for {what}") from None
        raise InvalidInputError(f"{what} is corrupt or truncated ({_short(exc)})") from None
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInputError(f"{what} cannot be loaded ({_short(exc)})") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise InvalidInputError(f"{what} is a {type(key).__name__}; only RSA and EC keys are supported")
    return key


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def key_signs_for(cert: x509.Certificate, key) -> bool:
    """True when ``key`` signs a fresh random message that the certificate's public key verifies: the
    key works for the certificate, as a TLS handshake will need it to.  Costs one signature, where
    cryptography's RSA consistency check (a primality test of both primes) costs fifty times more."""
    import os

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding

    message = os.urandom(32)
    try:
        public = cert.public_key()
        if isinstance(key, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey):
            public.verify(key.sign(message, padding.PKCS1v15(), hashes.SHA256()), message, padding.PKCS1v15(),
                          hashes.SHA256())
            return True
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(key.sign(message, ec.ECDSA(hashes.SHA256())), message, ec.ECDSA(hashes.SHA256()))
            return True
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return False


def key_matches(cert: x509.Certificate, key) -> bool:
    """True when ``key`` is the private half of the certificate's public key.

    Raises InvalidInputError when the certificate's public key cannot be
    decoded (cryptography parses it lazily, so a corrupt one only shows here).
    """
    try:
        cert_spki = _spki(cert.public_key())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInputError("the certificate holds a corrupt or unsupported public key") from None
    return cert_spki == _spki(key.public_key())


def grid_dn(name: x509.Name) -> str:
    """The grid (OpenSSL one-line) form of a name: /C=ch/O=AliEn2/CN=Users/CN=jdoe (see :mod:`jenv.lite.names`)."""
    return names.grid_dn(name.public_bytes())


def key_description(public_key) -> Tuple[str, int]:
    """Key type ("RSA", "EC (secp256r1)") and size in bits of a public key."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC ({public_key.curve.name})", public_key.curve.key_size
    return type(public_key).__name__, 0


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def cert_info(cert: x509.Certificate) -> CertInfo:
    """Summarise a certificate for reports."""
    try:
        key_type, key_bits = key_description(cert.public_key())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key_type, key_bits = "unsupported", 0
    return CertInfo(
        subject=grid_dn(cert.subject),
        issuer=grid_dn(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
        key_type=key_type,
        key_bits=key_bits,
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        is_ca=_is_ca(cert),
    )


def check_pkcs12(data: bytes, what: str) -> None:
    """Raise InvalidInputError unless ``data`` is a whole PKCS#12 bundle (before any password is asked)."""
    from jenv.lite.pkcs12 import outer_length_matches

    if not is_pkcs12(data):
        raise InvalidInputError(f"{what} is not a PKCS#12 bundle (the .p12 or .pfx file the CA or the "
                                "browser exported)")
    if not outer_length_matches(data):
        raise InvalidInputError(f"{what} is a truncated or damaged PKCS#12 bundle: export it again")


def load_pkcs12(data: bytes, what: str, password: bytes):
    """(private key, certificate) of a PKCS#12 bundle, legacy (RC2, 3DES) or current (AES) encryption,
    both checked whole: the certificate as jenv reads a user certificate (names, dates, extensions), the
    key's type.

    An empty ``password`` also tries "no password" (exporters differ on which they mean).  Raises
    InvalidInputError (not PKCS#12, damaged, no key or certificate, a certificate that cannot be parsed,
    unsupported key type) or PassphraseError (wrong password: OpenSSL's check of the bundle's MAC says
    which of the two, :func:`_unreadable_pkcs12`).
    """
    check_pkcs12(data, what)
    if b"\x00" in password:  # cryptography would panic; no PKCS#12 password holds one (RFC 7292 B.1)
        raise PassphraseError(f"wrong password for {what}: it holds a NUL byte (Ctrl-@), which no PKCS#12 "
                              "password can; nothing was written")
    loaded, error = _open_pkcs12(data, password)
    if loaded is None:
        _unreadable_pkcs12(data, what, password, error)
    key, cert, _others = loaded
    if key is None or cert is None:
        missing = "private key" if key is None else "certificate"
        raise InvalidInputError(f"{what} holds no {missing}: export the certificate together with its key")
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise InvalidInputError(f"{what} holds a {type(key).__name__}; only RSA and EC keys are supported")
    try:  # read the way jenv reads the user certificate later
        cert = parse_certificate(cert.public_bytes(serialization.Encoding.PEM), what)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc}: export the bundle again") from None
    try:
        cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInputError(f"{what} holds a certificate with a corrupt or unsupported public key: "
                                "export the bundle again") from None
    return key, cert


def _open_pkcs12(data: bytes, password: bytes):
    """(cryptography's (key, certificate, others), None), or (None, the error); an empty ``password``
    is tried as none and as empty."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    error = None
    for candidate in ((password,) if password else (None, b"")):
        try:
            return pkcs12.load_key_and_certificates(data, candidate), None
        except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:
            error = exc
    return None, error


def _openssl_pkcs12(data: bytes, password: bytes, *flags: str) -> Optional[Tuple[int, str]]:
    """(exit status, stderr) of ``openssl pkcs12 -noout`` on ``data`` with ``password`` (through a pipe,
    never the command line or the environment), or None when there is no ``openssl`` to ask."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    for legacy in (["-legacy"], []):  # OpenSSL 3 needs the legacy provider for RC2 and 3DES bundles
        read, write = os.pipe()
        try:
            os.write(write, password + b"\n")
        finally:
            os.close(write)
        try:
            proc = subprocess.run([openssl, "pkcs12", "-noout", *legacy, *flags, "-passin", f"fd:{read}"],
                                  input=data, capture_output=True, pass_fds=(read,), timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        finally:
            os.close(read)
        errors = proc.stderr.decode("utf-8", "replace")
        if legacy and proc.returncode != 0 and "legacy" in errors.lower() and "MAC" not in errors:
            continue  # an OpenSSL without -legacy (1.1): ask it without
        return proc.returncode, errors
    return None


def _unreadable_pkcs12(data: bytes, what: str, password: bytes, error: Optional[Exception]) -> None:
    """Raise for a bundle cryptography could not open, telling a wrong password from damage the way OpenSSL
    does (``openssl pkcs12``): the MAC, which only the right password verifies; and, where the MAC fails,
    whether the password still decrypts the content (then the MAC itself is damaged).  Damage inside the
    encrypted content cannot be told from a wrong password, nor anything in a bundle without a MAC."""
    reason = _short(error) if error is not None else "unknown"
    both = f"wrong password for {what}, or a damaged bundle (nothing can tell which): nothing was written"
    first = _openssl_pkcs12(data, password, "-info")
    if first is None:
        raise PassphraseError(both)
    code, errors = first
    if "mac verify error" in errors.lower():
        opened = _openssl_pkcs12(data, password, "-nomacver")
        other = _openssl_pkcs12(data, password + b"!not it", "-nomacver")
        if opened is not None and other is not None and opened[0] == 0 and other[0] != 0:
            raise InvalidInputError(f"{what} opens with this password, but its MAC does not match: the bundle is "
                                    "damaged; export it again")
        raise PassphraseError(f"wrong password for {what}: nothing was written")
    if "MAC:" not in errors:
        raise PassphraseError(both.replace("(nothing can tell which)", "(it has no MAC that would tell)"))
    if code == 0:
        raise InvalidInputError(f"{what} opens with this password, but its content cannot be read ({reason}): "
                                "export the bundle again")
    raise InvalidInputError(f"{what} opens with this password (its MAC matches), but its content cannot be read "
                            f"({reason}): the bundle is damaged; export it again")


def private_key_pem(key, passphrase: Optional[bytes]) -> bytes:
    """PKCS#8 PEM of ``key``, encrypted with ``passphrase`` by cryptography's best available scheme
    (PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC), or unencrypted when ``passphrase`` is None."""
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase is not None \
        else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
