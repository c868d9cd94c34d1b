"""How the agent keeps its secret and its socket (issue 25.1, 25.3, 25.6), seen from outside the process:

* strace of a whole agent run (the passphrase typed, renewals, the end) shows no write, send or
  pwrite of the passphrase or of the user key, in any process it starts;
* an agent of another user (uid 4243, under ``setpriv``) has locked memory (VmLck > 0 in
  /proc/<pid>/status) and is not dumpable (the kernel then gives its /proc files to root; the agent
  says so in its status too);
* its socket answers only its uid: a third uid cannot even reach it (0700 directory), and root, who
  can, is refused by the peer check (SO_PEERCRED) and logged.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

from support.agentkit import JENV, PASSPHRASE, alive, wait_for
from support.launcher import REPO, run_on_pty, scan
from support.service import encrypted_user_key
from support.users import SETPRIV, run_as

pytestmark = pytest.mark.slow

AGENT_UID, OTHER_UID = 4243, 4242


def _plain_key_lines(svc) -> list:
    """The user key's body lines, as the plain PEM and the DER base64 would hold them (64 characters)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(svc.user_files("jdoe")[1]).read_bytes(), None)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    text = base64.b64encode(der).decode()
    return [text[i:i + 64] for i in range(0, len(text) - 64, 64)]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_strace_sees_no_write_of_the_passphrase_or_the_user_key(env, svc, home):
    trace = home / "strace.out"
    argv = ["strace", "-f", "-qq", "-o", str(trace), "-s", "1000000",
            "-e", "trace=write,writev,pwrite64,pwritev,pwritev2,sendto,sendmsg,sendmmsg",
            *JENV, "agent", "start", "--foreground", "--ttl=14s", "--min-valid=2s"]
    result = run_on_pty(argv, env, [PASSPHRASE], timeout=90)
    if result.returncode != 0 and "ptrace" in result.output:
        pytest.skip(f"strace cannot trace here: {result.output.strip()}")
    assert result.returncode == 0, result.output
    log = next(Path(env["XDG_RUNTIME_DIR"]).glob("agent-*.log")).read_text()
    assert log.count("renewed the token") >= 2, log  # it did work while traced
    lines = trace.read_text().splitlines()
    assert any("BEGIN" in line for line in lines)  # the token files were written: the trace sees writes
    assert not [line for line in lines if PASSPHRASE.decode() in line]
    encrypted = Path(env["X509_USER_KEY"]).read_text().splitlines()[1:-1]
    for body in _plain_key_lines(svc) + encrypted:
        assert not [line for line in lines if body in line], "a write holds the user key"


@pytest.fixture
def other_home(svc):
    """A home of uid 4243 in a directory others may traverse: credentials (encrypted key), the CA store, a
    private runtime directory and TMPDIR."""
    base = Path(tempfile.mkdtemp(prefix="jenv-agent-", dir="/tmp"))
    try:
        base.chmod(0o755)
        home = base / "home"
        (home / ".globus").mkdir(parents=True)
        shutil.copy(svc.user_files("jdoe")[0], home / ".globus" / "usercert.pem")
        encrypted_user_key(svc.user_files("jdoe")[1], home / ".globus" / "userkey.pem", PASSPHRASE, 0o400)
        shutil.copytree(svc.ca_dir, home / "certificates", symlinks=True)
        for name in ("run", "tmp"):
            (home / name).mkdir(mode=0o700)
        for path in [home, *home.rglob("*")]:
            os.lchown(path, AGENT_UID, AGENT_UID)
        home.chmod(0o755)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(home / "tmp"),
               "LANG": "C.UTF-8", "JENV_TIMEOUT": "15", "XDG_RUNTIME_DIR": str(home / "run"),
               "X509_CERT_DIR": str(home / "certificates"), "ALIENPY_JCENTRAL": svc.host,
               "ALIENPY_JCENTRAL_PORT": str(svc.port), "PYTHONPATH": str(REPO)}
        yield home, env
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0 or SETPRIV is None, reason="needs root and setpriv to become other users")
def test_another_users_agent_is_locked_undumpable_and_answers_only_its_uid(other_home):
    home, env = other_home
    as_agent = [SETPRIV, f"--reuid={AGENT_UID}", f"--regid={AGENT_UID}", "--clear-groups"]
    result = run_on_pty([*as_agent, *JENV, "agent", "start", "--stay"], env, [PASSPHRASE], timeout=60)
    assert result.returncode == 0, result.output
    log = home / "run" / f"agent-{socket.gethostname().split('.')[0]}.log"
    pid = int(log.read_text().split("started (pid ")[1].split(",")[0])
    try:
        wait_for(lambda: "renewed the token" in log.read_text(), 20)
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        assert status["Uid"].split()[0] == str(AGENT_UID)
        assert int(status["VmLck"].split()[0]) > 0, status["VmLck"]
        # Not dumpable: the kernel hands the /proc files of the process to root.
        assert os.stat(f"/proc/{pid}/status").st_uid == 0
        asked = run_as(AGENT_UID, [*JENV, "agent", "status", "--json"], env)
        scan(asked.args, asked.stdout, asked.stderr)
        assert asked.returncode == 0, asked.stderr
        assert '"dumpable": false' in asked.stdout and '"passphrase_held": true' in asked.stdout
        import json
        import resource

        memory = json.loads(asked.stdout)["memory"]
        if resource.getrlimit(resource.RLIMIT_MEMLOCK)[0] == resource.RLIM_INFINITY:
            assert memory.startswith("all memory locked"), memory
        else:  # the limit is the user's: only the page, and the agent says why
            assert "only the passphrase page is locked: RLIMIT_MEMLOCK is" in memory, memory
            assert memory.endswith("the passphrase page is locked"), memory
        sock = str(home / "run" / log.name.replace(".log", ".sock"))
        # A third uid cannot reach the socket at all.
        probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); "
                 "s.connect(sys.argv[1]); s.sendall(b'{\"op\": \"stop\"}\\n'); print(repr(s.recv(100)))")
        other = run_as(OTHER_UID, [sys.executable, "-c", probe, sock], env)
        assert other.returncode != 0 and "PermissionError" in other.stderr, other.stderr
        # Root can reach it, and is refused by the peer check.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(sock)
            try:
                client.sendall(b'{"op": "stop"}\n')
                answer = client.recv(100)
            except (BrokenPipeError, ConnectionResetError):  # closed before, or with, the request unread
                answer = b""
            assert answer == b""
        wait_for(lambda: "refused a connection from uid 0" in log.read_text(), 10)
        assert alive(pid)  # neither of them stopped it
        stop = run_as(AGENT_UID, [*JENV, "agent", "stop"], env)
        assert stop.returncode == 0, stop.stderr
        wait_for(lambda: not alive(pid), 10)
    finally:
        if alive(pid):
            os.kill(pid, 9)
    assert PASSPHRASE.decode() not in log.read_text()
