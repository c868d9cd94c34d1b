"""jenv whoami: who the token in use makes you, offline, from tokens the test CA issues with JAliEn's subjects.

The subjects are those of src/main/java/alien/api/token/GetTokenCertificate.java; the job fields are
split as src/main/java/alien/user/UserFactory.java (getAllByDN) splits the extension after the last
"/OU=": at "/", each part at its first "=", and "queueid\\=1" naming the field queueid.  Both files are
in FYP-Jalien/jalien-march-18.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from support.offline_helpers import UID, clean_env, run_in_process
from support.pki import Leaf, TestCA, grid_name, now

def _job_name(user: str, extension: str) -> x509.Name:
    """/C=ch/O=AliEn2/CN=Jobs/CN=<user>/OU=<user>/OU=<extension> (the extension may hold "/")."""
    ou = NameOID.ORGANIZATIONAL_UNIT_NAME
    return x509.Name(list(grid_name(f"/C=ch/O=AliEn2/CN=Jobs/CN={user}/OU={user}"))
                     + [x509.NameAttribute(ou, extension)])


def _token(ca: TestCA, name, hours: float = 20, **kw) -> Leaf:
    """A token leaf whose subject is ``name`` (a grid DN, or an x509.Name)."""
    if isinstance(name, x509.Name):
        leaf = ca.issue("/CN=placeholder", not_after=now() + dt.timedelta(hours=hours), **kw)
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(ca.name)
                   .public_key(leaf.key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(leaf.cert.not_valid_before_utc).not_valid_after(leaf.cert.not_valid_after_utc))
        from cryptography.hazmat.primitives import hashes
        return Leaf(builder.sign(ca.key, hashes.SHA256()), leaf.key, ca)
    return ca.issue(name, not_after=now() + dt.timedelta(hours=hours), **kw)


def _install(leaf: Leaf, env) -> Path:
    tmp = Path(env["TMPDIR"])
    cert, key = tmp / f"tokencert_{UID}.pem", tmp / f"tokenkey_{UID}.pem"
    for path, data in ((cert, leaf.cert_pem), (key, leaf.key_pem(fmt="traditional"))):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    return cert


@pytest.fixture
def env(tmp_path):
    return clean_env(tmp_path / "home")


def _whoami(env, *args):
    return run_in_process(["whoami", *args], env)


def test_user_token(root_ca, env):
    cert = _install(_token(root_ca, "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=alicepr"), env)
    res = _whoami(env)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    rows = dict((line[:14].strip(), line[14:]) for line in res.stdout.splitlines())
    assert rows["user"] == "jdoe" and rows["role"] == "alicepr" and rows["token type"] == "user"
    assert rows["token"] == f"{cert} (default)"
    assert rows["time left"].startswith("19h ") and rows["time left"].endswith("(valid)")
    data = json.loads(_whoami(env, "--json").stdout)
    assert (data["user"], data["role"], data["token_type"], data["job"], data["hostname"]) == \
        ("jdoe", "alicepr", "user", None, None)
    assert data["subject"] == "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=alicepr"
    assert 19 * 3600 < data["seconds_left"] <= 20 * 3600 and data["state"] == "valid"
    assert data["token"]["path"] == str(cert) and data["token"]["source"] == "default"
    assert _whoami(env, "-q").stdout == "jdoe\n"


@pytest.mark.parametrize("extension, fields", [
    ("queueid=3141592/resubmission=2", {"queueid": "3141592", "resubmission": "2"}),
    ("queueid\\=3141592/resubmission\\=0", {"queueid": "3141592", "resubmission": "0"}),  # UserFactory's "\="
    ("3141592", {}),  # what 'token-init -jobid 3141592' gives: an extension without fields
])
def test_job_token(root_ca, env, extension, fields):
    _install(_token(root_ca, _job_name("aliprod", extension)), env)
    data = json.loads(_whoami(env, "--json").stdout)
    assert data["token_type"] == "job" and data["user"] == "aliprod" and data["role"] == "aliprod"
    assert data["job"] == {"extension": extension, "fields": fields}
    text = _whoami(env).stdout
    for name, value in fields.items():
        assert f"\n{name:<14}{value}\n" in text
    assert _whoami(env, "-q").stdout == "aliprod\n"


def test_jobagent_and_host_tokens(root_ca, env, tmp_path):
    _install(_token(root_ca, "/C=ch/O=AliEn2/CN=JobAgent"), env)
    data = json.loads(_whoami(env, "--json").stdout)
    assert (data["token_type"], data["user"]) == ("jobagent", "jobagent")
    host_env = clean_env(tmp_path / "host-home")
    _install(_token(root_ca, "/C=ch/O=AliEn2/OU=ALICE/CN=voboxalice1.cern.ch"), host_env)
    data = json.loads(_whoami(host_env, "--json").stdout)
    assert (data["token_type"], data["user"], data["hostname"]) == ("host", None, "voboxalice1.cern.ch")
    assert "host          voboxalice1.cern.ch" in _whoami(host_env).stdout
    quiet = _whoami(host_env, "-q")  # a host token names no user: nothing for MY_USER=$(...)
    assert quiet.returncode == 4 and quiet.stdout == "" and "names no user" in quiet.stderr


def test_token_given_as_content(root_ca, env):
    leaf = _token(root_ca, "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe")
    content = dict(env, JALIEN_TOKEN_CERT=leaf.cert_pem.decode(), JALIEN_TOKEN_KEY=leaf.key_pem().decode())
    data = json.loads(_whoami(content, "--json").stdout)
    assert data["user"] == "jdoe" and data["token"]["from_content"] is True
    assert "PEM content of JALIEN_TOKEN_CERT" in _whoami(content).stdout


def test_exit_codes_as_token_info(root_ca, env, tmp_path):
    missing = _whoami(env)
    assert missing.returncode == 3 and missing.returncode == run_in_process(["token-info"], env).returncode
    expired = _token(root_ca, "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", not_before=now() - dt.timedelta(days=2),
                     hours=-1)
    _install(expired, env)
    res = _whoami(env)
    assert res.returncode == 5 and "user          jdoe" in res.stdout  # shown, then reported
    assert res.stderr.splitlines()[-1].startswith("jenv: token certificate") and "expired" in res.stderr
    assert _whoami(env, "-q").stdout == "jdoe\n"
    assert run_in_process(["token-info"], env).returncode == 5
    jane = root_ca.issue("/C=ch/O=jenv-test/CN=Jane")
    (tmp_path / "key.pem").write_bytes(jane.key_pem(fmt="traditional"))
    (tmp_path / "key.pem").chmod(0o400)
    pair = {"JALIEN_TOKEN_KEY": str(tmp_path / "key.pem")}  # a pair has one origin: both variables
    user_cert = dict(env, JALIEN_TOKEN_CERT=str(tmp_path / "user.pem"), **pair)
    Path(user_cert["JALIEN_TOKEN_CERT"]).write_bytes(jane.cert_pem)
    res = _whoami(user_cert)
    assert res.returncode == 4 and "not one JCentral gives a token" in res.stderr and res.stdout == ""
    garbage = dict(env, JALIEN_TOKEN_CERT=str(tmp_path / "garbage.pem"), **pair)
    Path(garbage["JALIEN_TOKEN_CERT"]).write_bytes(b"not a certificate\n")
    assert _whoami(garbage).returncode == 4 == run_in_process(["token-info"], garbage).returncode
    (tmp_path / "dir").mkdir()
    directory = dict(env, JALIEN_TOKEN_CERT=str(tmp_path / "dir"), **pair)
    assert _whoami(directory).returncode == 8 == run_in_process(["token-info"], directory).returncode


@pytest.mark.parametrize("name, expected", [
    ("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=alicepr", "jdoe"),   # a role token: the account, not the role
    ("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", "jdoe"),
    ("/C=ch/O=AliEn2/CN=JobAgent", None),                    # no account binds the next token
    ("/C=ch/O=AliEn2/OU=ALICE/CN=voboxalice1.cern.ch", None),
])
def test_whoami_shows_the_account_new_tokens_must_be_for(root_ca, env, name, expected):
    """Issue 21.3: every new user token must be the account of the token in use; whoami says which."""
    _install(_token(root_ca, name), env)
    data = json.loads(_whoami(env, "--json").stdout)
    assert data["expected_account"] == expected
    text = _whoami(env).stdout
    if expected is None:
        assert "new tokens" not in text
    else:
        assert f"\nnew tokens    {expected}'s only ('jenv token-destroy' first to change account)\n" in text
