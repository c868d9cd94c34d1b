"""Fault injection: servers that refuse, stall, break frames or answer garbage; each gives one JenvError."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time

import pytest

from support.faultservers import accept_upgrade, raw_server, server_frame, ws_server
from jenv.jcentral.client import fetch_token, open_session
from jenv.errors import InvalidInputError, NetworkError, ServerRefusedError
from jenv.locations import Endpoint
from jenv.jcentral.protocol import ProtocolError, TokenRequest
from jenv.service.server import LocalService, load_user_map

TIMEOUT = 1.0  # for servers that stall: the bound is what is tested
ANSWER_TIMEOUT = 15.0  # for servers that answer: a loaded machine must not turn the answer into a timeout


@pytest.fixture(scope="module")
def server_tls(pki) -> ssl.SSLContext:
    """The TLS side of a correct service (its certificate, client certificates required)."""
    return LocalService(pki.authority, pki.authority.issue_server(), load_user_map(str(pki.users_file))).ssl_context()


def fetch(pki, port: int, timeout: float = ANSWER_TIMEOUT):
    """The token as token-init gets it: fetched, then read by the vetting (which parses the PEM text)."""
    from jenv.tokens.vet import read_sent_token

    return read_sent_token(fetch_token(Endpoint("127.0.0.1", port, "test"), pki.identity("jdoe"), pki.ca_store,
                                       timeout, TokenRequest(), lambda _notice: None))


#: Where the endpoint came from (as resolve_endpoint says it) -> the fix the message must name.
ENDPOINT_FIXES = {
    "from ALIENPY_JCENTRAL": "the endpoint comes from ALIENPY_JCENTRAL: check it there",
    "from ALIENPY_JCENTRAL and ALIENPY_JCENTRAL_PORT": "the endpoint comes from ALIENPY_JCENTRAL and "
                                                       "ALIENPY_JCENTRAL_PORT: check it there",
    "default": "this is the default endpoint; ALIENPY_JCENTRAL and ALIENPY_JCENTRAL_PORT set another",
}


@pytest.mark.parametrize("source", list(ENDPOINT_FIXES))
def test_refused(pki, source):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(NetworkError) as refused:
        fetch_token(Endpoint("127.0.0.1", port, source), pki.identity("jdoe"), pki.ca_store, ANSWER_TIMEOUT,
                    TokenRequest(), lambda _notice: None)
    assert str(refused.value) == f"JCentral at 127.0.0.1:{port} refused the connection: is the service running? " \
                                 + ENDPOINT_FIXES[source]


@pytest.mark.parametrize("source", list(ENDPOINT_FIXES))
def test_unresolvable_host(pki, source):
    with pytest.raises(NetworkError, match="cannot resolve the JCentral host 'no-such-host.invalid'") as failed:
        fetch_token(Endpoint("no-such-host.invalid", 8097, source), pki.identity("jdoe"),
                    pki.ca_store, TIMEOUT, TokenRequest(), print)
    assert str(failed.value).endswith(": " + ENDPOINT_FIXES[source]) and "from from" not in str(failed.value)


def test_stall_before_tls_is_bounded(pki):
    """Accepts TCP and never says a word: the connect timeout must end it."""
    with raw_server(lambda conn: time.sleep(30)) as port:
        start = time.monotonic()
        with pytest.raises(NetworkError, match=r"no answer from .* within 1s while connecting"):
            fetch(pki, port, TIMEOUT)
        assert time.monotonic() - start < 3


def test_stall_after_upgrade_is_bounded(pki, server_tls):
    def handler(connection):
        for _request in connection:  # read and never answer, until the client gives up
            pass

    with ws_server(server_tls, handler) as port:
        start = time.monotonic()
        with pytest.raises(NetworkError, match=r"did not answer 'token' within 1s"):
            fetch(pki, port, TIMEOUT)
        assert time.monotonic() - start < 3


def test_closed_mid_frame(pki, server_tls):
    def serve_one(conn):
        tls = accept_upgrade(conn, server_tls)
        tls.recv(4096)  # the request frame
        tls.sendall(b"\x81\x7e\x04\x00" + b'{"metadata": {"exitcode": "0"')  # announces 1024 bytes, sends 30
        tls.close()

    with raw_server(serve_one) as port:
        with pytest.raises(NetworkError, match="closed the connection before answering 'token'"):
            fetch(pki, port)


def test_closed_without_answer(pki, server_tls):
    with ws_server(server_tls, lambda connection: connection.recv() and None) as port:
        with pytest.raises(NetworkError, match="closed the connection before answering"):
            fetch(pki, port)


@pytest.mark.parametrize("answer, error, text", [
    ("this is not json", ProtocolError, "malformed answer from JCentral: not JSON"),
    (json.dumps({"metadata": {"exitcode": "ok"}}), ProtocolError, "exitcode 'ok' is not a number"),
    (json.dumps({"metadata": {"exitcode": "0"}, "results": [{}]}), ProtocolError, "no 'tokencert'"),
    (json.dumps({"metadata": {"exitcode": "121", "error": "Server didn't execute your request"}}),
     ServerRefusedError, "will not issue this token .*: Server didn't execute your request \\(JCentral exit code 121"),
    (json.dumps({"metadata": {"exitcode": "0"}, "results": [{"tokencert": "x", "tokenkey": "y"}]}),
     InvalidInputError, "token certificate JCentral sent"),
    pytest.param("[" * 100000 + "]" * 100000, ProtocolError, "malformed answer from JCentral: nested too deeply",
                 id="deeply-nested"),
])
def test_bad_answers(pki, server_tls, answer, error, text):
    def handler(connection):
        connection.recv()
        connection.send(answer)
        connection.recv()  # wait for the client to close

    with ws_server(server_tls, handler) as port:
        with pytest.raises(error, match=text):
            fetch(pki, port)


def test_http_error_status_at_upgrade(pki, server_tls):
    def process_request(connection, request):
        return connection.respond(503, "maintenance\n")

    with ws_server(server_tls, lambda connection: None, process_request) as port:
        with pytest.raises(NetworkError, match="answered HTTP 503 Service Unavailable instead of opening"):
            fetch(pki, port)


def test_plain_tcp_service_is_a_tls_failure(pki):
    def serve_one(conn):
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.close()

    with raw_server(serve_one) as port:
        with pytest.raises(NetworkError) as info:
            fetch(pki, port)
        assert "TLS failure talking to JCentral at 127.0.0.1" in str(info.value)
        assert "does not speak TLS" in str(info.value)


def test_the_real_service_answers_bad_frames_and_keeps_going(pki, endpoint):
    with open_session(endpoint, pki.identity("jdoe"), pki.ca_store, ANSWER_TIMEOUT) as session:
        websocket = session._websocket
        for frame in ("not json", "[1, 2]", '{"options": []}', '{"command": "token", "options": "x"}',
                      b"\xff\x00binary", '{"command": "token", "options": ' + "[" * 50000 + "]" * 50000 + "}",
                      '{"command": "token", "options": ["-t", "host", "-hostname", "\\u00e9.example.org", "-f"]}'):
            deadline = time.monotonic() + ANSWER_TIMEOUT
            websocket.send(frame, deadline)
            reply = json.loads(websocket.recv_text(deadline))
            assert reply["metadata"]["exitcode"] == "22", frame
            assert reply["metadata"]["error"].startswith("Invalid argument : ")
        assert session.call("whoami").results[0]["username"] == "jdoe"


@pytest.mark.parametrize("closed", [ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed (EOF)"),
                                    ssl.SSLEOFError(8, "EOF occurred in violation of protocol")])
def test_close_right_after_the_handshake_names_our_certificate(closed):
    """TLS 1.3: a server that refuses our certificate closes after the handshake, with or
    without close_notify (seen both ways under load); both mean the client side was rejected."""
    from jenv.jcentral.client import _Peer
    from jenv.locations import CAStore

    peer = _Peer(Endpoint("127.0.0.1", 1, "test"), CAStore("/ca", "dir", "test"), "/CN=me", 1.0)
    error = peer.upgrade_error(closed)
    assert isinstance(error, NetworkError) and "rejected our client certificate /CN=me" in str(error)


WHOAMI = json.dumps({"metadata": {"exitcode": "0"}, "results": [{"username": "fragmented", "role": "x"}]})


def _whoami(pki, port: int, timeout: float = ANSWER_TIMEOUT):
    with open_session(Endpoint("127.0.0.1", port, "test"), pki.identity("jdoe"), pki.ca_store, timeout) as session:
        return session.call("whoami")


def test_an_answer_in_fragments_is_joined(pki, server_tls):
    def handler(connection):
        connection.recv()
        connection.send(iter([WHOAMI[:7], WHOAMI[7:30], WHOAMI[30:]]))  # three frames, one message
        connection.recv()

    with ws_server(server_tls, handler) as port:
        assert _whoami(pki, port).results[0]["username"] == "fragmented"


def test_a_ping_before_the_answer_gets_its_pong(pki, server_tls):
    ponged = []

    def handler(connection):
        connection.recv()
        ponged.append(connection.ping(b"are you there").wait(ANSWER_TIMEOUT))
        connection.send(WHOAMI)
        connection.recv()

    with ws_server(server_tls, handler) as port:
        assert _whoami(pki, port).results[0]["username"] == "fragmented"
    assert ponged == [True]


def _answers_in_one_write(first: bytes, after_request: bytes):
    """A server that writes ``first`` together with its 101 answer and ``after_request`` in one write
    once the request came: what one read of the client can hold beyond what it waits for."""
    def serve_one(conn, server_tls):
        tls = accept_upgrade(conn, server_tls, then=first)
        tls.recv(4096)  # the request frame
        if after_request:
            tls.sendall(after_request)
        with contextlib.suppress(OSError):
            tls.recv(4096)
        tls.close()
    return serve_one


@pytest.mark.parametrize("first, after_request", [
    (server_frame(WHOAMI.encode()), b""),
    (b"", server_frame(WHOAMI[:10].encode(), fin=False) + server_frame(WHOAMI[10:].encode(), opcode=0)
     + server_frame(b'{"metadata": {"exitcode": "1"}}')),
], ids=["answer with the 101", "fragments in one read, a message behind them"])
def test_frames_that_come_with_what_was_waited_for_are_kept(pki, server_tls, first, after_request):
    serve = _answers_in_one_write(first, after_request)
    with raw_server(lambda conn: serve(conn, server_tls)) as port:
        assert _whoami(pki, port).results[0]["username"] == "fragmented"


def _close_instead_of_answering(connection, _tls):
    connection.recv()
    connection.close(1011, "database unavailable")


def _answer_over_the_size_limit(connection, _tls):
    connection.recv()
    connection.send("x" * (2 ** 20 + 1))
    with contextlib.suppress(Exception):
        connection.recv()


def _masked_frame(conn, server_tls):
    tls = accept_upgrade(conn, server_tls)
    tls.recv(4096)  # the request frame
    payload, mask = b"{}", b"\x01\x02\x03\x04"
    tls.sendall(b"\x81\x82" + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))  # servers never mask
    with contextlib.suppress(OSError):
        tls.recv(4096)
    tls.close()


@pytest.mark.parametrize("raw, behaviour, error", [
    (False, _close_instead_of_answering,
     r"closed the connection before answering 'whoami' \(WebSocket close code 1011: database unavailable\)"),
    (False, _answer_over_the_size_limit, r"broke the WebSocket protocol while answering 'whoami': .*exceeds limit"),
    (True, _masked_frame, r"broke the WebSocket protocol while answering 'whoami': incorrect masking"),
    (True, _answers_in_one_write(b"", server_frame(b'{"x": "\xff"}')),
     r"broke the WebSocket protocol while answering 'whoami': 'utf-8' codec can't decode byte 0xff"),
], ids=["close frame", "over 1 MiB", "masked frame", "text not UTF-8"])
def test_a_session_that_ends_without_an_answer_says_how(pki, server_tls, raw, behaviour, error):
    def handler(connection):
        behaviour(connection, server_tls)

    with (raw_server(handler) if raw else ws_server(server_tls, handler)) as port:
        with pytest.raises(NetworkError, match=error):
            _whoami(pki, port)


def test_the_session_ends_with_a_normal_closure(pki, server_tls):
    from websockets.exceptions import ConnectionClosed

    closes = []

    def handler(connection):
        connection.recv()
        connection.send(WHOAMI)
        try:
            connection.recv()
        except ConnectionClosed as closed:
            closes.append(closed.rcvd.code if closed.rcvd else None)

    with ws_server(server_tls, handler) as port:
        assert _whoami(pki, port).results[0]["username"] == "fragmented"
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while not closes and time.monotonic() < deadline:
            time.sleep(0.01)
    assert closes == [1000]
