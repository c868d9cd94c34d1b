"""A small certificate authority: throwaway CAs, user and server certificates.

Used by the local JCentral-compatible service (:mod:`jenv.service.server`) and by
``jenv sandbox``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jenv.lite.names import subject_hash
from jenv.errors import InvalidInputError, UnsafeFileError
from jenv.safefile import create_new_file, make_directory, make_symbolic_link

__all__ = [
    "Credential",
    "Authority",
    "name_from_dn",
    "name_from_rdns",
    "new_rsa_key",
    "traditional_key_pem",
    "write_private_file",
    "install_ca_dir",
]

UTC = dt.timezone.utc

_DN_KEYS = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
            "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "CN": NameOID.COMMON_NAME, "DC": NameOID.DOMAIN_COMPONENT, "UID": NameOID.USER_ID,
            "emailAddress": NameOID.EMAIL_ADDRESS}

# --- names, keys and files ---------------------------------------------------------------

def name_from_dn(dn: str) -> x509.Name:
    """A grid DN ``/C=ch/O=AliEn2/CN=Users/CN=jdoe`` -> x509.Name, RDNs in that order.

    Raises InvalidInputError for an empty DN or an unknown attribute.
    """
    pairs = []
    for part in (part for part in dn.split("/") if part):
        key, sep, value = part.partition("=")
        if not sep:
            raise InvalidInputError(f"DN {dn!r}: cannot read {part!r} (expected /KEY=value)")
        pairs.append((key, value))
    if not pairs:
        raise InvalidInputError(f"DN {dn!r} is empty")
    return name_from_rdns(pairs, dn)


def name_from_rdns(pairs: Sequence[Tuple[str, str]], what: str = "") -> x509.Name:
    """(attribute, value) pairs -> x509.Name; a value may hold any character, ``/`` and ``=`` included.

    Raises InvalidInputError for an unknown attribute or an empty value.
    """
    attributes = []
    for key, value in pairs:
        if key not in _DN_KEYS or not value:
            raise InvalidInputError(f"DN {what or pairs!r}: cannot read {key}={value!r} (expected KEY=value with "
                                    f"KEY one of {', '.join(_DN_KEYS)})")
        attributes.append(x509.NameAttribute(_DN_KEYS[key], value))
    return x509.Name(attributes)


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh RSA key (JCentral issues RSA-2048)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def traditional_key_pem(key, passphrase: Optional[bytes] = None) -> bytes:
    """The key in the traditional ``-----BEGIN RSA PRIVATE KEY-----`` form (encrypted when asked)."""
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             encryption)


def write_private_file(path: str, data: bytes, mode: int = 0o600) -> str:
    """Create ``path`` (must not exist) with ``mode`` from the start; returns the path.

    Raises UnsafeFileError when the path already exists (never follows links).
    """
    try:
        create_new_file(path, data, mode)
    except FileExistsError:
        raise UnsafeFileError(f"{path} already exists; refusing to overwrite it") from None
    return path


@dataclass(frozen=True)
class Credential:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, passphrase: Optional[bytes] = None) -> bytes:
        return traditional_key_pem(self.key, passphrase)

    def write(self, cert_path: str, key_path: str, passphrase: Optional[bytes] = None) -> None:
        """Write cert (0644) and key (0400, created so from the start); neither may exist yet."""
        write_private_file(cert_path, self.cert_pem, 0o644)
        write_private_file(key_path, self.key_pem(passphrase), 0o400)


def _now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def _key_usage(sign: bool = False, encipher: bool = True, non_repudiation: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=non_repudiation,
                         key_encipherment=encipher and not sign, data_encipherment=False,
                         key_agreement=False, key_cert_sign=sign, crl_sign=sign,
                         encipher_only=False, decipher_only=False)


def general_names(names: Iterable[str], ip_as_dns: bool = False) -> List[x509.GeneralName]:
    """DNS names, IP addresses (as IP SANs unless ``ip_as_dns``) and e-mail addresses (with '@')."""
    out: List[x509.GeneralName] = []
    for name in names:
        if "@" in name:
            out.append(x509.RFC822Name(name))
            continue
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            out.append(x509.DNSName(name))
            continue
        out.append(x509.DNSName(name) if ip_as_dns else x509.IPAddress(address))
    return out


class Authority:
    """A CA that can sign certificates; ``Authority.create()`` makes a throwaway one."""

    def __init__(self, cert: x509.Certificate, key: rsa.RSAPrivateKey):
        self.cert = cert
        self.key = key

    @classmethod
    def create(cls, dn: str = "/C=ch/O=jenv sandbox/CN=jenv sandbox CA", days: int = 3650) -> "Authority":
        """A new self-signed root CA with an RSA-2048 key."""
        key = new_rsa_key()
        name = name_from_dn(dn)
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(_key_usage(sign=True), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @property
    def credential(self) -> Credential:
        return Credential(self.cert, self.key)

    def sign(self, subject: x509.Name, public_key, not_before: dt.datetime, not_after: dt.datetime,
             extensions: Sequence[tuple] = ()) -> x509.Certificate:
        """Sign a leaf; ``extensions`` are (extension value, critical) pairs added after the basics."""
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(self.key, hashes.SHA256())

    def issue_user(self, dn: str, days: int = 365, email: Optional[str] = None,
                   not_before: Optional[dt.datetime] = None) -> Credential:
        """A grid user certificate (clientAuth, e-mail in subjectAltName when given)."""
        key = new_rsa_key()
        start = not_before or _now() - dt.timedelta(hours=1)
        extensions = [(_key_usage(non_repudiation=True), True),
                      (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                              ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)]
        if email:
            extensions.append((x509.SubjectAlternativeName([x509.RFC822Name(email)]), False))
        cert = self.sign(name_from_dn(dn), key.public_key(), start, start + dt.timedelta(days=days), extensions)
        return Credential(cert, key)

    def issue_server(self, hostnames: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
                     days: int = 365) -> Credential:
        """A TLS server certificate for ``hostnames`` (IP addresses become IP SANs)."""
        key = new_rsa_key()
        now = _now()
        extensions = [(_key_usage(), True),
                      (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
                      (x509.SubjectAlternativeName(general_names(hostnames)), False)]
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jenv local service"),
                             x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
        cert = self.sign(subject, key.public_key(), now - dt.timedelta(hours=1), now + dt.timedelta(days=days),
                         extensions)
        return Credential(cert, key)


def install_ca_dir(directory: str, certs: Sequence[x509.Certificate]) -> List[str]:
    """Write CA certificates as an OpenSSL CA directory, like grid CA directories.

    Each certificate goes to ``<name>.pem`` (0644) with a ``<hash>.N`` symbolic
    link to it; the directory is created (0755) when missing.  Returns the
    link names.
    """
    make_directory(directory, 0o755)
    links = []
    for cert in certs:
        digest = subject_hash(cert.subject.public_bytes())
        common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        stem = re.sub(r"[^A-Za-z0-9.-]+", "-", str(common_names[-1].value) if common_names else digest)
        pem_name = f"{stem.strip('-.') or digest}-{digest}.pem"
        if not os.path.lexists(os.path.join(directory, pem_name)):
            write_private_file(os.path.join(directory, pem_name),
                               cert.public_bytes(serialization.Encoding.PEM), 0o644)
        index = 0
        while os.path.lexists(os.path.join(directory, f"{digest}.{index}")):
            index += 1
        make_symbolic_link(pem_name, os.path.join(directory, f"{digest}.{index}"))
        links.append(f"{digest}.{index}")
    return links
