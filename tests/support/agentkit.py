"""Helpers of the agent tests: start an agent at a terminal, ask it, wait for it, stop it for sure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

from support.launcher import run_on_pty, scan

PASSPHRASE = b"agent passphrase 7 words long"
JENV = [sys.executable, "-m", "jenv"]


def encrypted_key(svc, directory: Path) -> Path:
    """jdoe's user key, encrypted with PASSPHRASE, as a 0400 file in ``directory``."""
    from support.service import encrypted_user_key

    return encrypted_user_key(svc.user_files("jdoe")[1], directory / "userkey.pem", PASSPHRASE, 0o400)


def token_paths(env: Dict[str, str]):
    """The default token files of this uid under the environment's TMPDIR."""
    tmp = Path(env["TMPDIR"])
    return tmp / f"tokencert_{os.getuid()}.pem", tmp / f"tokenkey_{os.getuid()}.pem"


def jenv(args: Sequence[str], env: Dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """``jenv <args>`` as a process with no terminal, scanned."""
    proc = subprocess.run([*JENV, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, start_new_session=True)
    scan(proc.args, proc.stdout, proc.stderr)
    return proc


def status(env: Dict[str, str]) -> Optional[dict]:
    """The agent's status (None when no agent answers: exit 12)."""
    proc = jenv(["agent", "status", "--json"], env)
    if proc.returncode == 12:
        return None
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_for(check: Callable[[], object], timeout: float, step: float = 0.2):
    """``check()``'s first true value within ``timeout`` seconds (AssertionError when none came)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {check}")
        time.sleep(step)


def alive(pid: int) -> bool:
    """The process runs (a zombie waiting for its parent counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/status").read_text().split("\n")
    except OSError:
        return False
    return not any(line.startswith("State:") and "Z" in line.split()[1] for line in fields)


def proc_status(pid: int) -> Dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {name: value.strip() for name, _sep, value in (line.partition(":") for line in lines)}


@dataclass
class AgentRun:
    """A started agent: its pid and the environment that reaches it."""

    pid: int
    env: Dict[str, str]

    def kill(self) -> None:
        """Stop it through its socket; kill it if it does not go (never leave an agent behind)."""
        if alive(self.pid):
            jenv(["agent", "stop"], self.env)
            try:
                wait_for(lambda: not alive(self.pid), 10)
            except AssertionError:
                os.kill(self.pid, signal.SIGKILL)


def start(env: Dict[str, str], agents: list, *options: str, answer: bytes = PASSPHRASE, prefix: Sequence[str] = ()):
    """``jenv agent start --stay <options>`` at a terminal, the passphrase typed; (the pty result, the
    AgentRun when it started one)."""
    result = run_on_pty([*prefix, *JENV, "agent", "start", "--stay", *options], env, [answer], timeout=60)
    run = None
    if result.returncode == 0:
        found = status(env)
        if found is not None:
            run = AgentRun(found["pid"], env)
            agents.append(run)
    return result, run
