"""A lock wait that times out says so (issue 23 item 4): its own message and exit code, never "JCentral
unreachable", and it is not remembered as a failure of JCentral.

Another process really holds the token files' lock (``flock`` on the lock file jenv computes for that
store), so the wait is the real one; jenv runs in-process (nothing here prompts or changes process state).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Dict, Iterator

import pytest

from jenv.context import Context
from jenv.errors import ExitCode
from jenv.tokens.check import token_store
from jenv.tokens.store import lock_directory
from support.tokenkit import run_in_process, token_paths

pytestmark = pytest.mark.slow  # jenv, agents or commands as processes


def _lock_path(env: Dict[str, str]) -> str:
    ctx = Context(env, os.getuid(), env["HOME"])
    _locs, store = token_store(ctx)
    os.makedirs(lock_directory(store), exist_ok=True)
    return os.path.join(lock_directory(store), store.lock_name)


@pytest.fixture
def held(svc, home) -> Iterator[tuple]:
    """(env, the lock file, the holding process): another process holds the lock until the test ends."""
    env = svc.env(home, JENV_TIMEOUT="0.5", JENV_RETRY_AFTER="2m")  # the lock wait: 2 * 0.5 + 5 s
    path = _lock_path(env)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys
        fd = os.open({path!r}, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        yield env, path, holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_lock_held_too_long_has_its_own_message_and_code(svc, held):
    env, path, holder = held
    before = svc.token_requests
    result = run_in_process(["token", "--shell", "sh"], env)
    assert result.returncode == ExitCode.LOCKED == 14, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stdout == ""
    assert path in lines[0] and f"pid {holder.pid} (" in lines[0], lines[0]
    assert "JCentral" not in lines[0] and "unreachable" not in lines[0]
    assert svc.token_requests == before  # the renewal waits for the lock before it asks JCentral
    assert not token_paths(env)[0].exists()


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_lock_wait_is_not_remembered_as_a_failure_of_jcentral(svc, held):
    """The login after the holder is done asks JCentral at once (JENV_RETRY_AFTER remembers JCentral's
    failures only)."""
    env, _path, holder = held
    assert run_in_process(["token", "--shell", "sh"], env).returncode == ExitCode.LOCKED
    holder.stdin.close()
    holder.wait(timeout=30)
    result = run_in_process(["token", "--shell", "sh"], env)
    assert result.returncode == 0, result.stderr
    assert "JALIEN_TOKEN_CERT" in result.stdout


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_free_lock_is_taken_at_once(svc, home):
    """The twin: the same store with nobody holding its lock gets its token."""
    env = svc.env(home, JENV_TIMEOUT="0.5")
    _lock_path(env)
    result = run_in_process(["token", "--shell", "sh"], env)
    assert result.returncode == 0, result.stderr
