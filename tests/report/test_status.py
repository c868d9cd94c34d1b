"""jenv status: one screen (and JSON) that says what is usable, and fails only when the main job is broken."""

from __future__ import annotations

import json
import os

import pytest

from support.offline_helpers import run_detached, run_in_process, write_pair
from support.snapshot import snapshot

pytestmark = pytest.mark.slow


def _status(env, code=0):
    res = run_in_process(["status", "--json"], env)
    assert res.returncode == code, res.stderr
    return json.loads(res.stdout), res.stderr.splitlines()


def test_everything_fine(setup):
    before = snapshot(setup["tmp"])
    data, errors = _status(setup["env"])
    assert errors == [] and data["ok"] is True and data["problems"] == []
    user, key = data["user_cert"], data["user_key"]
    assert (user["path"], user["source"], user["exists"], user["readable"]) == \
        (str(setup["user"]["cert"]), "default", True, True)
    assert user["certificate"]["state"] == "valid" and user["certificate"]["seconds_left"] > 364 * 86400
    assert (key["mode"], key["safe"], key["matches"], key["key_type"]) == ("0400", True, True, "RSA 2048 bits")
    assert data["token_cert"]["certificate"]["subject"].endswith("/CN=token")
    assert data["token_key"]["matches"] is True
    ca = data["ca_store"]
    assert (ca["path"], ca["kind"], ca["source"], ca["certificates"], ca["error"]) == \
        (str(setup["ca"]), "dir", "from X509_CERT_DIR", 2, None)
    assert data["endpoint"] == {"host": "alice-jcentral.cern.ch", "port": 8097, "source": "default",
                                "uri": "wss://alice-jcentral.cern.ch:8097/websocket/json"}
    assert data["timeout"] == {"seconds": float(setup["env"]["JENV_TIMEOUT"])}
    assert snapshot(setup["tmp"]) == before


def test_text_screen(setup):
    res = run_in_process(["status"], setup["env"])
    assert res.returncode == 0 and res.stderr == ""
    lines = res.stdout.splitlines()
    assert lines[1] == f"user certificate   {setup['user']['cert']} (default)"
    assert lines[2].lstrip().startswith("exists, readable, mode 0644, valid, 36")
    assert lines[4].strip() == "exists, readable, mode 0400, RSA 2048 bits, matches the certificate"
    assert lines[9] == f"CA store           {setup['ca']} (from X509_CERT_DIR)"
    assert lines[10].strip() == "directory, 2 certificates"
    assert lines[-1] == "result             OK"


def test_shell_is_reported(setup):
    data = json.loads(run_in_process(["--shell", "zsh", "status", "--json"], setup["env"]).stdout)
    assert data["shell"]["name"] == "zsh"


def test_missing_token_alone_is_fine(setup):
    for path in setup["token"].values():
        path.unlink()
    data, errors = _status(setup["env"])
    assert errors == [] and data["token_cert"]["exists"] is False
    assert "missing ('jenv token' creates it)" in run_in_process(["status"], setup["env"]).stdout


def test_valid_token_without_user_certificate_is_fine(setup):
    setup["user"]["cert"].unlink()
    data, errors = _status(setup["env"])
    assert errors == [] and data["user_cert"]["exists"] is False and data["user_cert"]["error"]


def test_no_user_certificate_and_no_token(setup):
    setup["user"]["cert"].unlink()
    setup["token"]["cert"].unlink()
    data, errors = _status(setup["env"], code=3)
    assert errors == [f"jenv: no valid token, and the user credentials cannot make one: user certificate "
                      f"{setup['user']['cert']} (default) does not exist: run 'jenv cert-import <file.p12>' "
                      "with the .p12 file from the CERN CA (it installs ~/.globus/usercert.pem and userkey.pem), "
                      "or set X509_USER_CERT"]
    assert data["ok"] is False and data["problems"][0]["exit_code"] == 3


def test_expired_token_and_expired_user_certificate(setup, expired_leaf, tmp_path):
    pair = write_pair(expired_leaf, tmp_path / "old", "user")
    env = dict(setup["env"], X509_USER_CERT=str(pair["cert"]), JALIEN_TOKEN_CERT=str(pair["cert"]),
               JALIEN_TOKEN_KEY=str(pair["key"]))
    data, errors = _status(env, code=5)
    assert data["token_cert"]["certificate"]["state"] == "expired"
    assert "expired 2d" in errors[0] and "renew your grid user certificate" in errors[0]
    # and, as 'jenv token' would find next: it could not write a new token over that 0644 file
    assert len(errors) == 2 and "has mode 0644, open to other users" in errors[1]


def test_mismatched_user_key_without_token(setup):
    setup["token"]["cert"].unlink()
    env = dict(setup["env"], X509_USER_KEY=str(setup["token"]["key"]))
    data, errors = _status(env, code=7)
    assert data["user_key"]["matches"] is False
    assert errors == [f"jenv: no valid token, and the user credentials cannot make one: user key "
                      f"{setup['token']['key']} does not belong to user certificate {setup['user']['cert']}: "
                      "use the matching key"]


@pytest.mark.parametrize("which", ["user", "token"])
def test_unsafe_key_fails_and_names_chmod(setup, which):
    """An exposed user key is a problem even while the token is valid; a token key open to others is
    what 'jenv token' itself refuses, with the same line (the one reader)."""
    key = setup[which]["key"]
    os.chmod(key, 0o644)
    data, errors = _status(setup["env"], code=8)
    if which == "user":
        assert errors == [f"jenv: {key} has mode 0644, readable by others: run 'chmod 600 {key}'"]
    else:
        token = run_in_process(["token", "--shell", "sh"], setup["env"])
        assert token.returncode == 8 and errors == token.stderr.splitlines()
        assert errors == [f"jenv: token key {key} has mode 0644, open to other users (jenv writes 0400): "
                          f"remove it (rm {key}) and run 'jenv token-init'"]
    assert data[f"{which}_key"]["safe"] is False
    assert "UNSAFE: readable by group/others" in run_in_process(["status"], setup["env"]).stdout


def _garbage(path):
    path.write_text("garbage\n")
    return path


@pytest.mark.parametrize("var,make,code,fragment", [
    ("X509_CERT_DIR", lambda t: t / "nowhere", 3, "does not exist: correct X509_CERT_DIR (a typo?), or unset it "
                                                 "to use the default places; 'jenv ca-fetch "),
    ("X509_CERT_FILE", lambda t: t / "nowhere.pem", 3, "does not exist: point X509_CERT_FILE at a PEM bundle"),
    ("X509_CERT_DIR", lambda t: t / "home" / ".globus" / "usercert.pem", 3,
     "is not a directory: point X509_CERT_DIR at a CA directory"),
    ("X509_CERT_FILE", lambda t: t / "ca", 3, "is not a file: point X509_CERT_FILE at a PEM bundle"),
    ("X509_CERT_FILE", lambda t: _garbage(t / "garbage.pem"), 4, "holds no PEM certificate"),
    ("X509_CERT_DIR", lambda t: t / "home", 4, "holds no <hash>.0 certificate files: run 'jenv ca-fetch'"),
])
def test_invalid_explicit_ca_setting_fails_even_with_a_token(setup, var, make, code, fragment):
    env = dict(setup["env"])
    env.pop("X509_CERT_DIR")
    env[var] = str(make(setup["tmp"]))
    data, errors = _status(env, code=code)
    assert len(errors) == 1 and errors[0].startswith(f"jenv: {var}={env[var]} {fragment}"), errors
    assert data["ca_store"]["explicit"] is True and data["ca_store"]["error"] == errors[0][6:]


def test_ca_bundle_is_counted(setup, root_ca, inter_ca):
    bundle = root_ca.write_bundle(setup["tmp"] / "bundle.pem", extra=[inter_ca])
    env = dict(setup["env"], X509_CERT_FILE=str(bundle))
    env.pop("X509_CERT_DIR")
    data, _ = _status(env)
    assert (data["ca_store"]["kind"], data["ca_store"]["certificates"]) == ("file", 2)


@pytest.mark.skipif(any(os.path.isdir(p) for p in ("/cvmfs/alice.cern.ch/etc/grid-security/certificates",
                                                    "/etc/grid-security/certificates")),
                    reason="this machine has a system CA directory")
def test_no_ca_store_matters_only_without_token(setup):
    env = dict(setup["env"])
    env.pop("X509_CERT_DIR")
    data, errors = _status(env)
    assert data["ca_store"]["error"].startswith("no CA certificates found")
    text = run_in_process(["status"], env).stdout  # where jenv looked is said once, not nested
    assert text.count("none of ") == 1 and "(default (" not in text, text
    assert "no CA certificates found: run 'jenv ca-fetch'" in text
    setup["token"]["cert"].unlink()
    data, errors = _status(env, code=3)
    assert len(errors) == 1 and errors[0].startswith("jenv: no CA certificates found (default (none of ")
    assert "run 'jenv ca-fetch'" in errors[0]


def test_bad_endpoint_port(setup):
    data, errors = _status(dict(setup["env"], ALIENPY_JCENTRAL_PORT="http"), code=4)
    assert errors == ["jenv: ALIENPY_JCENTRAL_PORT='http' is not a port number (1-65535): fix or unset it"]


def test_encrypted_user_key_never_prompts(setup, user_rsa, tmp_path):
    setup["token"]["cert"].unlink()
    pair = write_pair(user_rsa, tmp_path / "enc", "user", passphrase=b"secret")
    res = run_detached(["status", "--json"], dict(setup["env"], X509_USER_KEY=str(pair["key"])))
    assert res.returncode == 0, res.stderr
    key = json.loads(res.stdout)["user_key"]
    assert (key["encrypted"], key["matches"], key["usable"]) == (True, None, True)


def test_broken_token_with_good_user_credentials_is_a_warning(setup):
    setup["token"]["cert"].write_text("garbage\n")
    data, errors = _status(setup["env"])
    assert errors == [] and "is not a PEM certificate" in data["token_cert"]["error"]
    text = run_in_process(["status"], setup["env"]).stdout
    assert "unusable: token certificate" in text


def test_fifo_token_does_not_hang(setup):
    """A FIFO where the token belongs: refused by status as by 'jenv token' (exit 8, the same line)."""
    setup["token"]["cert"].unlink()
    os.mkfifo(setup["token"]["cert"])
    data, errors = _status(setup["env"], code=8)
    assert "is a FIFO" in data["token_cert"]["error"] and data["token_cert"]["readable"] is False
    assert errors == run_in_process(["token", "--shell", "sh"], setup["env"]).stderr.splitlines()


def test_token_given_as_content(setup):
    env = dict(setup["env"], JALIEN_TOKEN_CERT=setup["token"]["cert"].read_text(),
               JALIEN_TOKEN_KEY=setup["token"]["key"].read_text())
    for path in setup["token"].values():
        path.unlink()
    data, errors = _status(env)
    cert, key = data["token_cert"], data["token_key"]
    assert errors == [] and cert["from_content"] and cert["path"] is None and cert["mode"] is None
    assert (key["matches"], key["safe"], key["usable"]) == (True, None, True)
    text = run_in_process(["status"], env).stdout
    assert "token key          PEM content of JALIEN_TOKEN_KEY" in text
