"""jenv.lite.names against openssl itself: the subject hash and the grid DN text (issue 10.3).

Hypothesis builds names (several RDNs, multi-valued ones, PrintableString and
UTF8String values with odd spacing and case), cryptography signs a throwaway
certificate with them, and ``openssl x509 -subject_hash -subject -nameopt
compat`` is the oracle.
"""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jenv.lite.names import grid_dn, name_key, subject_hash

pytestmark = pytest.mark.slow

KEY = ec.generate_private_key(ec.SECP256R1())
OIDS = [NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME,
        NameOID.DOMAIN_COMPONENT, NameOID.LOCALITY_NAME]
PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-.:=?"


def _attribute(oid, value: str, printable: bool) -> x509.NameAttribute:
    if oid == NameOID.COUNTRY_NAME:
        return x509.NameAttribute(oid, "".join(c for c in value if c.isascii() and c.isalnum())[:2].ljust(2, "x"))
    if oid == NameOID.DOMAIN_COMPONENT:
        return x509.NameAttribute(oid, value)  # IA5String
    kind = _ASN1Type.PrintableString if printable and all(c in PRINTABLE for c in value) else _ASN1Type.UTF8String
    return x509.NameAttribute(oid, value, _type=kind)


values = st.text(alphabet=st.sampled_from(list(PRINTABLE) + ["\t", "\u00e9", "\u00a0", "\u4e2d", "Z"]),
                 min_size=1, max_size=12).filter(lambda v: v.strip())
rdn = st.lists(st.tuples(st.sampled_from(OIDS), values, st.booleans()), min_size=1, max_size=2)
names = st.lists(rdn, min_size=1, max_size=5)


def _name(spec) -> x509.Name:
    rdns = []
    for members in spec:
        attrs = {}
        for oid, value, printable in members:
            attrs.setdefault(oid, _attribute(oid, value, printable))  # one attribute type per RDN
        rdns.append(x509.RelativeDistinguishedName(list(attrs.values())))
    return x509.Name(rdns)


def _openssl(name: x509.Name, tmp_path) -> tuple:
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(KEY.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(KEY, hashes.SHA256()))
    path = tmp_path / "name.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "x509", "-noout", "-in", str(path), "-subject_hash", "-subject",
                          "-nameopt", "compat"], capture_output=True, check=True).stdout.decode("utf-8", "replace")
    digest, subject = out.splitlines()[:2]
    return digest, subject[len("subject="):]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=names)
def test_subject_hash_and_grid_dn_are_openssls(spec, tmp_path):
    name = _name(spec)
    der = name.public_bytes()
    digest, subject = _openssl(name, tmp_path)
    assert subject_hash(der) == digest
    if all(32 <= ord(c) < 127 for c in grid_dn(der)):  # compat escapes the rest; jenv prints text (escaped later)
        assert grid_dn(der) == subject


def test_names_equal_after_openssl_folding_share_key_and_hash():
    loud = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "  Jenv   TEST CA ", _type=_ASN1Type.PrintableString)])
    quiet = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jenv test ca")])
    nbsp = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jenv\u00a0test ca")])
    assert name_key(loud.public_bytes()) == name_key(quiet.public_bytes())
    assert subject_hash(loud.public_bytes()) == subject_hash(quiet.public_bytes())
    # OpenSSL folds ASCII whitespace only: a non-breaking space makes another name.
    assert name_key(nbsp.public_bytes()) != name_key(quiet.public_bytes())
