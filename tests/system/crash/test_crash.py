"""Crash safety (issue 5 item 3): SIGKILL during token-init never leaves a broken or mixed pair.

Each trial starts ``jenv token-init`` and kills it after a delay spread over
the whole run, with most delays near the end where the files are written.
Right after the kill the pair on disk must be the complete old token or the
complete new one (matching, 0400, ours).  The one state in between that two
files can be in - new key renamed, new certificate still in its fsync-ed
temporary file - is accepted only together with that temporary file, and
the next jenv run must then complete it without asking JCentral.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support.tokenkit import run_jenv, token_paths, traced_jenv

TRIALS_PER_LANE = 28
LANES = 2


def _pair_state(cert_path: Path, key_path: Path):
    cert_bytes, key_bytes = cert_path.read_bytes(), key_path.read_bytes()
    for path in (cert_path, key_path):
        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o400 and st.st_uid == os.getuid()
    cert = x509.load_pem_x509_certificate(cert_bytes)
    key = serialization.load_pem_private_key(key_bytes, None)
    return cert_bytes, key_bytes, cert.public_key().public_numbers() == key.public_key().public_numbers()


def _leftovers(tmp: Path, cert_path: Path, key_path: Path):
    keep = {cert_path.name, key_path.name, f"jenv-token-{os.getuid()}.lock"}
    return sorted(p.name for p in tmp.iterdir() if p.name not in keep)


#: strace stretches every fsync by 40 ms so that kills land inside the write phase too (real
#: processes, real files, no hook in jenv); without strace every lane uses plain timing.
STRACE = shutil.which("strace")
FSYNC_DELAY = 0.04


def _start(env, traced: bool) -> "tuple[subprocess.Popen, float]":
    prefix = [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
              "-e", f"inject=fsync:delay_exit={int(FSYNC_DELAY * 1e6)}"] if traced else []
    proc = subprocess.Popen(prefix + [sys.executable, "-m", "jenv", "token-init"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, time.time()


def _kill(proc: subprocess.Popen, traced: bool) -> None:
    """SIGKILL jenv itself (under strace: the tracer's child)."""
    pid = proc.pid
    if traced:  # not yet started (or already gone): the tracer itself
        pid = traced_jenv(proc, wait=0) or pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=60)


def _write_offset(env, key_path: Path, traced: bool) -> float:
    """Seconds from starting token-init to the key file's rename (its mtime): where to aim."""
    proc, started = _start(env, traced)
    assert proc.wait(timeout=60) == 0
    return os.stat(key_path).st_mtime - started


def _delay(trial: int, aim: float, traced: bool) -> float:
    """Plain: every 7th trial anywhere in the run, the others from 80 % to 125 % of the write offset.

    Traced: across the write phase (four slowed fsyncs before the renames) and just after it.
    """
    spread = (trial * 0.618034) % 1.0  # golden-ratio steps: evenly spread, no two alike
    if traced:
        return max(0.0, aim - 4.5 * FSYNC_DELAY + spread * 5.5 * FSYNC_DELAY)
    return aim * spread if trial % 7 == 0 else aim * (0.8 + 0.45 * spread)


def _lane(svc, home: Path, traced: bool) -> Counter:
    env = svc.env(home, JENV_TIMEOUT="20")  # a loaded machine must not turn into a network error
    tmp = Path(env["TMPDIR"])
    cert_path, key_path = token_paths(env)
    aim = min(_write_offset(env, key_path, traced) for _ in range(2))
    old_cert, old_key, matches = _pair_state(cert_path, key_path)
    assert matches
    outcomes: Counter = Counter()
    for trial in range(TRIALS_PER_LANE):
        proc, _ = _start(env, traced)
        delay = _delay(trial, aim, traced)
        time.sleep(delay)
        _kill(proc, traced)
        cert_bytes, key_bytes, matches = _pair_state(cert_path, key_path)
        leftovers = _leftovers(tmp, cert_path, key_path)
        assert len(leftovers) <= 3, leftovers  # at most one killed run's files, never an accumulation
        outcomes["temporary files left"] += bool(leftovers)
        if matches and (cert_bytes, key_bytes) == (old_cert, old_key):
            outcomes["old"] += 1
        elif matches:
            assert cert_bytes != old_cert and key_bytes != old_key
            outcomes["new"] += 1
        else:  # killed between the two renames: the new certificate waits, complete, next to them
            assert key_bytes != old_key and cert_bytes == old_cert
            assert any(name.startswith(f".{cert_path.name}.jenv-") for name in leftovers), leftovers
            outcomes["between renames"] += 1
            requests = svc.token_requests
            assert run_jenv(["token"], env).returncode == 0
            assert svc.token_requests == requests
            cert_bytes, key_bytes, matches = _pair_state(cert_path, key_path)
            assert matches and key_bytes != old_key
        # follow the machine's speed: a late kill that found the old pair means the write comes later
        new = (cert_bytes, key_bytes) != (old_cert, old_key)
        if not new and delay >= aim:
            aim *= 1.1
        elif new and delay <= aim:
            aim *= 0.95
        old_cert, old_key = cert_bytes, key_bytes
    assert run_jenv(["token-init"], env).returncode == 0  # the next write cleans what the last kill left
    assert _leftovers(tmp, cert_path, key_path) == []
    return outcomes


# File handling and locking only, where the CA plays no part: once, with the suite's test CA (the
# serial-0 twin runs every token test that reads, verifies or receives a certificate).
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_sigkill_during_token_init_leaves_old_or_new_pair(svc, tmp_path):
    with ThreadPoolExecutor(LANES) as pool:
        lanes = [pool.submit(_lane, svc, tmp_path / f"lane{index}", bool(STRACE) and index == 1)
                 for index in range(LANES)]
        outcomes = sum((lane.result() for lane in lanes), Counter())
    print(f"{LANES * TRIALS_PER_LANE} kills: {dict(outcomes)}")
    assert outcomes["old"] > 0 and outcomes["new"] > 0, outcomes
    if STRACE:  # some kills really landed inside the write phase
        assert outcomes["temporary files left"] > 0, outcomes
