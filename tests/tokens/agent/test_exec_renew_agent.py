"""`jenv exec --renew` and `--for` with a running agent (issue 25.5, 25.6).

* The long one (about 80 s, five lifetimes of 15-second tokens): two commands under ``exec --renew`` at
  once, one kept fresh through the agent (the user key is encrypted), one from an unencrypted user key,
  each sampling its pair every 200 ms while the user's shell runs ``token-destroy`` (and, where the key
  allows, ``jenv user alicepr token-init``) again and again;
* the agent's ``issue`` request: a fresh pair of the role asked for, the token files untouched; another
  uid is refused by the peer check even when the socket's mode would let it in (setpriv);
* ``--for`` with an agent: the agent covers a command that reads the token files it keeps, and a
  ``--renew`` copy; never ``export``'s copies.

Processes: the agent daemonizes and asks for its passphrase at a terminal.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support.agentkit import JENV, jenv, start, token_paths, wait_for
from jenv.tokens.agentclient import read_line
from support.launcher import clean_env, scan
from support.users import SETPRIV, run_as

pytestmark = pytest.mark.slow  # jenv, agents or commands as processes

TOKEN_SECONDS = 15
LIFETIMES = 5

#: The command under exec --renew: samples its pair every 200 ms for argv[2] seconds, as a TLS client
#: loads it (ssl.load_cert_chain: the key must belong to the certificate), checks the certificate
#: against the CA (argv[1]) and its dates, and writes a report (argv[3]).  A reader that opened the
#: certificate before a swap and the key after it sees a mismatch; it reads again, as jenv's own reader
#: does, and the test bounds how often that happened.
SAMPLER = r"""
import datetime as dt, json, os, ssl, sys, time
from cryptography import x509

ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
until, report = time.monotonic() + float(sys.argv[2]), sys.argv[3]
cert_path, key_path = os.environ["JALIEN_TOKEN_CERT"], os.environ["JALIEN_TOKEN_KEY"]


def judge():
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert_path, key_path)
        cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    except OSError as exc:
        return f"missing: {exc}", None
    except ssl.SSLError as exc:
        return f"key: {exc}", None
    try:
        cert.verify_directly_issued_by(ca)
    except Exception as exc:
        return f"does not verify: {exc!r}", cert
    if not cert.not_valid_before_utc <= dt.datetime.now(dt.timezone.utc) < cert.not_valid_after_utc:
        return "expired", cert
    return None, cert


samples, bad, rereads, serials, subjects = 0, [], 0, [], set()
tick = time.monotonic()
while time.monotonic() < until:
    problem, cert = judge()
    if problem and problem.startswith("key:"):
        rereads += 1
        problem, cert = judge()
    samples += 1
    if problem:
        bad.append([time.time(), problem])
    if cert is not None:
        if cert.serial_number not in serials:
            serials.append(cert.serial_number)
        subjects.add(cert.subject.rfc4514_string())
    tick += 0.2
    time.sleep(max(tick - time.monotonic(), 0))
json.dump({"samples": samples, "bad": bad, "rereads": rereads, "serials": len(serials),
           "subjects": sorted(subjects), "paths": [cert_path, key_path]}, open(report, "w"))
"""


def _ca_file(svc, directory: Path) -> Path:
    path = directory / "ca.pem"
    path.write_bytes(svc.world.authority.cert.public_bytes(serialization.Encoding.PEM))
    return path


def _renewed(env, argv, log: Path) -> subprocess.Popen:
    return subprocess.Popen([*JENV, "exec", "--renew", "--min-valid=1s", "--", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=log.open("w"), text=True, stdin=subprocess.DEVNULL)


def test_exec_renew_keeps_the_commands_token_valid_for_five_lifetimes_while_the_shell_destroys_it(
        svc, env, agents, tmp_path):
    """LONG: about 80 s (five lifetimes of 15-second tokens), for both renewers at once."""
    svc.service.token_seconds = TOKEN_SECONDS
    result, run = start(env, agents, "--min-valid=2s")
    assert result.returncode == 0 and run is not None, result.output
    wait_for(lambda: token_paths(env)[0].exists(), 15)
    plain_home = tmp_path / "plain"
    plain_home.mkdir()
    plain = svc.env(plain_home, PYTHONPATH=env["PYTHONPATH"])  # the unencrypted key, no agent for it
    assert jenv(["token-init"], plain).returncode == 0
    seconds = TOKEN_SECONDS * LIFETIMES + 2
    ca = _ca_file(svc, tmp_path)
    reports = {name: tmp_path / f"{name}.json" for name in ("agent", "key")}
    logs = {name: tmp_path / f"{name}.err" for name in reports}
    procs = {name: _renewed(environ, [sys.executable, "-c", SAMPLER, str(ca), str(seconds), str(reports[name])],
                            logs[name])
             for name, environ in (("agent", env), ("key", plain))}
    shell = []  # what the user's shell ran meanwhile, and how it ended
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and all(proc.poll() is None for proc in procs.values()):
        for environ, argv in ((env, ["token-destroy"]), (plain, ["token-destroy"]),
                              (plain, ["user", "alicepr", "token-init"])):
            shell.append((argv[0], jenv(argv, environ).returncode))
        time.sleep(3)
    for name, proc in procs.items():
        out, _err = proc.communicate(timeout=120)
        err = logs[name].read_text()
        scan(["exec", "--renew"], out, err)
        assert proc.returncode == 0 and err == "", (name, err)
    assert shell.count(("token-destroy", 0)) >= 2 * LIFETIMES and shell.count(("user", 0)) >= LIFETIMES, shell
    for name, path in reports.items():
        report = json.loads(path.read_text())
        assert report["samples"] > 100 and report["bad"] == [], (name, report)
        assert report["serials"] >= LIFETIMES + 1, (name, report)  # renewed, not one long token
        assert report["rereads"] <= report["serials"], (name, report)  # at most one per swap
        # the copy keeps the role it started with, whatever the token files hold meanwhile
        assert all("CN=jdoe" in subject and "alicepr" not in subject for subject in report["subjects"]), report
        assert not any(os.path.lexists(p) for p in report["paths"])  # removed at the end
        print(f"{name}: {report['samples']} samples, {report['serials']} tokens, {report['rereads']} read again")
    log = next(Path(env["XDG_RUNTIME_DIR"]).glob("agent-*.log")).read_text()
    assert log.count("gave a new token to process") >= LIFETIMES, log


def _ask(sock: str, request: dict) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(sock)
        try:
            client.sendall(json.dumps(request).encode() + b"\n")
            return read_line(client.recv, 1 << 20)
        except (BrokenPipeError, ConnectionResetError):
            return b""


def test_the_issue_request_gives_a_fresh_pair_of_the_role_asked_and_leaves_the_files(svc, env, agents):
    result, run = start(env, agents, "--min-valid=2s")
    assert result.returncode == 0 and run is not None, result.output
    cert_path, _key_path = token_paths(env)
    wait_for(cert_path.exists, 15)
    sock = str(next(Path(env["XDG_RUNTIME_DIR"]).glob("agent-*.sock")))
    before = cert_path.read_bytes()
    answer = json.loads(_ask(sock, {"op": "issue", "role": "alicepr"}))
    assert answer["ok"] is True, answer
    cert = x509.load_pem_x509_certificate(answer["cert"].encode())
    assert "alicepr" in cert.subject.rfc4514_string()
    key = serialization.load_pem_private_key(answer["key"].encode(), None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert cert_path.read_bytes() == before or "alicepr" not in cert_path.read_text()  # not written there
    own = json.loads(_ask(sock, {"op": "issue", "role": None}))
    assert own["ok"] and "alicepr" not in x509.load_pem_x509_certificate(own["cert"].encode()).subject.rfc4514_string()
    for bad in ({"op": "issue", "role": 5}, {"op": "issue", "role": "not-a-role-of-jdoe"}):
        refused = json.loads(_ask(sock, bad))
        assert refused["ok"] is False and refused["error"] and "cert" not in refused, refused


@pytest.mark.skipif(os.getuid() != 0 or SETPRIV is None, reason="needs root and setpriv to become another user")
def test_another_uid_cannot_have_a_token_issued_even_through_an_open_socket(svc, env, agents):
    """The socket is 0600 in a 0700 directory; opened up here on purpose (mode 0666, and a hard link in a
    directory everyone may enter), the peer check still refuses."""
    result, run = start(env, agents, "--min-valid=2s")
    assert result.returncode == 0 and run is not None, result.output
    runtime = Path(env["XDG_RUNTIME_DIR"])
    agent_sock = next(runtime.glob("agent-*.sock"))
    public = Path(tempfile.mkdtemp(prefix="jenv-open-agent-", dir="/tmp"))
    public.chmod(0o755)
    sock = public / "agent.sock"
    os.link(agent_sock, sock)
    sock.chmod(0o666)
    probe = ("import json, socket, sys\ns = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])\n"
             "try:\n    s.sendall(json.dumps({'op': 'issue', 'role': None}).encode() + b'\\n'); "
             "print(repr(s.recv(65536)))\nexcept (BrokenPipeError, ConnectionResetError):\n    print(repr(b''))")
    try:
        other = run_as(4242, [sys.executable, "-c", probe, str(sock)], env)
        assert other.returncode == 0 and other.stdout.strip() == "b''", other.stdout + other.stderr
        log = next(runtime.glob("agent-*.log"))
        wait_for(lambda: "refused a connection from uid 4242" in log.read_text(), 10)
        assert "gave a new token" not in log.read_text()
        mine = subprocess.run([sys.executable, "-c", probe, str(sock)], capture_output=True, text=True, timeout=60)
        assert "BEGIN" in mine.stdout  # the twin: the agent's own uid gets the pair
    finally:
        sock.chmod(0o600)
        shutil.rmtree(public)


def test_for_is_covered_by_an_agent_that_keeps_the_files_or_the_renewed_copy(svc, env, agents, tmp_path):
    result, run = start(env, agents, "--min-valid=2s")
    assert result.returncode == 0 and run is not None, result.output
    cert_path, key_path = token_paths(env)
    wait_for(cert_path.exists, 15)
    # 12-second tokens: only the agent covers an hour
    assert jenv(["exec", "--for", "1h", "--min-valid=1s", "--", "true"], env).returncode == 0
    assert jenv(["exec", "--renew", "--for", "1h", "--min-valid=1s", "--", "true"], env).returncode == 0
    exported = jenv(["export", "--to", str(tmp_path / "out"), "--for", "1h", "--min-valid=1s"], env)
    assert exported.returncode == 13 and "never renewed" in exported.stderr, exported.stderr
    # PEM content is not what the agent keeps: it covers a --renew copy only
    content = dict(env, JALIEN_TOKEN_CERT=cert_path.read_text(), JALIEN_TOKEN_KEY=key_path.read_text())
    refused = jenv(["exec", "--for", "1h", "--min-valid=1s", "--", "true"], content)
    assert refused.returncode == 13 and "add --renew" in refused.stderr, refused.stderr
    assert jenv(["exec", "--renew", "--for", "1h", "--min-valid=1s", "--", "true"], content).returncode == 0
    # no agent: the same request is refused, and names the fix
    run.kill()
    wait_for(lambda: not list(Path(env["XDG_RUNTIME_DIR"]).glob("agent-*.sock")), 10)
    alone = jenv(["exec", "--for", "1h", "--min-valid=1s", "--", "true"], env)
    assert alone.returncode == 13 and "'jenv agent start'" in alone.stderr, alone.stderr
