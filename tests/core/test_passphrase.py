"""Encrypted user keys: the passphrase is asked on the terminal once; no terminal fails at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import launcher as jenvtest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from jenv.jcentral.client import ClientIdentity, fetch_token
from jenv.errors import JenvError
from jenv.locations import CAStore, Endpoint, Location
from jenv.jcentral.protocol import TokenRequest
cert, key, ca, port = sys.argv[1:]
try:
    pair = fetch_token(Endpoint("127.0.0.1", int(port), "test"),
                       ClientIdentity(Location("user certificate", "test", path=cert),
                                      Location("user key", "test", path=key)),
                       CAStore(ca, "dir", "test"), 5, TokenRequest(), print)
    print("TOKEN", pair.key_pem.splitlines()[0])
except JenvError as exc:
    print("ERROR", type(exc).__name__, exc)
"""


@pytest.fixture
def encrypted(pki, tmp_path):
    key = tmp_path / "userkey.pem"
    key.write_bytes(pki.creds["jdoe"].key_pem(b"s3cret phrase"))
    key.chmod(0o600)  # a key readable by others is refused before any prompt
    return [str(pki.root / "users" / "jdoe" / "usercert.pem"), str(key), str(pki.ca_dir)]


def run_on_pty(args, answers, timeout=20.0) -> str:
    """Run the script with a pseudo-terminal as controlling terminal, answering each prompt.

    Not scanned for key material: the script prints the token key's first line on purpose.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return jenvtest.run_on_pty([sys.executable, "-c", SCRIPT, *args], env, answers, timeout=timeout,
                               scan=False).output


def test_right_passphrase_asked_once(encrypted, endpoint):
    out = run_on_pty(encrypted + [str(endpoint.port)], [b"s3cret phrase"])
    assert "TOKEN -----BEGIN RSA PRIVATE KEY-----" in out, out
    assert out.count("Passphrase for") == 1 and "s3cret" not in out  # never echoed


def test_wrong_passphrase(encrypted, endpoint):
    out = run_on_pty(encrypted + [str(endpoint.port)], [b"nope", b"", b"nope again"])
    assert "ERROR PassphraseError wrong passphrase for user key" in out, out
    assert out.count("Passphrase for") == 3 and out.count("Wrong passphrase, try again.") == 2, out


def test_a_typo_then_the_right_passphrase(encrypted, endpoint):
    """Issue 20.15: the prompt comes again after a wrong passphrase, and TLS gets the one that worked."""
    out = run_on_pty(encrypted + [str(endpoint.port)], [b"nope", b"s3cret phrase"])
    assert "TOKEN -----BEGIN RSA PRIVATE KEY-----" in out and out.count("Passphrase for") == 2, out


def test_no_terminal_fails_at_once(encrypted, endpoint):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *encrypted, str(endpoint.port)],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, start_new_session=True, timeout=20)
    assert "ERROR PassphraseError" in proc.stdout and "no terminal" in proc.stdout, proc.stdout + proc.stderr
    assert time.monotonic() - start < 10
