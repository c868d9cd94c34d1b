"""A small test PKI made with cryptography (test-only; jenv's own CA code is not used here).

Shaped like trustme: ``TestCA()`` makes a root, ``ca.child_ca()`` an
intermediate, ``ca.issue(...)`` a leaf with a grid-style DN.  Every object can
write its PEM files into a directory.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = dt.timezone.utc
_RSA_CACHE: List[rsa.RSAPrivateKey] = []


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def make_key(kind: str = "rsa", fresh: bool = True):
    """An RSA-2048 (default) or EC P-256 key."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_OIDS = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
         "CN": NameOID.COMMON_NAME, "L": NameOID.LOCALITY_NAME, "DC": NameOID.DOMAIN_COMPONENT}


def grid_name(dn: str) -> x509.Name:
    """'/C=ch/O=AliEn2/CN=Users/CN=jdoe' -> x509.Name with the RDNs in that order."""
    parts = [p for p in dn.split("/") if p]
    return x509.Name([x509.NameAttribute(_OIDS[k], v) for k, v in (p.split("=", 1) for p in parts)])


def key_pem(key, passphrase: Optional[bytes] = None, fmt: str = "pkcs8") -> bytes:
    encoding = serialization.PrivateFormat.TraditionalOpenSSL if fmt == "traditional" \
        else serialization.PrivateFormat.PKCS8
    enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, encoding, enc)


@dataclass
class Leaf:
    cert: x509.Certificate
    key: object
    issuer: "TestCA"

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, passphrase: Optional[bytes] = None, fmt: str = "pkcs8") -> bytes:
        return key_pem(self.key, passphrase, fmt)

    def write(self, directory: os.PathLike, stem: str = "user", passphrase: Optional[bytes] = None,
              fmt: str = "pkcs8") -> Tuple[Path, Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / f"{stem}cert.pem", directory / f"{stem}key.pem"
        cert_path.write_bytes(self.cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.key_pem(passphrase, fmt))
        os.chmod(key_path, 0o400)
        return cert_path, key_path


class TestCA:
    """A certificate authority (root, or intermediate when ``parent`` is given)."""

    __test__ = False  # not a pytest class

    def __init__(self, dn: str = "/C=ch/O=jenv-test/CN=Test Root CA", parent: Optional["TestCA"] = None,
                 not_before: Optional[dt.datetime] = None, not_after: Optional[dt.datetime] = None,
                 key_kind: str = "rsa", path_length: Optional[int] = None):
        self.key = make_key(key_kind)
        self.parent = parent
        self.name = grid_name(dn)
        nb = not_before or now() - dt.timedelta(days=30)
        na = not_after or now() + dt.timedelta(days=3650)
        signer_key = parent.key if parent else self.key
        issuer_name = parent.name if parent else self.name
        builder = (x509.CertificateBuilder()
                   .subject_name(self.name).issuer_name(issuer_name)
                   .public_key(self.key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(nb).not_valid_after(na)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), False))
        if parent:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), False)
        self.cert = builder.sign(signer_key, hashes.SHA256())

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def child_ca(self, dn: str = "/C=ch/O=jenv-test/CN=Test Intermediate CA", **kw) -> "TestCA":
        return TestCA(dn, parent=self, **kw)

    def issue(self, dn: str = "/C=ch/O=jenv-test/OU=Users/CN=Jane Doe", *, not_before: Optional[dt.datetime] = None,
              not_after: Optional[dt.datetime] = None, key=None, key_kind: str = "rsa",
              sans: Sequence[str] = (), signer_key=None, client: bool = True) -> Leaf:
        """Issue a leaf; ``signer_key`` signs with another key (a bad signature)."""
        key = key or make_key(key_kind)
        nb = not_before or now() - dt.timedelta(hours=1)
        na = not_after or now() + dt.timedelta(days=365)
        builder = (x509.CertificateBuilder()
                   .subject_name(grid_name(dn)).issuer_name(self.name)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(nb).not_valid_after(na)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False)
                   .add_extension(x509.ExtendedKeyUsage(
                       [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), False))
        if sans:
            import ipaddress
            names = []
            for s in sans:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(s)))
                except ValueError:
                    names.append(x509.DNSName(s))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
        cert = builder.sign(signer_key or self.key, hashes.SHA256())
        return Leaf(cert, key, self)

    def write_dir(self, directory: os.PathLike, extra: Sequence["TestCA"] = ()) -> Path:
        """An OpenSSL-style CA directory: <subject-hash>.0 files for this CA and ``extra``."""
        import subprocess
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for ca in (self, *extra):
            pem_path = directory / f"ca-{abs(hash(ca.cert.serial_number)) % 10**8}.pem"
            pem_path.write_bytes(ca.cert_pem)
            digest = subprocess.run(["openssl", "x509", "-noout", "-subject_hash", "-in", str(pem_path)],
                                    capture_output=True, text=True, check=True).stdout.strip()
            n = 0
            while (directory / f"{digest}.{n}").exists():
                n += 1
            os.symlink(pem_path.name, directory / f"{digest}.{n}")
        return directory

    def write_bundle(self, path: os.PathLike, extra: Sequence["TestCA"] = ()) -> Path:
        path = Path(path)
        path.write_bytes(b"".join(ca.cert_pem for ca in (self, *extra)))
        return path


def alien_like_ca(dn: str, directory: os.PathLike):
    """A root CA shaped like the real AliEn2-CA: serial number 0, pathlen 0, and an authority
    key identifier carrying the issuer name and serial; returns (certificate, RSA key).

    cryptography refuses to build a serial of 0 (RFC 5280 wants it positive), which is
    exactly why the suite needs one: real grid CAs have it.  openssl makes it.
    """
    import subprocess
    import warnings

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "alien-ca.pem", directory / "alien-ca.key"
    subject = "/" + "/".join(part for part in dn.split("/") if part)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key_path),
                    "-out", str(cert_path), "-subj", subject, "-days", "3650", "-set_serial", "0", "-sha256",
                    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                    "-addext", "subjectKeyIdentifier=hash",
                    "-addext", "authorityKeyIdentifier=keyid:always,issuer:always"],
                   check=True, capture_output=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns about serial 0 on load
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    return cert, key


def edited_certificate(cert: x509.Certificate, key, old: bytes, new: bytes) -> bytes:
    """The PEM of ``cert`` with ``old`` replaced by ``new`` (same length) inside the signed part,
    re-signed with ``key`` (RSA-2048, SHA-256): certificates cryptography will not build, such as
    version 2 or duplicate extensions, from one it did build."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import padding

    assert len(old) == len(new) and cert.tbs_certificate_bytes.count(old) == 1
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs = cert.tbs_certificate_bytes.replace(old, new)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    assert len(signature) == len(cert.signature)
    der = der.replace(cert.tbs_certificate_bytes, tbs)[:-len(signature)] + signature
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"
