"""certkey-match and tokenkey-match: RSA and EC, every PEM key format, encrypted keys through a real terminal."""

from __future__ import annotations

import json
import time

import pytest

from support.offline_helpers import run_detached, run_in_process, run_with_tty, write_pair

pytestmark = pytest.mark.slow

PASSPHRASE = b"correct horse battery staple"


@pytest.mark.parametrize("kind,fmt,header,key_type", [
    ("rsa", "traditional", b"-----BEGIN RSA PRIVATE KEY-----", "RSA"),  # PKCS#1
    ("rsa", "pkcs8", b"-----BEGIN PRIVATE KEY-----", "RSA"),
    ("ec", "traditional", b"-----BEGIN EC PRIVATE KEY-----", "EC (secp256r1)"),  # SEC1
    ("ec", "pkcs8", b"-----BEGIN PRIVATE KEY-----", "EC (secp256r1)"),
])
def test_certkey_match_every_format(setup, user_rsa, user_ec, tmp_path, kind, fmt, header, key_type):
    leaf = user_rsa if kind == "rsa" else user_ec
    pair = write_pair(leaf, tmp_path / "creds", "user", fmt=fmt)
    assert pair["key"].read_bytes().startswith(header)
    env = dict(setup["env"], X509_USER_CERT=str(pair["cert"]), X509_USER_KEY=str(pair["key"]))
    res = run_in_process(["certkey-match"], env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == (f"user key {pair['key']} (from X509_USER_KEY) ({key_type} "
                                  f"{leaf.cert.public_key().key_size} bits) matches the user certificate "
                                  f"{pair['cert']} (from X509_USER_CERT)")
    data = json.loads(run_in_process(["certkey-match", "--json"], env).stdout)
    assert data["match"] is True and data["key"]["key_type"] == key_type
    assert data["certificate"]["path"] == str(pair["cert"]) and data["key"]["path"] == str(pair["key"])


def test_tokenkey_match_default_and_content(setup):
    assert run_in_process(["tokenkey-match"], setup["env"]).returncode == 0
    env = dict(setup["env"], JALIEN_TOKEN_CERT=setup["token"]["cert"].read_text().rstrip("\n"),
               JALIEN_TOKEN_KEY=setup["token"]["key"].read_text().rstrip("\n"))
    res = run_in_process(["tokenkey-match", "-json"], env)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["match"] is True
    assert data["key"]["from_content"] and data["key"]["location"] == "PEM content of JALIEN_TOKEN_KEY"


@pytest.mark.parametrize("other", ["token", "rsa"])
def test_mismatch(setup, root_ca, other, tmp_path):
    if other == "token":  # an EC key against the RSA user certificate
        key = setup["token"]["key"]
    else:  # another RSA key of the same size
        key = write_pair(root_ca.issue(), tmp_path / "other", "user")["key"]
    env = dict(setup["env"], X509_USER_KEY=str(key))
    res = run_in_process(["certkey-match"], env)
    assert res.returncode == 7
    assert "does NOT match the user certificate" in res.stdout
    assert res.stderr.splitlines() == [f"jenv: user key {key} does not belong to user certificate "
                                       f"{setup['user']['cert']}: use the key that was made with this certificate"]
    res = run_in_process(["certkey-match", "--json"], env)
    assert res.returncode == 7 and json.loads(res.stdout)["match"] is False


def _encrypted_env(setup, user_rsa, tmp_path, fmt):
    pair = write_pair(user_rsa, tmp_path / "enc", "user", passphrase=PASSPHRASE, fmt=fmt)
    return dict(setup["env"], X509_USER_KEY=str(pair["key"])), pair


@pytest.mark.parametrize("fmt", ["pkcs8", "traditional"])
def test_encrypted_key_asks_on_the_terminal(setup, user_rsa, tmp_path, fmt):
    env, pair = _encrypted_env(setup, user_rsa, tmp_path, fmt)
    res, shown = run_with_tty(["certkey-match"], env, PASSPHRASE)
    assert res.returncode == 0, (res.stderr, shown)
    assert f"Passphrase for user key {pair['key']}".encode() in shown
    assert PASSPHRASE not in shown  # echo was off
    assert "Passphrase" not in res.stdout and "Passphrase" not in res.stderr
    assert "matches the user certificate" in res.stdout


def test_wrong_passphrase(setup, user_rsa, tmp_path):
    env, pair = _encrypted_env(setup, user_rsa, tmp_path, "pkcs8")
    res, shown = run_with_tty(["certkey-match"], env, b"not it")
    assert res.returncode == 11
    assert res.stderr.splitlines() == [f"jenv: wrong passphrase for user key {pair['key']} (from X509_USER_KEY)"]
    assert res.stdout == "" and shown.count(b"Passphrase for") == 3  # three tries, as ssh gives
    res, shown = run_with_tty(["certkey-match"], env, b"")
    assert res.returncode == 11 and "empty passphrase" in res.stderr


def test_encrypted_key_without_terminal_fails_at_once(setup, user_rsa, tmp_path):
    env, pair = _encrypted_env(setup, user_rsa, tmp_path, "pkcs8")
    started = time.monotonic()
    res = run_detached(["certkey-match"], env, timeout=15)
    assert time.monotonic() - started < 10
    assert res.returncode == 11
    assert res.stdout == ""
    line, = res.stderr.splitlines()
    assert line.startswith(f"jenv: user key {pair['key']} (from X509_USER_KEY) is encrypted and there is no "
                           "terminal to ask for its passphrase")
