"""cert-info and token-info on real files, checked against openssl as an oracle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.offline_helpers import TOKEN_DN, openssl_date, openssl_facts, run_in_process, write_pair

pytestmark = pytest.mark.slow


def _fields(stdout: str) -> dict:
    """The 'label  value' rows of the text output."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        label, value = line[2:14].strip(), line[14:]
        rows[label] = value
    return rows


def _agrees_with_openssl(data: dict, cert_path: Path) -> None:
    facts = openssl_facts(cert_path)
    assert data["subject"] == facts["subject"]
    assert data["fingerprint_sha256"] == facts["sha256 Fingerprint"]
    assert data["not_after"] == openssl_date(facts["notAfter"])
    assert data["not_before"] == openssl_date(facts["notBefore"])
    assert data["serial"] == facts["serial"]


def test_cert_info_text_agrees_with_openssl(setup):
    res = run_in_process(["cert-info"], setup["env"])
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout.splitlines()[0] == "user certificate"
    rows = _fields(res.stdout)
    cert = setup["user"]["cert"]
    assert rows["file"] == f"{cert} (default)"
    assert rows["key"] == "RSA 2048 bits"
    assert rows["time left"].endswith("(valid)") and rows["time left"].startswith("36")
    _agrees_with_openssl({"subject": rows["subject"], "fingerprint_sha256": rows["sha256"],
                          "not_after": rows["not after"], "not_before": rows["not before"],
                          "serial": rows["serial"]}, cert)
    assert rows["issuer"] == "/C=ch/O=jenv-test/CN=Test Root CA"


@pytest.mark.parametrize("spelling", [["--json", "cert-info"], ["-json", "cert-info"],
                                      ["cert-info", "--json"], ["cert-info", "-json"]])
def test_cert_info_json_every_spelling(setup, spelling):
    res = run_in_process(spelling, setup["env"])
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    _agrees_with_openssl(data, setup["user"]["cert"])
    assert data["source"] == "default" and data["variable"] is None
    assert data["path"] == str(setup["user"]["cert"])
    assert data["state"] == "valid" and data["key_type"] == "RSA" and data["key_bits"] == 2048
    assert 364 * 86400 < data["seconds_left"] <= 365 * 86400
    assert data["is_ca"] is False


def test_cert_info_ec_from_variable(setup, user_ec, tmp_path):
    pair = write_pair(user_ec, tmp_path / "ec", "user", fmt="traditional")
    env = dict(setup["env"], X509_USER_CERT=str(pair["cert"]))
    data = json.loads(run_in_process(["cert-info", "--json"], env).stdout)
    _agrees_with_openssl(data, pair["cert"])
    assert data["subject"] == "/DC=ch/DC=cern/OU=Users/CN=jdoe/CN=123456"
    assert (data["key_type"], data["key_bits"]) == ("EC (secp256r1)", 256)
    assert (data["source"], data["variable"]) == ("from X509_USER_CERT", "X509_USER_CERT")
    text = run_in_process(["cert-info"], env).stdout
    assert f"{pair['cert']} (from X509_USER_CERT)" in text


def test_token_info_default_path(setup):
    res = run_in_process(["token-info", "--json"], setup["env"])
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    _agrees_with_openssl(data, setup["token"]["cert"])
    assert data["subject"] == TOKEN_DN
    assert data["issuer"] == "/C=ch/O=jenv-test/CN=Test Intermediate CA"
    assert 29 * 3600 < data["seconds_left"] <= 30 * 3600
    assert data["time_left"].startswith("1d 5h ")


def test_token_info_variable_as_path_and_as_content(setup):
    cert, key = setup["token"]["cert"], setup["token"]["key"]
    as_path = dict(setup["env"], JALIEN_TOKEN_CERT=str(cert), JALIEN_TOKEN_KEY=str(key))
    data = json.loads(run_in_process(["token-info", "--json"], as_path).stdout)
    assert (data["path"], data["from_content"]) == (str(cert), False)
    # JALIEN_TOKEN_CERT="$(cat file)": the shell strips the trailing newline
    as_content = dict(setup["env"], JALIEN_TOKEN_CERT=cert.read_text().rstrip("\n"),
                      JALIEN_TOKEN_KEY=key.read_text())
    res = run_in_process(["token-info"], as_content)
    assert res.returncode == 0, res.stderr
    assert "content     PEM content of JALIEN_TOKEN_CERT" in res.stdout
    data = json.loads(run_in_process(["token-info", "--json"], as_content).stdout)
    _agrees_with_openssl(data, cert)
    assert (data["path"], data["from_content"], data["source"]) == (None, True, "from JALIEN_TOKEN_CERT")


def test_expired_prints_info_then_fails(setup, expired_leaf, tmp_path):
    pair = write_pair(expired_leaf, tmp_path / "old", "user")
    env = dict(setup["env"], X509_USER_CERT=str(pair["cert"]))
    res = run_in_process(["cert-info"], env)
    assert res.returncode == 5
    assert "EXPIRED 2d 0h 0" in _fields(res.stdout)["time left"]
    assert res.stderr.startswith(f"jenv: user certificate {pair['cert']} expired 2d 0h 0")
    assert "renew" in res.stderr and len(res.stderr.splitlines()) == 1
    res = run_in_process(["cert-info", "--json"], env)
    assert res.returncode == 5
    data = json.loads(res.stdout)
    assert data["state"] == "expired" and data["seconds_left"] < -2 * 86400 + 60
    _agrees_with_openssl(data, pair["cert"])


def test_not_yet_valid_says_so(setup, future_leaf, tmp_path):
    pair = write_pair(future_leaf, tmp_path / "new", "token")
    env = dict(setup["env"], JALIEN_TOKEN_CERT=str(pair["cert"]), JALIEN_TOKEN_KEY=str(pair["key"]))
    res = run_in_process(["token-info"], env)
    assert res.returncode == 5
    assert "NOT YET VALID (starts in 2d 23h 5" in _fields(res.stdout)["time left"]
    assert res.stderr.startswith(f"jenv: token certificate {pair['cert']} is not yet valid: valid from ")
    assert "system clock" in res.stderr
    data = json.loads(run_in_process(["token-info", "-json"], env).stdout)
    assert data["state"] == "not yet valid"


def test_nothing_on_stdout_when_unreadable(setup):
    env = dict(setup["env"], X509_USER_CERT=str(setup["tmp"] / "nope.pem"))
    res = run_in_process(["-json", "cert-info"], env)
    assert (res.returncode, res.stdout) == (3, "")
    assert res.stderr.startswith(f"jenv: user certificate {setup['tmp'] / 'nope.pem'} (from X509_USER_CERT) "
                                 "does not exist: point X509_USER_CERT at the right file")
