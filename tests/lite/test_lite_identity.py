"""jenv.lite.identity (token subjects read back) and jenv.lite.pkcs12 (a .p12 recognised by content).

The subject shapes are JCentral's (src/main/java/alien/api/token/GetTokenCertificate.java in
FYP-Jalien/jalien-march-18); the job fields are split as src/main/java/alien/user/UserFactory.java
(getAllByDN) splits them: the extension after the last "/OU=" at "/", each part at its first "=", a
"\\=" giving the name without its backslash, parts with no "=" (or "=" first) skipped.
"""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12, pkcs7
from cryptography.x509.oid import NameOID

from jenv.lite.identity import TokenIdentity, identity_from_attributes, split_job_extension
from jenv.tokens.judge import name_attributes
from jenv.lite.pkcs12 import is_pkcs12, outer_length_matches
from support.pki import grid_name


def token_identity(name: x509.Name):
    """What the subject says, read RDN by RDN from cryptography's parse (as the judge reads a token)."""
    return identity_from_attributes(name_attributes(name))


def _subject(dn: str) -> x509.Name:
    """The DER name of a grid DN; a value may hold "/" after the last "OU=" (a job token's extension)."""
    head, sep, extension = dn.partition("/OU=queueid")
    name = grid_name(head)
    if sep:
        name = x509.Name(list(name) + [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                                          "queueid" + extension)])
    return name


@pytest.mark.parametrize("dn, expected", [
    ("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=alicepr", TokenIdentity("user", "jdoe", "alicepr")),
    ("/C=ch/O=AliEn2/CN=JobAgent", TokenIdentity("jobagent", "jobagent")),
    ("/C=ch/O=AliEn2/OU=ALICE/CN=voboxalice1.cern.ch", TokenIdentity("host", None, hostname="voboxalice1.cern.ch")),
    ("/C=ch/O=AliEn2/CN=Jobs/CN=aliprod/OU=aliprod/OU=queueid=3141592/resubmission=2",
     TokenIdentity("job", "aliprod", "aliprod", job_extension="queueid=3141592/resubmission=2",
                   job_fields=(("queueid", "3141592"), ("resubmission", "2")))),
])
def test_each_token_type_is_read_from_its_jcentral_subject(dn, expected):
    assert token_identity(_subject(dn)) == expected


@pytest.mark.parametrize("dn", [
    "/C=ch/O=jenv test/OU=Users/CN=Jane Doe",          # a user certificate, not a token
    "/C=ch/O=AliEn2/CN=Users/CN=jdoe",                   # no role
    "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe/OU=extra",  # one OU too many
    "/C=ch/O=AliEn2/CN=Jobs/CN=aliprod/OU=aliprod",      # a job token without its extension
    "/C=ch/O=AliEn/CN=JobAgent",                         # not JCentral's O=AliEn2
    "/C=ch/O=AliEn2/OU=ALICE",
])
def test_other_subjects_are_not_token_identities(dn):
    assert token_identity(_subject(dn)) is None


def test_job_extension_split_as_userfactory_does():
    assert split_job_extension("queueid=1/resubmission=0") == (("queueid", "1"), ("resubmission", "0"))
    # the escaped form: "queueid\=1" is the field queueid (UserFactory drops the backslash)
    assert split_job_extension("queueid\\=1/resubmission\\=0") == (("queueid", "1"), ("resubmission", "0"))
    # StringTokenizer skips empty parts; a part without "=", or with "=" first, is no field
    assert split_job_extension("//queueid=7//plain/=x/") == (("queueid", "7"),)
    # only the first "=" splits: the value keeps the rest
    assert split_job_extension("a=b=c") == (("a", "b=c"),)
    assert split_job_extension("42") == ()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, root_ca):
    """.p12 files made by openssl: legacy (RC2/3DES), default (AES) and explicit AES-256."""
    directory = tmp_path_factory.mktemp("p12")
    leaf = root_ca.issue("/C=ch/O=jenv-test/OU=Users/CN=Jane Doe")
    cert, key = leaf.write(directory)
    made = {}
    for name, extra in (("legacy", ["-legacy"]), ("default", []),
                        ("aes", ["-certpbe", "AES-256-CBC", "-keypbe", "AES-256-CBC"])):
        out = directory / f"{name}.p12"
        subprocess.run(["openssl", "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-out", str(out),
                        "-passout", "pass:secret", *extra], check=True, capture_output=True)
        made[name] = out.read_bytes()
    made["cryptography"] = pkcs12.serialize_key_and_certificates(
        b"x", leaf.key, leaf.cert, None, serialization.BestAvailableEncryption(b"secret"))
    made["der-cert"] = leaf.cert.public_bytes(serialization.Encoding.DER)
    made["pkcs7"] = pkcs7.serialize_certificates([leaf.cert], serialization.Encoding.DER)
    return made


def test_pkcs12_is_recognised_by_content(bundles):
    for name in ("legacy", "default", "aes", "cryptography"):
        assert is_pkcs12(bundles[name]), name
        assert outer_length_matches(bundles[name]), name
        assert not outer_length_matches(bundles[name][:-1]), name
    # the negative twins: other DER is not PKCS#12, and neither is PEM or nothing
    for name in ("der-cert", "pkcs7"):
        assert not is_pkcs12(bundles[name]), name
    assert not is_pkcs12(b"") and not is_pkcs12(b"\x30") and not is_pkcs12(b"-----BEGIN CERTIFICATE-----")


def test_indefinite_lengths_are_accepted(bundles):
    """Some exporters write BER: the same start with indefinite outer lengths is still PKCS#12."""
    der = bundles["default"]
    assert der[:2] == b"\x30\x82" and der[4:7] == b"\x02\x01\x03" and der[7:9] == b"\x30\x82"
    ber = b"\x30\x80" + der[4:7] + b"\x30\x80" + der[11:]  # 3082xxxx 020103 3082xxxx -> 3080 020103 3080
    assert is_pkcs12(ber)
    assert outer_length_matches(ber)  # nothing to compare against: not called truncated


@pytest.mark.parametrize("dn, role, expected, problem", [
    # the token in use is jdoe's: every new user token is jdoe's, whatever the role
    ("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", None, "jdoe", None),
    ("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=alicepr", "alicepr", "jdoe", None),
    ("/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=attacker", None, "jdoe", "account 'attacker', not of 'jdoe'"),
    ("/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=alicepr", "alicepr", "jdoe", "account 'attacker', not of 'jdoe'"),
    ("/C=ch/O=AliEn2/CN=Users/CN=jdoe2/OU=jdoe", None, "jdoe", "account 'jdoe2', not of 'jdoe'"),
    # GetTokenCertificate: an admin asking for a role it does not hold becomes that identity
    ("/C=ch/O=AliEn2/CN=Users/CN=alicepr/OU=alicepr", "alicepr", "ada", None),
    ("/C=ch/O=AliEn2/CN=Users/CN=alicepr/OU=alicepr", None, "ada", "account 'alicepr', not of 'ada'"),
    # no token in use: with no role asked, JCentral gives CN=<requester>/OU=<requester>
    ("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", None, None, None),
    ("/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=alicepr", None, None, "account 'attacker''s token for role 'alicepr'"),
    ("/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=alicepr", "alicepr", None, None),  # nothing to compare with
])
def test_a_new_user_token_is_the_requester_s_own_account(dn, role, expected, problem):
    """Issue 21.3 (jenv.jcentral.rules.account_problem, with the expected account from the token in use)."""
    from jenv.jcentral.rules import account_problem

    found = account_problem(dn, role, expected)
    assert (found is None) == (problem is None), found
    if problem is not None:
        assert problem in found


@pytest.mark.parametrize("token_type, user, expected", [
    ("user", "jdoe", "jdoe"), ("job", "aliprod", None), ("jobagent", "jobagent", None), ("host", "", None),
    ("", "", None), ("user", "", None),
])
def test_the_expected_account_is_a_user_token_s(token_type, user, expected):
    from jenv.lite.identity import expected_account

    assert expected_account(token_type, user) == expected
