"""`jenv alien-token-info`, `alien-cert-info` and `alien-token-destroy` against alienpy 1.7.0's own commands.

O2's CCDB API runs ``LD_PRELOAD= alien-token-info &> /dev/null`` and O2DPG's scripts read its exit
code and its ``EXPIRE >>>`` line, so jenv's commands must print the very same bytes on stdout and
exit with the same code.  Each case runs both programs on the same files (certificates from
tests/support/pki.py with chosen notBefore/notAfter): alienpy's installed commands are the oracle.
Processes, because alienpy reads its configuration at import time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from support.launcher import clean_env, run_jenv
from support.pki import TestCA, now

BIN = Path(sys.executable).parent
ALIEN_TOKEN_INFO = shutil.which("alien-token-info", path=str(BIN))
pytestmark = pytest.mark.skipif(ALIEN_TOKEN_INFO is None, reason="alienpy is not installed")

TOKEN_DN = "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe"


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("/C=ch/O=AliEn2/CN=AliEn2 CA")


def alienpy(command: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / command)], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def write_pair(ca: TestCA, directory: Path, stem: str, seconds_left: int, dn: str = TOKEN_DN):
    leaf = ca.issue(dn, not_before=now() - dt.timedelta(hours=2), not_after=now() + dt.timedelta(seconds=seconds_left))
    cert, key = leaf.write(directory, stem, fmt="traditional")
    cert.chmod(0o400)  # as both clients write token files
    return cert, key


def same(command: str, env: Dict[str, str]):
    """Run alienpy's command and jenv's on the same environment; both results."""
    theirs = alienpy(command, env)
    ours = run_jenv([command], env)
    assert (ours.stdout, ours.returncode) == (theirs.stdout, theirs.returncode), (ours, theirs.stderr)
    return theirs, ours


@pytest.mark.parametrize("seconds_left, code", [(7200, 0), (900, 0), (300, 2), (-60, 2)],
                         ids=["valid", "15-minutes-left", "5-minutes-left", "expired"])
def test_token_info_prints_and_exits_as_alienpy(ca, home, seconds_left, code):
    env = clean_env(home)
    cert, _key = write_pair(ca, Path(env["TMPDIR"]), "token", seconds_left)
    uid = os.getuid()
    os.rename(cert, Path(env["TMPDIR"]) / f"tokencert_{uid}.pem")
    os.rename(_key, Path(env["TMPDIR"]) / f"tokenkey_{uid}.pem")
    theirs, ours = same("alien-token-info", env)
    assert theirs.returncode == code
    if code == 0:
        assert theirs.stdout.startswith(f"DN >>> {TOKEN_DN[1:]}\nISSUER >>> C=ch/O=AliEn2/CN=AliEn2 CA\nBEGIN >>> ")
    else:
        assert theirs.stdout == "" and ours.stderr.startswith("jenv: ") and ours.stderr.count("\n") == 1


def test_token_info_of_a_missing_token(home):
    env = clean_env(home)
    theirs, ours = same("alien-token-info", env)
    assert theirs.returncode == 2 and "does not exist" in ours.stderr


@pytest.mark.parametrize("seconds_left", [7200, 300], ids=["valid", "5-minutes-left"])
def test_token_info_of_pem_content_in_the_variables(ca, home, seconds_left):
    cert, key = write_pair(ca, home / "pair", "token", seconds_left)
    env = clean_env(home, JALIEN_TOKEN_CERT=cert.read_text(), JALIEN_TOKEN_KEY=key.read_text())
    theirs, _ours = same("alien-token-info", env)
    assert theirs.returncode == (0 if seconds_left > 600 else 2)


def test_token_info_of_paths_in_the_variables(ca, home):
    cert, key = write_pair(ca, home / "pair", "token", 7200)
    theirs, _ours = same("alien-token-info", clean_env(home, JALIEN_TOKEN_CERT=str(cert), JALIEN_TOKEN_KEY=str(key)))
    assert theirs.returncode == 0


@pytest.mark.parametrize("dn", ["/C=ch/O=AliEn2/CN=Users/CN=Doe, Jane+x/OU=a;b", "/C=ch/O=AliEn2/CN= jdoe #1 "],
                         ids=["separators", "spaces-and-hash"])
def test_token_info_of_a_dn_that_needs_escaping(ca, home, dn):
    """The DN alienpy prints is cryptography's RFC 4514 text split at every comma: jenv's fast path steps
    aside for such names and gives the same bytes."""
    cert, key = write_pair(ca, home / "pair", "token", 7200, dn)
    theirs, _ours = same("alien-token-info", clean_env(home, JALIEN_TOKEN_CERT=str(cert), JALIEN_TOKEN_KEY=str(key)))
    assert theirs.returncode == 0 and "\\" in theirs.stdout  # escaped, as cryptography writes it


@pytest.mark.parametrize("seconds_left, with_key, code", [(86400, True, 0), (300, True, 2), (-60, True, 2),
                                                           (86400, False, 2)],
                         ids=["valid", "5-minutes-left", "expired", "no-key"])
def test_cert_info_prints_and_exits_as_alienpy(ca, home, seconds_left, with_key, code):
    cert, key = write_pair(ca, home / ".globus", "user", seconds_left, "/C=ch/O=AliEn2/CN=Users/CN=jdoe")
    if not with_key:
        key.unlink()
    theirs, _ours = same("alien-cert-info", clean_env(home))
    assert theirs.returncode == code


def test_cert_info_of_a_missing_certificate(home):
    theirs, _ours = same("alien-cert-info", clean_env(home))
    assert theirs.returncode == 2


def test_token_destroy_prints_as_alienpy_and_removes_the_files(ca, home):
    env = clean_env(home)
    tmp, uid = Path(env["TMPDIR"]), os.getuid()
    for tool in ("alienpy", "jenv"):
        cert, key = write_pair(ca, tmp, "token", 7200)
        os.rename(cert, tmp / f"tokencert_{uid}.pem")
        os.rename(key, tmp / f"tokenkey_{uid}.pem")
        result = alienpy("alien-token-destroy", env) if tool == "alienpy" else run_jenv(["alien-token-destroy"], env)
        assert (result.stdout, result.returncode) == ("Token was destroyed! Re-connect for token re-creation.\n", 0)
        assert not (tmp / f"tokencert_{uid}.pem").exists() and not (tmp / f"tokenkey_{uid}.pem").exists(), tool
    same("alien-token-destroy", env)  # nothing left to remove: the same sentence, exit 0


def test_token_info_refuses_a_token_jenv_would_refuse(ca, home):
    """Beyond alienpy: a key that does not belong to the certificate is no token (exit 2, one jenv: line)."""
    cert, _key = write_pair(ca, home / "a", "token", 7200)
    _cert, other_key = write_pair(ca, home / "b", "token", 7200)
    env = clean_env(home, JALIEN_TOKEN_CERT=str(cert), JALIEN_TOKEN_KEY=str(other_key))
    ours = run_jenv(["alien-token-info"], env)
    assert (ours.returncode, ours.stdout) == (2, "") and ours.stderr.startswith("jenv: ")
    assert alienpy("alien-token-info", env).returncode == 0  # alienpy only checks that the key is readable


def test_key_content_in_pkcs8_form_counts_for_jenv_only(ca, home):
    """alienpy recognises only '-----BEGIN RSA PRIVATE KEY-----' content in JALIEN_TOKEN_KEY (README)."""
    leaf = ca.issue(TOKEN_DN)
    env = clean_env(home, JALIEN_TOKEN_CERT=leaf.cert_pem.decode(), JALIEN_TOKEN_KEY=leaf.key_pem(fmt="pkcs8").decode())
    ours = run_jenv(["alien-token-info"], env)
    assert ours.returncode == 0 and ours.stdout.startswith("DN >>> "), ours.stderr
    assert alienpy("alien-token-info", env).returncode == 2


def test_a_token_not_valid_yet_is_no_token_for_jenv(ca, home):
    """alienpy looks only at notAfter; a token from the future cannot be used yet (README)."""
    leaf = ca.issue(TOKEN_DN, not_before=now() + dt.timedelta(hours=1), not_after=now() + dt.timedelta(days=1))
    cert, key = leaf.write(home / "future", "token", fmt="traditional")
    env = clean_env(home, JALIEN_TOKEN_CERT=str(cert), JALIEN_TOKEN_KEY=str(key))
    ours = run_jenv(["alien-token-info"], env)
    assert (ours.returncode, ours.stdout) == (2, "") and "not valid yet" in ours.stderr
    assert alienpy("alien-token-info", env).returncode == 0


def test_token_destroy_refuses_a_link_in_the_token_location(home, tmp_path):
    env = clean_env(home)
    bait = tmp_path / "bait"
    bait.write_text("someone else's\n")
    link = Path(env["TMPDIR"]) / f"tokencert_{os.getuid()}.pem"
    link.symlink_to(bait)
    ours = run_jenv(["alien-token-destroy"], env)
    assert (ours.returncode, ours.stdout) == (8, "") and "symbolic link" in ours.stderr
    assert link.is_symlink() and bait.read_text() == "someone else's\n"
