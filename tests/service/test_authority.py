"""jenv.service.authority: subject_hash against openssl, CA directories openssl can use, private files."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from jenv.service.authority import Authority, install_ca_dir, name_from_dn, write_private_file
from jenv.lite.names import subject_hash
from jenv.errors import InvalidInputError, UnsafeFileError

pytestmark = pytest.mark.slow


def openssl(*args: str, data: bytes = b"") -> str:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout.decode().strip()


def _attr(oid, value, kind=None):
    return x509.NameAttribute(oid, value, kind) if kind else x509.NameAttribute(oid, value)


NAMES = [
    name_from_dn("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe"),
    name_from_dn("/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe"),
    name_from_dn("/C=CH/O=CERN/OU=  Mixed   CASE  Unit /CN=Grid CA/emailAddress=Foo@Bar.CH"),
    x509.Name([_attr(NameOID.COMMON_NAME, "Ünïcode ÄÖ  x\ty", _ASN1Type.BMPString)]),
    x509.Name([_attr(NameOID.COMMON_NAME, "Pr Int", _ASN1Type.PrintableString),
               _attr(NameOID.SERIAL_NUMBER, "1234", _ASN1Type.PrintableString)]),
    x509.Name([x509.RelativeDistinguishedName([_attr(NameOID.COMMON_NAME, "B b"),
                                               _attr(NameOID.ORGANIZATION_NAME, "Zz")]),
               x509.RelativeDistinguishedName([_attr(NameOID.COUNTRY_NAME, "de")])]),
    x509.Name([_attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "x" * 64)] * 3),  # long form DER lengths
]


@pytest.fixture(scope="module")
def authority() -> Authority:
    return Authority.create("/C=ch/O=jenv test/CN=hash test CA")


@pytest.mark.parametrize("index", range(len(NAMES)))
def test_subject_hash_matches_openssl(authority, index):
    name = NAMES[index]
    cert = authority.sign(name, authority.key.public_key(), authority.cert.not_valid_before_utc,
                          authority.cert.not_valid_after_utc)
    expected = openssl("x509", "-noout", "-subject_hash", data=cert.public_bytes(Encoding.PEM))
    assert subject_hash(name.public_bytes()) == expected


def test_ca_dir_is_usable_by_openssl_verify(authority, tmp_path):
    links = install_ca_dir(str(tmp_path / "certs"), [authority.cert])
    assert links == [subject_hash(authority.cert.subject.public_bytes()) + ".0"]
    assert os.path.islink(tmp_path / "certs" / links[0])
    leaf = authority.issue_user("/C=ch/O=jenv test/CN=leaf")
    (tmp_path / "leaf.pem").write_bytes(leaf.cert_pem)
    assert openssl("verify", "-CApath", str(tmp_path / "certs"), str(tmp_path / "leaf.pem")).endswith(": OK")
    other = Authority.create("/C=ch/O=jenv test/CN=hash test CA")  # same subject: .1 link
    assert install_ca_dir(str(tmp_path / "certs"), [other.cert]) == [subject_hash(other.cert.subject.public_bytes()) + ".1"]


def test_credential_files_are_private_from_the_start(authority, tmp_path):
    leaf = authority.issue_user("/C=ch/O=jenv test/CN=leaf")
    leaf.write(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    assert stat.S_IMODE(os.stat(tmp_path / "k.pem").st_mode) == 0o400
    assert (tmp_path / "k.pem").read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    with pytest.raises(UnsafeFileError, match="already exists"):
        leaf.write(str(tmp_path / "c.pem"), str(tmp_path / "k2.pem"))
    os.symlink(tmp_path / "elsewhere", tmp_path / "link")
    with pytest.raises(UnsafeFileError):
        write_private_file(str(tmp_path / "link"), b"x")
    assert not (tmp_path / "elsewhere").exists()


def test_encrypted_key(authority, tmp_path):
    leaf = authority.issue_user("/C=ch/O=jenv test/CN=leaf")
    pem = leaf.key_pem(b"secret")
    assert b"ENCRYPTED" in pem
    (tmp_path / "k.pem").write_bytes(pem)
    assert "BEGIN" in openssl("rsa", "-in", str(tmp_path / "k.pem"), "-passin", "pass:secret")


@pytest.mark.parametrize("dn", ["", "/", "/C=ch/XX=1", "/CN", "/CN="])
def test_name_from_dn_refuses_garbage(dn):
    with pytest.raises(InvalidInputError):
        name_from_dn(dn)
