"""The client against the local service over real mutual-TLS WebSockets on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest

from jenv.service.authority import Authority
from jenv.jcentral.client import fetch_token, open_session
from jenv.errors import KeyMismatchError, NetworkError, NotFoundError, ServerRefusedError
from jenv.locations import CAStore, Endpoint, Location
from jenv.pem import grid_dn, parse_certificate
from jenv.jcentral.protocol import TokenRequest
from jenv.jcentral.client import ClientIdentity
from jenv.service.server import LocalService, load_user_map, run_service

TIMEOUT = 15.0  # generous: a loaded machine must not turn a good exchange into a timeout


def get_token(pki, endpoint, who="jdoe", notices=None, identity=None, **request):
    return fetch_token(endpoint, identity or pki.identity(who), pki.ca_store, TIMEOUT, TokenRequest(**request),
                       (notices if notices is not None else []).append)


def subject(pair) -> str:
    return grid_dn(parse_certificate(pair.cert_pem.encode()).subject)


def test_user_token_over_the_wire(pki, endpoint, service):
    before = service.token_requests
    pair = get_token(pki, endpoint)
    assert subject(pair) == "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe"
    assert pair.key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert service.token_requests == before + 1


def test_notice_is_passed_on(pki, endpoint):
    notices = []
    pair = get_token(pki, endpoint, notices=notices, validity_days=100)
    cert = parse_certificate(pair.cert_pem.encode())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc) == dt.timedelta(days=31, hours=2)
    assert notices == ["Reducing the validity from 100 to 31 as this is the max allowed value for this type "
                       "of certificate"]


def test_each_token_type_and_its_permissions(pki, endpoint):
    assert subject(get_token(pki, endpoint, "vobox1", token_type="jobagent")) == "/C=ch/O=AliEn2/CN=JobAgent"
    assert subject(get_token(pki, endpoint, "admin1", token_type="job", username="jdoe", jobid="77")) == \
        "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=77"
    assert subject(get_token(pki, endpoint, "admin1", token_type="host", hostname="vo.example.org", force=True)) == \
        "/C=ch/O=AliEn2/OU=ALICE/CN=vo.example.org"
    for who, request, text in [("jdoe", dict(token_type="jobagent"), "permissions to ask for a JobAgent token"),
                               ("jdoe", dict(token_type="host", hostname="127.0.0.1"), "Only admin can do that"),
                               ("vobox1", dict(token_type="job", username="x", jobid="1"), "Only a JobAgent can")]:
        with pytest.raises(ServerRefusedError, match=f"{text}.*JCentral exit code 121"):
            get_token(pki, endpoint, who, **request)


def test_jobagent_token_can_get_a_job_token(pki, endpoint, tmp_path, write_cred):
    agent = get_token(pki, endpoint, "vobox1", token_type="jobagent")
    (tmp_path / "tokencert.pem").write_text(agent.cert_pem)
    (tmp_path / "tokenkey.pem").write_text(agent.key_pem)
    (tmp_path / "tokenkey.pem").chmod(0o600)  # a key readable by others is refused
    identity = ClientIdentity(Location("token certificate", "test", path=str(tmp_path / "tokencert.pem")),
                              Location("token key", "test", path=str(tmp_path / "tokenkey.pem")))
    job = get_token(pki, endpoint, identity=identity, token_type="job", username="jdoe", jobid="5")
    assert subject(job) == "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=5"


def test_refused_switch_is_refused_even_with_a_token(pki, endpoint):
    with pytest.raises(ServerRefusedError, match=r"Operation not permitted : Switching user jdoe to \[admin\]"):
        get_token(pki, endpoint, username="admin")
    assert subject(get_token(pki, endpoint, username="alicepr")).endswith("/CN=jdoe/OU=alicepr")


def test_unknown_token_type_reaches_the_server_as_einval(pki, endpoint):
    with open_session(endpoint, pki.identity("jdoe"), pki.ca_store, TIMEOUT) as session:
        reply = session.call("token", ["-nomsg", "-t", "robot"])
    assert reply.exitcode == 22 and reply.error == "Invalid argument : Unknown token type robot"


def test_whoami_user_switch_and_unknown_command(pki, endpoint):
    with open_session(endpoint, pki.identity("jdoe"), pki.ca_store, TIMEOUT) as session:
        who = session.call("whoami").results[0]
        assert who["username"] == "jdoe" and who["role"] == "jdoe" and who["roles"] == "jdoe,alicepr"
        assert who["certificate_dn"] == "/C=ch/O=jenv test/OU=Users/CN=Jane Doe"
        assert who["certificate_expires"] == str(int(pki.creds["jdoe"].cert.not_valid_after_utc.timestamp()))
        assert who["homedir"] == "/alice/cern.ch/user/j/jdoe/"
        assert session.call("user", ["alicepr"]).exitcode == 0
        assert session.call("whoami").results[0]["role"] == "alicepr"
        refused = session.call("user", ["admin"])
        assert refused.exitcode == 1 and "Switching user alicepr to [admin] failed" in refused.error
        unknown = session.call("frobnicate", ["-x"])
        assert unknown.exitcode == 2 and "frobnicate" in unknown.error
        assert session.call("whoami").user == "alicepr"  # the connection survived the bad requests


def test_token_maps_back_to_its_user_and_role(pki, endpoint, tmp_path):
    token = get_token(pki, endpoint, username="alicepr")
    (tmp_path / "c.pem").write_text(token.cert_pem)
    (tmp_path / "k.pem").write_text(token.key_pem)
    identity = ClientIdentity(Location("token certificate", "test", path=str(tmp_path / "c.pem")),
                              Location("token key", "test", pem=token.key_pem))
    with open_session(endpoint, identity, pki.ca_store, TIMEOUT) as session:
        who = session.call("whoami").results[0]
    assert (who["username"], who["role"]) == ("jdoe", "alicepr")


def test_unregistered_certificate_gets_401(pki, endpoint, tmp_path, write_cred):
    stranger = pki.authority.issue_user("/C=ch/O=jenv test/OU=Users/CN=Stranger")
    identity = write_cred(stranger, tmp_path)
    with pytest.raises(ServerRefusedError, match=r"certificate /C=ch/O=jenv test/OU=Users/CN=Stranger is not "
                                                 r"registered in the ALICE VO \(JCentral answered HTTP 401\)"):
        get_token(pki, endpoint, identity=identity)


def test_server_not_trusted_by_the_client(pki, endpoint, tmp_path):
    other = Authority.create("/C=ch/O=elsewhere/CN=Other CA")
    bundle = tmp_path / "other.pem"
    bundle.write_bytes(other.credential.cert_pem)
    with pytest.raises(NetworkError, match="server certificate of JCentral at 127.0.0.1:.* is not trusted"):
        fetch_token(endpoint, pki.identity("jdoe"), CAStore(str(bundle), "file", "test"), TIMEOUT,
                    TokenRequest(), print)


def test_client_not_trusted_by_the_server(pki, endpoint, tmp_path, write_cred):
    other = Authority.create("/C=ch/O=elsewhere/CN=Other CA")
    identity = write_cred(other.issue_user("/C=ch/O=jenv test/OU=Users/CN=Jane Doe"), tmp_path)
    with pytest.raises(NetworkError, match="rejected our client certificate"):
        get_token(pki, endpoint, identity=identity)


def test_missing_ca_store_and_wrong_key(pki, endpoint, tmp_path, write_cred):
    with pytest.raises(NotFoundError, match="(?=.*X509_CERT_DIR)(?=.*jenv ca-fetch)"):
        fetch_token(endpoint, pki.identity("jdoe"), CAStore(None, "none", "default"), TIMEOUT, TokenRequest(), print)
    with pytest.raises(NotFoundError, match="jenv ca-fetch"):
        fetch_token(endpoint, pki.identity("jdoe"), CAStore(str(tmp_path / "nope"), "dir", "from X509_CERT_DIR"),
                    TIMEOUT, TokenRequest(), print)
    mixed = ClientIdentity(pki.identity("jdoe").cert, pki.identity("admin1").key)
    with pytest.raises(KeyMismatchError):
        get_token(pki, endpoint, identity=mixed)


class Tls12Service(LocalService):
    """The same service limited to TLS 1.2, where the client certificate is checked inside the handshake."""

    def ssl_context(self):
        context = super().ssl_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        return context


def test_client_not_trusted_by_a_tls12_server(pki, tmp_path, write_cred):
    service = Tls12Service(pki.authority, pki.authority.issue_server(), load_user_map(str(pki.users_file)))
    with run_service(service) as (host, port):
        endpoint = Endpoint(host, port, "test")
        assert subject(get_token(pki, endpoint)).endswith("/CN=jdoe/OU=jdoe")  # TLS 1.2 itself works
        other = Authority.create("/C=ch/O=elsewhere/CN=Other CA")
        identity = write_cred(other.issue_user("/C=ch/O=x/CN=Mallory"), tmp_path)
        with pytest.raises(NetworkError, match=r"rejected our client certificate /C=ch/O=x/CN=Mallory \(TLS alert"):
            get_token(pki, endpoint, identity=identity)


def test_one_thread_owns_the_connection_and_tls13_tickets_are_taken_in_passing(pki, endpoint, monkeypatch):
    """websockets' sans-I/O protocol runs in the calling thread: a session starts no thread (so no two
    threads ever share the TLS connection), and under TLS 1.3 the server's session tickets, sent
    after the handshake, are consumed by the session's own reads."""
    import threading

    caller = threading.current_thread()
    started_here = []  # the service runs in this process too: only starts from the calling thread count
    real_start = threading.Thread.start

    def start(thread):
        if threading.current_thread() is caller:
            started_here.append(thread.name)
        return real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    with open_session(endpoint, pki.identity("jdoe"), pki.ca_store, TIMEOUT) as session:
        tls = session._websocket.tls
        assert tls.version() == "TLSv1.3"
        assert session.call("whoami").exitcode == 0  # the first read after the upgrade
        assert tls.session is not None and tls.session.has_ticket
    assert started_here == []


@pytest.mark.slow
def test_websockets_loads_without_the_package_metadata_machinery_which_still_works_when_asked():
    """websockets' version module imports importlib.metadata and never uses it in a release; the client
    registers it lazily (LazyLoader): nothing of it is loaded on the way to a session, and anything
    that reads it later gets the real module."""
    import subprocess
    import sys

    script = "\n".join([
        "import sys",
        "from jenv.jcentral.client import _websockets_client",
        "_websockets_client()",
        "import websockets.version",
        "assert 'websockets.client' in sys.modules",
        "assert 'zipfile' not in sys.modules",  # importlib.metadata's first import (3.9 to 3.13)
        "import importlib.metadata",
        "assert importlib.metadata.version('websockets') == websockets.version.version",
        "assert 'zipfile' in sys.modules and type(importlib.metadata) is type(sys)",
        "print('ok')",
    ])
    run = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": ":".join(p for p in sys.path if p)})
    assert run.stdout == "ok\n", run.stderr
