"""A signal between the two renames of a token write acts after both (issue 11.5).

strace holds ``token-init`` inside its first rename (the key's: it is already
in place on disk) for 3 s; the test sends SIGINT, SIGTERM or SIGHUP right
then.  Without the signals held, SIGINT raised KeyboardInterrupt before the
second rename and the cleanup removed the new certificate: a new key beside
the old certificate, beyond repair.  Now the pair is always the complete new
one, and the signal still ends jenv (130 for Ctrl-C, death by the signal for
the others).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support.tokenkit import run_jenv, token_paths, traced_jenv

STRACE = shutil.which("strace")
RENAMES = "rename,renameat,renameat2"


def _matches(cert_path: Path, key_path: Path) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    return cert.public_key().public_numbers() == key.public_key().public_numbers()


def _held(pid: int) -> bool:
    """Whether the process is stopped by its tracer right now (strace holding a syscall)."""
    try:
        return "t (tracing stop)" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _finished(tracer: subprocess.Popen) -> str:
    """How a run that was not caught in its window ended, for the failure message."""
    _, stderr = tracer.communicate(timeout=60)
    return f"exit {tracer.returncode}: {stderr.decode(errors='replace').strip()[-300:]}"


def _jenv_pid(tracer: subprocess.Popen) -> int:
    pid = traced_jenv(tracer)
    assert pid is not None, "strace started no jenv"
    return pid


@pytest.mark.skipif(STRACE is None and not os.environ.get("CI"), reason="strace is not installed")
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)  # file handling only: the CA plays no part
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_between_the_renames_acts_after_both(svc, home, signum):
    env = svc.env(home)
    assert run_jenv(["token-init"], env).returncode == 0
    cert_path, key_path = token_paths(env)
    old_key, old_cert = key_path.read_bytes(), cert_path.read_bytes()
    missed: list[str] = []
    for _attempt in range(3):  # a retry only when the machine was too slow to send the signal in the window
        # The token in place is judged now, so token-init's look at it finds its verdict remembered and
        # renames nothing of its own before the key (the first rename is the one held).
        assert run_jenv(["token", "--check"], env).returncode == 0
        tracer = subprocess.Popen([STRACE, "-f", "-qq", "-o", "/dev/null", "-e", f"trace={RENAMES}",
                                   "-e", f"inject={RENAMES}:delay_exit=3000000:when=1",
                                   sys.executable, "-m", "jenv", "token-init"],
                                  env=dict(env, PYTHONDONTWRITEBYTECODE="1"),  # no .pyc rename comes first
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        pid = _jenv_pid(tracer)
        deadline = time.monotonic() + 30
        while key_path.read_bytes() == old_key:  # the first rename has happened; jenv is held inside it
            assert time.monotonic() < deadline and tracer.poll() is None, "the key was never replaced"
            time.sleep(0.005)
        assert cert_path.read_bytes() == old_cert  # truly between the two renames
        try:
            os.kill(pid, signum)
            break
        except ProcessLookupError:  # jenv had already finished: the window was missed, not a failure of jenv
            missed.append(_finished(tracer))
            old_key, old_cert = key_path.read_bytes(), cert_path.read_bytes()
    else:
        pytest.fail(f"three times too slow to signal jenv inside the held rename: {missed}")
    _, stderr = tracer.communicate(timeout=60)
    if signum == signal.SIGINT:  # Ctrl-C: jenv's own "interrupted" exit, after the write
        assert tracer.returncode == 130, stderr
    else:  # the default action, after the write (strace dies the way its child died)
        assert tracer.returncode in (-signum, 128 + signum), (tracer.returncode, stderr)
    assert cert_path.read_bytes() != old_cert, "the second rename did not happen"
    assert _matches(cert_path, key_path)
    assert run_jenv(["token", "--min-valid", "1d"], env).returncode == 0  # usable as it is, no repair needed


#: The other steps of a token write where a signal may land: the n-th fsync of the run is held for 3 s.
#: 1: the temporary key was written; 2: the temporary certificate too; 4: both renames done (the
#: directory fsync after them; 3 is the one before the renames).
STEPS = {"temporary key written": 1, "temporary certificate written": 2, "after both renames": 4}


@pytest.mark.skipif(STRACE is None and not os.environ.get("CI"), reason="strace is not installed")
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_at_any_other_step_leaves_a_whole_pair(svc, home, step, signum):
    """Before the critical section a signal ends jenv with the old pair intact; after it, with the new
    one; never a mixed pair, and the next jenv token uses what is there without repair."""
    env = svc.env(home)
    assert run_jenv(["token-init"], env).returncode == 0
    cert_path, key_path = token_paths(env)
    tmp = cert_path.parent
    missed: list[str] = []
    for _attempt in range(3):  # a retry only when the loaded machine missed the held window
        old = (cert_path.read_bytes(), key_path.read_bytes())
        tracer = subprocess.Popen([STRACE, "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                                   "-e", f"inject=fsync:delay_exit=5000000:when={STEPS[step]}",
                                   sys.executable, "-m", "jenv", "token-init"],
                                  env=dict(env, PYTHONDONTWRITEBYTECODE="1"),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        pid = _jenv_pid(tracer)
        if STEPS[step] == 4:
            ready = lambda: key_path.read_bytes() != old[1] and cert_path.read_bytes() != old[0]  # noqa: E731
        else:
            wanted = ".tokenkey_" if STEPS[step] == 1 else ".tokencert_"
            ready = lambda: any(p.name.startswith(wanted) for p in tmp.iterdir())  # noqa: E731
        while tracer.poll() is None and not (ready() and _held(pid)):  # at the step, held inside its fsync
            time.sleep(0.005)
        if tracer.poll() is None:
            os.kill(pid, signum)
            tracer.communicate(timeout=60)
            break
        missed.append(_finished(tracer))
    else:
        pytest.fail(f"three times too slow to signal jenv inside the held fsync: {missed}")
    now = (cert_path.read_bytes(), key_path.read_bytes())
    assert _matches(cert_path, key_path), "a mixed pair"
    if STEPS[step] == 4:
        assert now != old
    else:
        assert now == old  # the old token, byte for byte
    assert run_jenv(["token", "--min-valid", "1d"], env).returncode == 0
