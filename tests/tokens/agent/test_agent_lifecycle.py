"""``jenv agent`` as a process (it daemonizes, asks at a terminal, holds a socket): start, status,
renew-now, stop, one agent per user and host, the passphrase checked before it starts, the service
file."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from support.agentkit import JENV, PASSPHRASE, alive, jenv, start, status, token_paths, wait_for

pytestmark = pytest.mark.slow


def _log(env) -> str:
    logs = list(Path(env["XDG_RUNTIME_DIR"]).glob("agent-*.log"))
    assert len(logs) == 1, logs
    return logs[0].read_text()


def test_start_renews_reports_and_stops(env, agents):
    result, run = start(env, agents, "--min-valid=2s")
    assert result.returncode == 0, result.output
    assert result.output.count("Passphrase for") == 1 and PASSPHRASE.decode() not in result.output
    assert "agent started" in result.output and run is not None
    first = wait_for(lambda: (status(env) or {}).get("last_success"), 15)
    cert_path, key_path = token_paths(env)
    assert cert_path.exists() and stat.S_IMODE(key_path.stat().st_mode) == 0o400
    # The socket and the log are the user's alone.
    runtime = Path(env["XDG_RUNTIME_DIR"])
    sock = next(runtime.glob("agent-*.sock"))
    assert stat.S_ISSOCK(sock.lstat().st_mode) and stat.S_IMODE(sock.lstat().st_mode) == 0o600
    assert stat.S_IMODE(next(runtime.glob("agent-*.log")).stat().st_mode) == 0o600
    # A second start asks nothing and names the running agent.
    again = jenv(["agent", "start", "--stay"], env)
    assert again.returncode == 0 and f"pid {run.pid}" in again.stderr and "already runs" in again.stderr
    # It renews by itself (12-second tokens: at about 8 s), and at once when asked.
    second = wait_for(lambda: (status(env) or {}).get("last_success", {}).get("time", 0) > first["time"]
                      and status(env)["last_success"], 20)
    assert second["valid_until"] > first["valid_until"]
    now = jenv(["agent", "renew-now", "--json"], env)
    assert now.returncode == 0, now.stderr
    text = jenv(["agent", "status"], env)
    assert text.returncode == 0 and "last success:" in text.stdout and "next try:" in text.stdout
    assert "not dumpable" in text.stdout
    if os.geteuid() == 0:  # root may lock it all (CAP_IPC_LOCK); a limited user: tests/tokens/agent/test_agent_guard.py
        assert "memory: all memory locked (mlockall)" in text.stdout
    stop = jenv(["agent", "stop"], env)
    assert stop.returncode == 0 and "stops" in stop.stderr
    wait_for(lambda: not alive(run.pid), 10)
    assert not sock.exists()
    gone = jenv(["agent", "status"], env)
    assert gone.returncode == 12 and gone.stdout == "" and "no jenv agent runs" in gone.stderr
    assert [line for line in _log(env).splitlines() if "renewed the token" in line][2:]
    assert PASSPHRASE.decode() not in _log(env)


def test_a_wrong_passphrase_or_no_terminal_starts_nothing(env, agents):
    result, run = start(env, agents, answer=b"not the passphrase")
    assert result.returncode == 11 and "wrong passphrase" in result.output and run is None
    proc = jenv(["agent", "start"], env)
    assert proc.returncode == 11 and "no terminal" in proc.stderr
    assert status(env) is None
    assert not list(Path(env["XDG_RUNTIME_DIR"]).glob("agent-*.sock"))
    assert not token_paths(env)[0].exists()


def test_ttl_ends_the_agent(env, agents):
    result, run = start(env, agents, "--ttl=3s")
    assert result.returncode == 0 and run is not None, result.output
    wait_for(lambda: not alive(run.pid), 15)
    assert "stopping: its --ttl is over" in _log(env)


def test_the_agent_ends_with_its_login_session(env, agents, tmp_path):
    """Without --stay the agent watches the session that started it: the shell's end ends it."""
    from support.launcher import run_on_pty

    script = f"{' '.join(JENV)} agent start; echo rc=$?"
    result = run_on_pty(["/bin/sh", "-c", script], env, [PASSPHRASE], timeout=60)
    assert "rc=0" in result.output, result.output
    log = _log(env)
    pid = int(log.split("started (pid ")[1].split(",")[0])
    wait_for(lambda: not alive(pid), 15)
    assert "the login session ended" in _log(env)


def test_systemd_unit_is_written_and_removed(env, home):
    env = dict(env, TMPDIR=env["TMPDIR"] + "/%h")
    proc = jenv(["agent", "install", "--systemd"], env)
    assert proc.returncode == 0, proc.stderr
    unit = home / ".config" / "systemd" / "user" / "jenv-agent.service"
    text = unit.read_text()
    assert "agent start --foreground --stay" in " ".join(word.strip('"') for word in text.split())
    assert f'Environment="TMPDIR={env["TMPDIR"].replace("%", "%%")}"' in text
    assert "systemctl --user enable --now jenv-agent.service" in proc.stderr
    if shutil.which("systemd-analyze"):  # systemd's own reading of the unit: no unknown key, a runnable command
        verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0 and "Unknown" not in verify.stderr, verify.stderr
    removed = jenv(["agent", "install", "--systemd", "--remove"], env)
    assert removed.returncode == 0 and not unit.exists()


def test_a_user_certificate_near_its_end_is_said_as_the_login_says_it(svc, world, home, agents):
    """A user certificate with 10 days left (an unencrypted key: no terminal needed): the agent's status
    and log carry the login's notice, and the login still shows it (the agent keeps its own memory)."""
    from support.agentkit import AgentRun
    from support.service import USERS, write_credential

    identity = write_credential(world.authority.issue_user(USERS["jdoe"][0], days=10), home / "short")
    env = svc.env(home, X509_USER_CERT=identity.cert.path, X509_USER_KEY=identity.key.path)
    started = jenv(["agent", "start", "--stay"], env)
    assert started.returncode == 0, started.stderr
    found = wait_for(lambda: (status(env) or {}).get("user_cert_notice"), 15)
    agents.append(AgentRun(status(env)["pid"], env))
    assert "expires in 9d" in found and identity.cert.path in found
    assert "notice: your user certificate" in jenv(["agent", "status"], env).stdout
    assert found in _log(env)
    login = jenv(["token"], env)
    assert login.returncode == 0 and "expires in 9d" in login.stderr


def test_jenv_token_asks_the_agent_for_its_own_token_files_only(env, agents, home):
    """With no usable token and no terminal, ``jenv token`` gets the token through the running agent
    (found at its fixed place: no variable); for other token files, or once the agent is gone, it is
    today's behaviour (a passphrase is needed: exit 11)."""
    result, run = start(env, agents, "--min-valid=2s")
    assert result.returncode == 0 and run is not None, result.output
    wait_for(lambda: (status(env) or {}).get("last_success"), 15)
    assert jenv(["token-destroy"], env).returncode == 0
    cert_path, _key = token_paths(env)
    login = jenv(["token", "--min-valid=2s"], env)  # the service's tokens last 12 s
    assert login.returncode == 0, login.stderr
    assert str(cert_path) in login.stdout and "Passphrase" not in login.stderr and cert_path.exists()
    elsewhere = home / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    other = jenv(["token", "--min-valid=2s"], dict(env, TMPDIR=str(elsewhere)))
    assert other.returncode == 11 and "no terminal" in other.stderr
    assert jenv(["agent", "stop"], env).returncode == 0
    wait_for(lambda: not alive(run.pid), 10)
    assert jenv(["token-destroy"], env).returncode == 0
    gone = jenv(["token", "--min-valid=2s"], env)
    assert gone.returncode == 11 and "no terminal" in gone.stderr


def test_renewals_keep_the_role_of_the_token_in_the_files(svc, home, agents):
    """After 'jenv user <role> token-init' the agent renews that role's token, not the user's own
    (an unencrypted key: the agent holds no passphrase)."""
    import json

    from support.agentkit import AgentRun

    env = svc.env(home)
    assert jenv(["agent", "start", "--stay", "--min-valid=2s"], env).returncode == 0
    agents.append(AgentRun(wait_for(lambda: status(env), 15)["pid"], env))
    assert wait_for(lambda: status(env)["passphrase_held"] is False and status(env)["last_success"], 15)
    assert jenv(["user", "alicepr", "token-init"], env).returncode == 0
    before = status(env)["last_success"]["time"]
    assert jenv(["agent", "renew-now"], env).returncode == 0
    assert status(env)["last_success"]["time"] > before
    whoami = json.loads(jenv(["whoami", "--json"], env).stdout)
    assert (whoami["user"], whoami["role"]) == ("jdoe", "alicepr")
