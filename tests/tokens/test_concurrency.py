"""Concurrency (issue 5 item 2): many login shells at once share one token request; one lock per token
directory however it is spelled (issue 20 item 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jenv.locations import Location
from jenv.tokens.store import LockTimeoutError, TokenStore, lock_store
from support.tokenkit import assert_no_key_printed, token_paths

pytestmark = pytest.mark.slow


# File handling and locking only, where the CA plays no part: once, with the suite's test CA (the
# serial-0 twin runs every token test that reads, verifies or receives a certificate).
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_twenty_concurrent_token_runs_share_one_token(svc, home):
    env = svc.env(home, JENV_TIMEOUT="10")
    before = svc.token_requests
    procs = [subprocess.Popen([sys.executable, "-m", "jenv", "token", "--shell", "bash"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(20)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for out, err in outputs:
        assert_no_key_printed(out, err)
    assert [proc.returncode for proc in procs] == [0] * 20, [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1 and "JALIEN_TOKEN_CERT" in outputs[0][0]
    requests = svc.token_requests - before
    assert 1 <= requests <= 3, requests
    cert_path, key_path = token_paths(env)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    leftovers = [p.name for p in Path(env["TMPDIR"]).iterdir()
                 if p.name not in (cert_path.name, key_path.name, f"jenv-token-{os.getuid()}.lock")]
    assert leftovers == []


def _spellings(real: Path) -> List[str]:
    """The same directory written six ways: as is, through a symbolic link, with a leading ``//`` (which
    POSIX lets mean something else, so normpath keeps it), with ``//`` and ``/./`` inside, and both."""
    link = real.parent / "tmp-link"
    if not link.exists():
        link.symlink_to(real)
    head, tail = str(real.parent), real.name
    return [str(real), str(link), "/" + str(real), f"{head}//{tail}", f"{head}/./{tail}", f"/{link.parent}/./{link.name}"]


def _store(directory: str, lock_dirs=()) -> TokenStore:
    uid = os.getuid()
    return TokenStore(Location("token certificate", "default", path=os.path.join(directory, f"tokencert_{uid}.pem")),
                      Location("token key", "default", path=os.path.join(directory, f"tokenkey_{uid}.pem")),
                      uid, lock_dirs)


def test_one_lock_per_directory_however_it_is_spelled(home):
    """Issue 20 item 7: the lock is the directory's (device and inode) and the file name's, not the path's."""
    real = home / "tmp"
    real.mkdir(mode=0o700)
    lock_dirs = (str(home / "locks"),)
    spellings = _spellings(real)
    assert len({_store(spelling).lock_name for spelling in spellings}) == 1
    other = home / "other"
    other.mkdir(mode=0o700)
    assert _store(str(other)).lock_name != _store(str(real)).lock_name  # another TMPDIR is another token
    renamed = _store(str(real))._replace(cert=Location("token certificate", "x", path=str(real / "mycert.pem")))
    assert renamed.lock_name != _store(str(real)).lock_name
    # The locks are one: while one spelling holds it, every other spelling is kept waiting.
    for first in spellings:
        with lock_store(_store(first, lock_dirs), 0):
            for second in spellings:
                with pytest.raises(LockTimeoutError):
                    with lock_store(_store(second, lock_dirs), 0):
                        pass
    with lock_store(_store(str(other), lock_dirs), 0), lock_store(_store(str(real), lock_dirs), 0):
        pass  # two directories: two locks, both held at once


def _public_key(cert: Path, key: Path) -> bool:
    """openssl's word on whether the key belongs to the certificate."""
    def pub(argv):
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    return pub(["openssl", "x509", "-noout", "-pubkey", "-in", str(cert)]) == \
        pub(["openssl", "pkey", "-pubout", "-in", str(key)])


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_concurrent_writers_through_different_spellings_never_mix_the_pair(svc, home):
    """Writers reaching one TMPDIR by six spellings, eight rounds: each says success and leaves a pair that
    openssl finds matching, with no temporary file left behind."""
    env = svc.env(home, JENV_TIMEOUT="30")
    real = Path(env["TMPDIR"])
    spellings = _spellings(real)
    cert_path, key_path = token_paths(env)
    for round_number in range(8):
        procs = [subprocess.Popen([sys.executable, "-m", "jenv", "token-init"], env=dict(env, TMPDIR=spelling),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL) for spelling in spellings]
        outputs = [proc.communicate(timeout=180) for proc in procs]
        for out, err in outputs:
            assert_no_key_printed(out, err)
        assert [proc.returncode for proc in procs] == [0] * len(spellings), (round_number, outputs)
        assert _public_key(cert_path, key_path), f"round {round_number}: a mixed pair"
        assert sorted(p.name for p in real.iterdir()) == sorted([cert_path.name, key_path.name]), round_number
