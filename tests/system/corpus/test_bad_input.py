"""Bad input never shows a traceback: one 'jenv: ' line on stderr, a documented exit code, nothing modified."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Dict

import pytest
from cryptography.hazmat.primitives import serialization

from support.offline_helpers import run_jenv, unreadable_runner
from support.snapshot import snapshot

NOT_FOUND, INVALID, UNSAFE = 3, 4, 8


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return str(path)


def _dangling(path: Path) -> str:
    os.symlink(path.parent / "gone.pem", path)
    return str(path)


def _dir(path: Path) -> str:
    path.mkdir()
    return str(path)


def _truncated_cert(leaf) -> bytes:
    return leaf.cert_pem[: len(leaf.cert_pem) // 2]


def _corrupt_body(leaf) -> bytes:
    lines = leaf.cert_pem.splitlines(keepends=True)
    return b"".join(lines[:3] + lines[-1:])  # BEGIN, two body lines, END


#: name -> (make(path, leaf) -> value for the variable, exit code, text the message contains)
BAD_CERTS: Dict[str, tuple] = {
    "missing": (lambda p, leaf: str(p), NOT_FOUND, "does not exist: point X509_USER_CERT at the right file"),
    "directory": (lambda p, leaf: _dir(p), UNSAFE, "is a directory, not a file"),
    "empty": (lambda p, leaf: _write(p, b""), INVALID, "is empty"),
    "blank lines": (lambda p, leaf: _write(p, b"\n\n  \n"), INVALID, "is empty"),
    "truncated": (lambda p, leaf: _write(p, _truncated_cert(leaf)), INVALID, "truncated certificate (no END line)"),
    "corrupt body": (lambda p, leaf: _write(p, _corrupt_body(leaf)), INVALID, "corrupt or truncated certificate"),
    "garbage": (lambda p, leaf: _write(p, b"hello, I am not a certificate\n"), INVALID, "is not a PEM certificate"),
    "binary garbage": (lambda p, leaf: _write(p, os.urandom(64).replace(b"0", b"1")), INVALID, "not"),
    "DER": (lambda p, leaf: _write(p, leaf.cert.public_bytes(serialization.Encoding.DER)), INVALID,
            "DER (binary) form, not PEM"),
    "key instead of cert": (lambda p, leaf: _write(p, leaf.key_pem()), INVALID,
                            "holds a private key, not a certificate"),
    "CSR-like block": (lambda p, leaf: _write(p, b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                              b"-----END CERTIFICATE REQUEST-----\n"), INVALID,
                       "holds a PEM 'CERTIFICATE REQUEST' block"),
    "FIFO": (lambda p, leaf: _fifo(p), UNSAFE, "is a FIFO, not a file"),
    "dangling symlink": (lambda p, leaf: _dangling(p), NOT_FOUND, "does not exist"),
    "parent is a file": (lambda p, leaf: _write(p, b"x") + "/usercert.pem", NOT_FOUND,
                         "cannot be opened: Not a directory"),
    "huge": (lambda p, leaf: _write(p, b"A" * ((1 << 20) + 1)), INVALID, "too large for a PEM credential"),
}

#: Bad keys for certkey-match (X509_USER_KEY).
BAD_KEYS: Dict[str, tuple] = {
    "missing": (lambda p, leaf: str(p), NOT_FOUND, "does not exist: point X509_USER_KEY at the right file"),
    "directory": (lambda p, leaf: _dir(p), UNSAFE, "is a directory, not a file"),
    "empty": (lambda p, leaf: _write(p, b""), INVALID, "is empty"),
    "cert instead of key": (lambda p, leaf: _write(p, leaf.cert_pem), INVALID,
                            "holds a certificate, not a private key"),
    "truncated": (lambda p, leaf: _write(p, leaf.key_pem()[:300]), INVALID, "is corrupt or truncated"),
    "garbage": (lambda p, leaf: _write(p, b"not a key at all"), INVALID, "is not a PEM private key"),
    "DER": (lambda p, leaf: _write(p, leaf.key.private_bytes(serialization.Encoding.DER,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption())),
            INVALID, "DER (binary) form"),
    "FIFO": (lambda p, leaf: _fifo(p), UNSAFE, "is a FIFO, not a file"),
}


def _check_failure(res, code: int, fragment: str) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jenv: "), res.stderr
    assert fragment in lines[0], lines[0]


#: Where the token's one reader (the token files' rules: no link, a directory of its own) says otherwise.
TOKEN_READER = {
    "dangling symlink": (UNSAFE, "is a symbolic link; jenv never follows links in the token location"),
    "parent is a file": (UNSAFE, "is not a directory"),
    "huge": (INVALID, "too large for a token"),
    "truncated key": (INVALID, "holds a truncated private key (no END line)"),
}


def _run_bad_case(setup, leaf, entry, command: str, var: str) -> None:
    make, code, fragment = entry
    value = make(setup["tmp"] / "bad.pem", leaf)
    env = dict(setup["env"], **{var: value})
    if var.startswith("JALIEN"):  # the fix for a token is a new token, not another path
        fragment = fragment.replace("point X509_USER_CERT at the right file", "run 'jenv token-init'")
        fragment = fragment.replace("point X509_USER_KEY at the right file", "run 'jenv token-init'")
        # A pair has one origin: the other half is a good file beside the bad one.
        partner, good = ("JALIEN_TOKEN_KEY", setup["token"]["key"]) if var == "JALIEN_TOKEN_CERT" else \
            ("JALIEN_TOKEN_CERT", setup["token"]["cert"])
        beside = Path(os.path.dirname(value)) / ("good-" + good.name)
        if beside.parent.is_dir() and not beside.exists():
            beside.write_bytes(good.read_bytes())
            beside.chmod(0o400)
        env[partner] = str(beside)
        if var == "JALIEN_TOKEN_KEY" and os.path.isfile(value) and not os.path.islink(value):
            os.chmod(value, 0o600)  # a key of the user's own, private: what is wrong is its content
        case = next(name for table in (BAD_CERTS, BAD_KEYS) for name, item in table.items() if item is entry)
        code, fragment = TOKEN_READER.get(case if case != "truncated" or var != "JALIEN_TOKEN_KEY"
                                          else "truncated key", (code, fragment))
    before = snapshot(setup["tmp"])
    res = run_jenv([command, "--json"], env, timeout=20)
    _check_failure(res, code, fragment)
    assert snapshot(setup["tmp"]) == before


@pytest.mark.parametrize("case", list(BAD_CERTS))
@pytest.mark.parametrize("command,var", [("cert-info", "X509_USER_CERT"), ("token-info", "JALIEN_TOKEN_CERT"),
                                         ("certkey-match", "X509_USER_CERT")])
def test_bad_certificate(setup, user_rsa, case, command, var):
    _run_bad_case(setup, user_rsa, BAD_CERTS[case], command, var)


@pytest.mark.parametrize("case", list(BAD_KEYS))
@pytest.mark.parametrize("command,var", [("certkey-match", "X509_USER_KEY"), ("tokenkey-match", "JALIEN_TOKEN_KEY")])
def test_bad_key(setup, user_rsa, case, command, var):
    _run_bad_case(setup, user_rsa, BAD_KEYS[case], command, var)


@pytest.mark.parametrize("value,code,fragment", [
    ("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----", INVALID,
     "PEM content of JALIEN_TOKEN_CERT) has characters or padding in its PEM block that are not base64"),
    ("-----BEGIN CERTIFICATE-----\nMIIB", INVALID, "truncated certificate (no END line)"),
    ("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----", INVALID, "holds a private key"),
    ("some words, not a path", INVALID, "JALIEN_TOKEN_CERT is set ("),
])
def test_token_variable_holding_garbage(setup, value, code, fragment):
    """The key is given the same way as the certificate (one origin for a pair), and is good."""
    key = setup["token"]["key"].read_text() if value.startswith("-----") else None
    env = dict(setup["env"], JALIEN_TOKEN_CERT=value, **({"JALIEN_TOKEN_KEY": key} if key else {}))
    res = run_jenv(["token-info"], env)
    _check_failure(res, code, fragment)
    if not key:  # a path without its key: the pair's origin is the problem, with both variables named
        assert "but JALIEN_TOKEN_KEY is not" in res.stderr and "set both" in res.stderr


def test_token_key_variable_holding_garbage_content(setup):
    env = dict(setup["env"], JALIEN_TOKEN_KEY="-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
               JALIEN_TOKEN_CERT=setup["token"]["cert"].read_text())
    _check_failure(run_jenv(["tokenkey-match"], env), INVALID,
                   "token key (PEM content of JALIEN_TOKEN_KEY) cannot be loaded with its certificate by OpenSSL")


@pytest.mark.parametrize("command", ["cert-verify", "token-verify", "ca-info"])
@pytest.mark.parametrize("make,code,fragment", [
    (_dir, NOT_FOUND, "is not a file: point X509_CERT_FILE at a PEM bundle"),
    # Issue 11.6: a FIFO or device is refused as unsafe (exit 8), as everywhere.
    (_fifo, UNSAFE, "is not a regular file (a FIFO or device would hang the read): point X509_CERT_FILE"),
    (lambda p: _write(p, b""), INVALID, "holds no PEM certificate"),
], ids=["directory", "FIFO", "empty"])
def test_bad_ca_bundle_variable(setup, command, make, code, fragment):
    env = dict(setup["env"], X509_CERT_FILE=make(setup["tmp"] / "bundle.pem"))
    env.pop("X509_CERT_DIR")
    res = run_jenv([command], env, timeout=20)
    _check_failure(res, code, f"X509_CERT_FILE={env['X509_CERT_FILE']} {fragment}")


@pytest.mark.parametrize("command,var", [("cert-info", "X509_USER_CERT"), ("certkey-match", "X509_USER_KEY")])
def test_unreadable_file(setup, command, var):
    target = setup["user"]["cert"] if var == "X509_USER_CERT" else setup["user"]["key"]
    os.chmod(target, 0)
    before = snapshot(setup["tmp"])
    res = unreadable_runner()([command], dict(setup["env"], **{var: str(target)}))
    _check_failure(res, NOT_FOUND, f"{target} (from {var}) is not readable: check its permissions")
    assert snapshot(setup["tmp"]) == before


def test_fixture_cases_are_real(user_rsa, tmp_path):
    """The bad inputs really are what their names say (the test above would pass on a wrong table otherwise)."""
    makers: Dict[str, Callable] = {k: v[0] for k, v in BAD_CERTS.items()}
    assert Path(makers["directory"](tmp_path / "d", user_rsa)).is_dir()
    assert stat.S_ISFIFO(os.stat(makers["FIFO"](tmp_path / "f", user_rsa)).st_mode)
    assert Path(makers["DER"](tmp_path / "der", user_rsa)).read_bytes()[:1] == b"\x30"
    dangling = Path(makers["dangling symlink"](tmp_path / "l", user_rsa))
    assert dangling.is_symlink() and not dangling.exists()
