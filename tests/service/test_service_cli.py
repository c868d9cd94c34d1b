"""`jenv sandbox` and `jenv serve` as a user runs them (real subprocesses, real TLS)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jenv.errors import ServerRefusedError
from jenv.jcentral.client import ClientIdentity, fetch_token
from jenv.locations import CAStore, Endpoint, Location
from jenv.jcentral.protocol import TokenRequest

pytestmark = pytest.mark.slow

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


def test_the_sandbox_passes_the_name_check_whatever_name_the_login_file_expects(root, env):
    """Issue 21.1: the sandbox's service presents a certificate for 127.0.0.1 and localhost; a
    JENV_JCENTRAL_NAME set for the real JCentral does not reach the command."""
    real = dict(env, JENV_JCENTRAL_NAME="alice-jcentral.cern.ch")
    script = 'jenv token-init && ALIENPY_JCENTRAL=localhost jenv token-init && echo "name=${JENV_JCENTRAL_NAME-unset}"'
    result = root.run_jenv(["sandbox", "--", "sh", "-c", script], real)
    assert result.returncode == 0, result.stderr
    assert "name=unset" in result.stdout


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
    # Reused without --user or --passphrase: no word about options that were not given.
    assert "holds a sandbox already" not in second.stderr, second.stderr


def test_sandbox_without_command_prints_exports_and_serves(env, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "jenv", "--shell", "sh", "sandbox", "--dir",
                             str(tmp_path / "sb")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        lines = [proc.stdout.readline() for _ in range(10)]
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


# --- the manual names the sandbox's accounts (tests/system/docs/test_doc_blocks.py runs its examples) -------

README = REPO / "docs" / "manual.md"  # the manual, where the README's sections moved


def test_the_readme_names_the_sandbox_accounts_it_has(root, env):
    result = root.run_jenv(["sandbox", "--", "true"], env)
    assert result.returncode == 0, result.stderr
    line = result.stderr.splitlines()[1]
    assert re.fullmatch(r"jenv: accounts in /\S+/users\.json: jdoe \(roles jdoe, alicepr, vobox\) = X509_USER_CERT; "
                        r"jadmin \(roles jadmin, admin\) \(--admin runs the command as jadmin\)", line), line
    text = README.read_text()
    assert "`jdoe`, `alicepr` and\n  `vobox`" in text and "`jadmin` and\n  `admin`" in text
    admin = root.run_jenv(["sandbox", "--admin", "--", sys.executable, "-c", PRINT_ENV], env)
    assert admin.returncode == 0, admin.stderr
    seen = json.loads(admin.stdout)
    assert seen["X509_USER_CERT"].endswith("/admin/usercert.pem") and seen["TMPDIR"].endswith("/admin/tmp")
    assert "jadmin (roles jadmin, admin) = X509_USER_CERT" in admin.stderr


# --- serve --dir: a directory assembled by hand ------------------------------------------------------

@pytest.fixture
def assembled(tmp_path):
    """A service directory made from a TestCA of tests/support/pki.py, as the README's table lists it."""
    from support.pki import TestCA

    ca = TestCA("/C=ch/O=Example/CN=Example Test CA")
    directory = tmp_path / "svc"
    (directory / "ca").mkdir(parents=True)
    (directory / "ca" / "cacert.pem").write_bytes(ca.cert_pem)
    (directory / "ca" / "cakey.pem").write_bytes(
        ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()))
    ca.issue("/C=ch/O=Example/CN=localhost", sans=["localhost", "127.0.0.1"]).write(directory / "server", "host")
    people = {"jane": ("/C=ch/O=Example/CN=Jane Doe", {"username": "jdoe", "roles": ["jdoe", "alicepr"]}),
              "ada": ("/C=ch/O=Example/CN=Ada Admin", {"username": "ada", "admin": True}),
              "agent": ("/C=ch/O=Example/CN=Agent", {"username": "agent", "jobagent": True})}
    for name, (dn, _entry) in people.items():
        ca.issue(dn).write(tmp_path / "people" / name)
    (directory / "users.json").write_text(json.dumps({dn: entry for dn, entry in people.values()}))
    return directory, ca.write_dir(tmp_path / "cadir"), tmp_path / "people"


def _serving_process(env, directory, ready, *extra):
    proc = subprocess.Popen([sys.executable, "-m", "jenv", "serve", "--dir", str(directory), "--ready-file",
                             str(ready), *extra], env=env, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return proc


def test_serve_accepts_a_directory_assembled_from_a_test_ca(env, assembled, tmp_path):
    directory, cadir, people = assembled
    files_before = sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
    ready = tmp_path / "ready"
    proc = _serving_process(env, directory, ready)
    try:
        endpoint = Endpoint("127.0.0.1", int(ready.read_text()), "test")
        store = CAStore(str(cadir), "dir", "test")

        def ask(name, **request):
            identity = ClientIdentity(Location("user certificate", "test", path=str(people / name / "usercert.pem")),
                                      Location("user key", "test", path=str(people / name / "userkey.pem")))
            return fetch_token(endpoint, identity, store, 10, TokenRequest(**request), print)

        def dn(pair):
            return x509.load_pem_x509_certificate(pair.cert_pem.encode()).subject.rfc4514_string()

        assert dn(ask("jane", username="alicepr")) == "OU=alicepr,CN=jdoe,CN=Users,O=AliEn2,C=ch"
        assert dn(ask("agent", token_type="job", username="jdoe", jobid="7")) == \
            "OU=7,OU=jdoe,CN=jdoe,CN=Jobs,O=AliEn2,C=ch"  # "jobagent": true is a JobAgent identity
        assert dn(ask("ada", token_type="host", hostname="127.0.0.1")) == "CN=127.0.0.1,OU=ALICE,O=AliEn2,C=ch"
        with pytest.raises(ServerRefusedError, match="Only a JobAgent can ask for a Job token"):
            ask("jane", token_type="job", username="jdoe", jobid="7")
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
    assert (f"accounts in {directory}/users.json: jdoe (roles jdoe, alicepr); ada (roles ada; admin); "
            "agent (roles agent; JobAgent)") in err
    assert f"(CA {directory}/ca/cacert.pem)" in err
    assert sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) == files_before  # taken as it is


def test_serve_refuses_a_server_certificate_of_another_ca(root, env, assembled):
    from support.pki import TestCA

    directory, _cadir, _people = assembled
    (directory / "server" / "hostcert.pem").unlink()
    (directory / "server" / "hostkey.pem").unlink()
    TestCA("/C=ch/O=Other/CN=Other CA").issue("/CN=localhost").write(directory / "server", "host")
    result = root.run_jenv(["serve", "--dir", str(directory)], env, timeout=30)
    assert result.returncode == 6, result.stderr
    assert result.stderr.strip() == (f"jenv: {directory}/server/hostcert.pem is not signed by "
                                     f"{directory}/ca/cacert.pem: clients could not trust the service; issue the "
                                     "server certificate from that CA")


# --- serve --token-seconds: renewal in seconds --------------------------------------------------------

RENEWAL = """
serial() { openssl x509 -noout -serial -enddate -in "$TMPDIR/tokencert_$(id -u).pem"; }
jenv token-init 2>/dev/null && serial
jenv token --min-valid 5 >/dev/null && serial
jenv token --min-valid 1m >/dev/null && serial
"""


def test_token_seconds_lets_renewal_be_watched(root, env):
    """A token of 20 seconds: kept while it has 5 seconds left, renewed when a minute is asked for."""
    result = root.run_jenv(["sandbox", "--token-seconds", "20", "--", "sh", "-c", RENEWAL], env)
    assert result.returncode == 0, result.stderr
    assert "--token-seconds 20: every token lasts 20 seconds" in result.stderr
    lines = result.stdout.splitlines()
    serials, ends = lines[0::2], lines[1::2]
    assert len(serials) == 3 and serials[0] == serials[1] != serials[2], lines
    end = dt.datetime.strptime(ends[0].split("=", 1)[1], "%b %d %H:%M:%S %Y GMT").replace(tzinfo=dt.timezone.utc)
    assert 0 < (end - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 20


@pytest.mark.parametrize("value", ["0", "172801", "ten", "-5"])
@pytest.mark.parametrize("command", ["serve", "sandbox"])
def test_token_seconds_is_refused_above_the_shortest_maximum(root, env, tmp_path, command, value):
    args = [command, "--dir", str(tmp_path / "svc"), f"--token-seconds={value}"]
    result = root.run_jenv(args + (["--", "true"] if command == "sandbox" else []), env, timeout=30)
    assert result.returncode == 2, result.stderr
    assert "give a whole number of seconds from 1 to 172800" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "svc").exists()


@pytest.mark.parametrize("entry, words", [
    ({"username": "ada", "admin": "yes"}, '"admin" of'),
    ({"username": "agent", "jobagent": 1}, '"jobagent" of'),
    ({"username": "jd", "email": ["a@b"]}, '"email" of'),
])
def test_user_map_flags_must_be_what_the_layout_says(tmp_path, entry, words):
    from jenv.errors import InvalidInputError
    from jenv.service.server import load_user_map

    path = tmp_path / "users.json"
    path.write_text(json.dumps({"/CN=x": entry}))
    with pytest.raises(InvalidInputError, match=f"user map {path}: {words}"):
        load_user_map(str(path))


def test_the_sandbox_admin_name_is_not_a_user_name(root, env, tmp_path):
    result = root.run_jenv(["sandbox", "--dir", str(tmp_path / "box"), "--user", "jadmin", "--", "true"], env)
    assert result.returncode == 2 and "use --admin to run as it" in result.stderr
    assert not (tmp_path / "box").exists()
