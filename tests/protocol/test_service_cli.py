"""`jenv sandbox` and `jenv serve` as a user runs them (real subprocesses, real TLS)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jenv.jcentral.client import ClientIdentity, fetch_token
from jenv.locations import CAStore, Endpoint, Location
from jenv.jcentral.protocol import TokenRequest

REPO = Path(__file__).resolve().parents[2]
SEEN = ("X509_USER_CERT", "X509_USER_KEY", "X509_CERT_DIR", "ALIENPY_JCENTRAL", "ALIENPY_JCENTRAL_PORT",
        "TMPDIR", "JALIEN_TOKEN_CERT", "JALIEN_TOKEN_KEY")
PRINT_ENV = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {SEEN!r}}}))"


@pytest.fixture
def env(root, home, tmp_path):
    """A clean environment with a `jenv` command on PATH and a (fake) real token set."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "jenv"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m jenv \"$@\"\n")
    shim.chmod(0o755)
    return root.clean_env(home, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHONPATH=str(REPO),
                          JALIEN_TOKEN_CERT="/real/tokencert.pem", JALIEN_TOKEN_KEY="/real/tokenkey.pem")


def test_sandbox_runs_the_command_with_its_environment(root, env):
    result = root.run_jenv(["sandbox", "--", sys.executable, "-c", PRINT_ENV], env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    sandbox = Path(seen["X509_CERT_DIR"]).parent
    assert seen["X509_USER_CERT"] == str(sandbox / "globus" / "usercert.pem")
    assert seen["X509_USER_KEY"] == str(sandbox / "globus" / "userkey.pem")
    assert seen["TMPDIR"] == str(sandbox / "tmp")
    assert seen["ALIENPY_JCENTRAL"] == "127.0.0.1" and int(seen["ALIENPY_JCENTRAL_PORT"]) > 0
    assert seen["JALIEN_TOKEN_CERT"] is None and seen["JALIEN_TOKEN_KEY"] is None  # real token hidden
    assert f"local service on 127.0.0.1:{seen['ALIENPY_JCENTRAL_PORT']}" in result.stderr
    assert not sandbox.exists()  # the throwaway directory is gone


def test_sandbox_exit_status_is_the_commands(root, env):
    assert root.run_jenv(["sandbox", "--", sys.executable, "-c", "raise SystemExit(7)"], env).returncode == 7
    assert root.run_jenv(["sandbox", "--", "/no/such/program"], env).returncode == 127


def test_quick_start_command_of_the_readme(root, env):
    result = root.run_jenv(["sandbox", "--", "sh", "-c", 'eval "$(jenv token)" && jenv token-info'], env)
    assert result.returncode == 0, result.stderr
    assert "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe" in result.stdout + result.stderr


def test_sandbox_dir_is_kept_private_and_reused(root, env, tmp_path):
    directory = tmp_path / "sb"
    first = root.run_jenv(["sandbox", "--dir", str(directory), "--user", "alice", "--",
                           sys.executable, "-c", PRINT_ENV], env)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(directory / "globus" / "userkey.pem").st_mode) == 0o400
    assert stat.S_IMODE(os.stat(directory / "ca" / "cakey.pem").st_mode) == 0o400
    verify = subprocess.run(["openssl", "verify", "-CApath", str(directory / "certificates"),
                             str(directory / "globus" / "usercert.pem")], capture_output=True, text=True)
    assert verify.stdout.strip().endswith(": OK"), verify.stderr
    ca_before = (directory / "ca" / "cacert.pem").read_bytes()
    second = root.run_jenv(["sandbox", "--dir", str(directory), "--", sys.executable, "-c", PRINT_ENV], env)
    assert second.returncode == 0 and (directory / "ca" / "cacert.pem").read_bytes() == ca_before
    assert "CN=alice" in second.stderr


def test_sandbox_without_command_prints_exports_and_serves(env, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "jenv", "--shell", "sh", "sandbox", "--dir",
                             str(tmp_path / "sb")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        lines = [proc.stdout.readline() for _ in range(8)]
        assert any(line.startswith("export ALIENPY_JCENTRAL_PORT=") for line in lines), lines
        assert any(line.startswith("unset JALIEN_TOKEN_CERT") for line in lines), lines
        assert proc.poll() is None  # still serving
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err


def test_serve_with_ready_file_and_log(env, tmp_path):
    directory, ready, log = tmp_path / "svc", tmp_path / "ready", tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "jenv", "serve", "--dir", str(directory), "--ready-file",
                             str(ready), "--log", str(log)], env=env, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        port = int(ready.read_text())
        identity = ClientIdentity(Location("user certificate", "test", path=str(directory / "globus/usercert.pem")),
                                  Location("user key", "test", path=str(directory / "globus/userkey.pem")))
        pair = fetch_token(Endpoint("127.0.0.1", port, "test"), identity,
                           CAStore(str(directory / "certificates"), "dir", "test"), 5, TokenRequest(), print)
        assert pair.key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
    assert f"serving JCentral protocol on 127.0.0.1:{port}" in err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["command"], r["exitcode"]) for r in records] == [("token", 0)]


def test_serve_on_a_busy_port_is_one_line_and_creates_nothing(root, env, tmp_path):
    """Issue 11.9: a busy port is a usage error (exit 2) named with the fix, before any file is made."""
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        result = root.run_jenv(["serve", "--dir", str(tmp_path / "svc"), "--port", str(port)], env)
    finally:
        busy.close()
    assert result.returncode == 2 and "is already in use" in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "svc").exists()


@pytest.mark.parametrize("command", ["serve", "sandbox"])
@pytest.mark.parametrize("where", ["file", "proc"])
def test_a_dir_that_cannot_hold_the_files_is_one_line(root, env, tmp_path, command, where):
    target = tmp_path / "a-file" if where == "file" else Path("/proc/jenv-test-dir")
    if where == "file":
        target.write_text("")
    args = [command, "--dir", str(target)] + (["--", "true"] if command == "sandbox" else [])
    result = root.run_jenv(args, env, timeout=30)
    assert result.returncode == 3, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "internal error" not in result.stderr
    assert ("is a file" if where == "file" else "pseudo filesystem") in result.stderr


def test_sandbox_says_passphrase_and_user_do_not_apply_to_an_existing_dir(root, env, tmp_path):
    box = tmp_path / "box"
    assert root.run_jenv(["sandbox", "--dir", str(box), "--", "true"], env).returncode == 0
    # No terminal here: were the passphrase still asked, this would fail with exit 11.
    result = root.run_jenv(["sandbox", "--dir", str(box), "--passphrase", "--user", "other", "--", "true"], env)
    assert result.returncode == 0, result.stderr
    assert "apply only when one is created" in result.stderr
