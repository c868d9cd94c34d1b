"""What can be known offline is found before anything is asked or any connection is made (issue 11.6, 11.8).

A FIFO in the CA store would hang OpenSSL inside the TLS handshake (it opens
``<hash>.N`` files itself, lazily); an empty CA directory made jenv connect and
blame the server ("not trusted").  Both are refused at once, with the lines
``ca-info`` gives, within the time of a local check.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from support.tokenkit import run_jenv

pytestmark = pytest.mark.slow


def _ca_copy(svc, tmp_path: Path) -> Path:
    copy = tmp_path / "cas"
    shutil.copytree(svc.ca_dir, copy, symlinks=True)
    return copy


@pytest.mark.parametrize("command", [["token"], ["token-init"]])
def test_a_fifo_in_the_ca_directory_never_hangs(svc, home, tmp_path, command):
    cas = _ca_copy(svc, tmp_path)
    os.mkfifo(cas / "0badf1f0.0")
    start = time.monotonic()
    result = run_jenv(command, svc.env(home, X509_CERT_DIR=str(cas)), timeout=30)
    assert result.returncode == 8, result.stderr
    assert "0badf1f0.0 is not a regular file" in result.stderr and len(result.stderr.splitlines()) == 1
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("command", [["token"], ["token-init"]])
def test_a_fifo_as_the_ca_bundle_never_hangs(svc, home, tmp_path, command):
    fifo = tmp_path / "bundle.pem"
    os.mkfifo(fifo)
    start = time.monotonic()
    result = run_jenv(command, svc.env(home, X509_CERT_DIR="", X509_CERT_FILE=str(fifo)), timeout=30)
    assert result.returncode == 8 and "is not a regular file" in result.stderr, result.stderr
    assert time.monotonic() - start < 10


def test_an_empty_ca_directory_is_named_before_connecting(svc, home, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    before = svc.token_requests
    result = run_jenv(["token-init"], svc.env(home, X509_CERT_DIR=str(empty)))
    assert result.returncode == 4, result.stderr
    assert "holds no <hash>.0 certificate files" in result.stderr and "not trusted" not in result.stderr
    assert svc.token_requests == before


def _encrypted_key(svc, home: Path, passphrase: bytes = b"pass phrase") -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(svc.user_files("jdoe")[1]).read_bytes(), None)
    path = home / "userkey.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(passphrase)))
    path.chmod(0o400)
    return path


def _expired_user(svc, home: Path) -> "tuple[Path, Path]":
    import datetime as dt

    credential = svc.service.authority.issue_user("/C=ch/O=jenv test/OU=Users/CN=Jane Doe", days=1,
                                                  not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3))
    cert, key = home / "old-cert.pem", home / "old-key.pem"
    credential.write(str(cert), str(key))
    return cert, key


def test_an_expired_user_certificate_is_reported_before_any_prompt_or_connection(svc, home):
    """Issue 11.8: exit 5 with cert-info's line, no passphrase asked (no terminal needed), no request."""
    cert, key = _expired_user(svc, home)
    env = svc.env(home, X509_USER_CERT=str(cert), X509_USER_KEY=str(key))
    before = svc.token_requests
    result = run_jenv(["token"], env)
    assert result.returncode == 5, result.stderr
    info = run_jenv(["cert-info"], env)
    assert result.stderr.strip() == info.stderr.strip()  # the very line cert-info gives
    assert svc.token_requests == before


def test_a_user_key_readable_by_others_is_refused_before_any_prompt(svc, home):
    key = _encrypted_key(svc, home)
    key.chmod(0o644)
    before = svc.token_requests
    result = run_jenv(["token-init"], svc.env(home, X509_USER_KEY=str(key)))
    assert result.returncode == 8 and "chmod 600" in result.stderr and "no terminal" not in result.stderr
    assert svc.token_requests == before


def test_with_jcentral_down_the_passphrase_is_not_asked(svc, home):
    """The TCP connection comes before the prompt: a service that is down costs no typing."""
    from support.launcher import run_on_pty
    import sys

    key = _encrypted_key(svc, home)
    env = svc.env(home, X509_USER_KEY=str(key), ALIENPY_JCENTRAL_PORT="9", PYTHONPATH=str(Path.cwd()))
    result = run_on_pty([sys.executable, "-m", "jenv", "token-init"], env, answers=[b"pass phrase"], timeout=30)
    assert result.returncode == 9, result.output
    assert "Passphrase for" not in result.output and "refused the connection" in result.output


def test_content_for_tcsh_is_refused_before_asking_jcentral(svc, home):
    env = svc.env(home)
    before = svc.token_requests
    for command in (["user", "alicepr", "--shell", "tcsh"], ["token", "--content", "--shell", "tcsh"]):
        result = run_jenv(command, env)
        assert result.returncode == 4 and "cannot carry" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
        # jenv user names the form that works in every shell: the token files with that role
        assert ("jenv user alicepr token-init" in result.stderr) == (command[0] == "user"), result.stderr
    assert svc.token_requests == before
    assert run_jenv(["user", "alicepr", "token-init", "--shell", "tcsh"], env).returncode == 0  # and it works


def test_nothing_set_up_names_the_user_certificate_first(tmp_path):
    from support.launcher import clean_env

    for command in (["token"], ["token-init"]):
        result = run_jenv(command, clean_env(tmp_path / "home"))
        assert result.returncode == 3 and "user certificate" in result.stderr.splitlines()[0], result.stderr
        assert "jenv cert-import <file.p12>" in result.stderr.splitlines()[0]  # how a new user gets one


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_tmpdir_that_is_not_utf8_works(svc, home, tmp_path):
    """Issue 11.9: TMPDIR=$'.../t\\xffdir' (bytes no locale can decode) gives exports with exactly those bytes,
    also where the locale's stdout would refuse them (PYTHONIOENCODING=utf-8:strict, as en_US.UTF-8 does)."""
    import subprocess
    import sys

    raw = os.fsencode(str(tmp_path)) + b"/t\xffdir"
    os.mkdir(raw, 0o700)
    env = svc.env(home)
    env_bytes = {k.encode(): v.encode() for k, v in env.items()}
    env_bytes.update({b"TMPDIR": raw, b"PYTHONIOENCODING": b"utf-8:strict"})
    proc = subprocess.run([sys.executable, "-m", "jenv", "token", "--shell", "bash"], env=env_bytes,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert b"export JALIEN_TOKEN_CERT='" + raw + b"/tokencert_" in proc.stdout
    assert os.path.exists(raw + b"/tokencert_%d.pem" % os.getuid())
