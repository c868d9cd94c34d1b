"""Fault injection through the real command: every broken JCentral leaves the previous token intact."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from support import faultservers as faults
from support.tokenkit import run_jenv, token_paths
from support.snapshot import snapshot

pytestmark = pytest.mark.slow



def _answer(handler_text):
    def handler(connection):
        for _request in connection:
            connection.send(handler_text)
    return handler


RENEWING = (["token", "--min-valid", "400d"], ["token-init"])
PRINT_ONLY = (["token", "--content"], ["user", "alicepr"])


def _check_every_command(env, before, port, code, words, commands=RENEWING, network="15"):
    """Each command fails with ``code`` and ``words`` within JENV_TIMEOUT=``network`` (plus start-up).

    Servers that stall get network="1" (the bound is the point); servers that answer get a
    generous limit, so a loaded machine cannot turn their answer into a timeout.
    """
    env = dict(env, ALIENPY_JCENTRAL_PORT=str(port), JENV_TIMEOUT=network)
    cert_path, key_path = token_paths(env)
    for command in commands:
        start = time.monotonic()
        result = run_jenv(command, env, timeout=60)
        assert time.monotonic() - start < float(network) + 7  # bounded by JENV_TIMEOUT, never a hang
        assert result.returncode == code, (command, result.stderr)
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, result.stderr
        assert (snapshot(cert_path), snapshot(key_path)) == before
        assert sorted(p.name for p in cert_path.parent.iterdir() if p.name.startswith(".")) == []


def test_refused(with_token):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    _check_every_command(*with_token, port, 9, "refused the connection", network="1")


def test_stall_before_tls(with_token):
    with faults.raw_server(lambda conn: time.sleep(30)) as port:
        _check_every_command(*with_token, port, 9, "within 1s", network="1")


def test_stall_after_upgrade(with_token, server_tls):
    def handler(connection):
        for _request in connection:
            pass

    with faults.ws_server(server_tls, handler) as port:
        _check_every_command(*with_token, port, 9, "did not answer 'token' within 1s", network="1")


def test_garbage_answer(with_token, server_tls):
    with faults.ws_server(server_tls, _answer("<html>not json</html>")) as port:
        _check_every_command(*with_token, port, 9, "malformed answer")


def test_error_answer(with_token, server_tls):
    answer = json.dumps({"metadata": {"exitcode": "13", "error": "Permission denied: quota exceeded"},
                         "results": []})
    with faults.ws_server(server_tls, _answer(answer)) as port:
        _check_every_command(*with_token, port, 10, "quota exceeded", RENEWING + PRINT_ONLY)


def test_closed_mid_answer(with_token, server_tls):
    def serve_one(conn):
        tls = faults.accept_upgrade(conn, server_tls)
        tls.recv(4096)
        tls.sendall(b"\x81\x7e\x04\x00" + b'{"metadata": {"exitcode": "0"')
        tls.close()

    with faults.raw_server(serve_one) as port:
        _check_every_command(*with_token, port, 9, "closed the connection")


def test_answer_with_a_foreign_key(with_token, svc, server_tls):
    env = svc.env(Path(with_token[0]["HOME"]))
    one, two = (json.loads(run_jenv(["token", "--content", "--json"], env, content_mode=True).stdout)
                ["results"][0] for _ in range(2))
    answer = json.dumps({"metadata": {"exitcode": "0", "error": ""},
                         "results": [{"tokencert": one["tokencert"], "tokenkey": two["tokenkey"]}]})
    with faults.ws_server(server_tls, _answer(answer)) as port:
        _check_every_command(*with_token, port, 6, "does not match")  # not a token for what was asked
