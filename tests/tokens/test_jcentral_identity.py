"""Issue 21.1-3 and 21.7: JCentral is the host the endpoint names, its certificate is a server's, and
the token it sends is the account that asked.

A misbehaving JCentral on 127.0.0.1 (a real websockets server with a TLS certificate signed by a CA
of the client's store, which is what any ALICE member or grid site holds) presents, in turn, the
certificates an impostor has: a member's user, job or jobagent token (JAliEn gives user and job
tokens serverAuth and the ``localhost`` names, ``GetTokenCertificate.java``), a host certificate for
another name, wildcards RFC 6125 refuses, an expired host certificate.  Each is refused before the
WebSocket upgrade: the fake server never receives a request frame, nothing is written, the previous
pair stays byte-identical, one line names the cause.  A right host answering with a real, CA-signed
token of another account is refused too.  The positive twins (a host token, a second trusted CA,
JENV_JCENTRAL_NAME for a name that differs from the address, a change of account after
``token-destroy``) are accepted, so the refusals mean something.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import ssl
from pathlib import Path
from typing import List, Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from support import faultservers as faults
from support.pki import grid_name
from support.tokenkit import run_in_process, token_paths
from support.snapshot import snapshot
from jenv.service.authority import Authority, Credential, general_names, install_ca_dir, new_rsa_key

UTC = dt.timezone.utc
SERVER_AUTH, CLIENT_AUTH = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
#: The names JAliEn puts in user and job tokens, all as dNSName (GetTokenCertificate.java).
TOKEN_SANS = ("localhost", "localhost.localdomain", "127.0.0.1", "::1")
RENEWING = [["token", "--min-valid", "400d"], ["token-init"]]


def _certificate(ca: Authority, dn: str, names: Sequence[str] = (), usages=(SERVER_AUTH,), ip_as_dns=False,
                 ca_flag: bool = False, expired: bool = False) -> Credential:
    """A certificate from ``ca``: subject ``dn``, subjectAltName ``names``, extended key usage ``usages``."""
    key = new_rsa_key()
    now = dt.datetime.now(UTC).replace(microsecond=0)
    start, end = (now - dt.timedelta(days=30), now - dt.timedelta(days=1)) if expired else \
        (now - dt.timedelta(hours=2), now + dt.timedelta(days=30))
    builder = (x509.CertificateBuilder().subject_name(grid_name(dn)).issuer_name(ca.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                              critical=False))
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(general_names(names, ip_as_dns)), critical=False)
    from cryptography.hazmat.primitives import hashes
    return Credential(builder.sign(ca.key, hashes.SHA256()), key)


def _server_context(credential: Credential, tmp_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    directory = tmp_path / f"server-{credential.cert.serial_number}"
    directory.mkdir()
    credential.write(str(directory / "cert.pem"), str(directory / "key.pem"))
    context.load_cert_chain(str(directory / "cert.pem"), str(directory / "key.pem"))
    return context


def _token_answer(ca: Authority, dn: str) -> str:
    """JCentral's answer carrying a real token signed by ``ca`` (31 days, backdated 2 hours)."""
    key = new_rsa_key()
    now = dt.datetime.now(UTC).replace(microsecond=0)
    cert = ca.sign(grid_name(dn), key.public_key(), now - dt.timedelta(hours=2), now + dt.timedelta(days=31),
                   [(x509.ExtendedKeyUsage([CLIENT_AUTH, SERVER_AUTH]), False)])
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return json.dumps({"metadata": {"exitcode": "0", "error": ""},
                       "results": [{"tokencert": cert.public_bytes(serialization.Encoding.PEM).decode(),
                                    "tokenkey": key_pem}]})


class FakeJCentral:
    """A JCentral on 127.0.0.1 that presents ``context``'s certificate and answers every frame with
    ``answer``; ``frames`` counts the request frames it received."""

    def __init__(self, answer: str):
        self.answer = answer
        self.frames: List[str] = []

    def handler(self, connection) -> None:
        for request in connection:
            self.frames.append(request)
            connection.send(self.answer)


def _run(env, port: int, command: List[str], **extra: str):
    return run_in_process(command, dict(env, ALIENPY_JCENTRAL="127.0.0.1", ALIENPY_JCENTRAL_PORT=str(port),
                                        JENV_TIMEOUT="15", **extra))


def _assert_refused(result, code: int, words: Sequence[str], before, env) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jenv: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    cert_path, key_path = token_paths(env)
    assert (snapshot(cert_path), snapshot(key_path)) == before


def _impostor(svc, with_token, tmp_path, credential: Credential, code: int, words: Sequence[str],
              commands=RENEWING, **extra: str) -> None:
    """Each command against a fake JCentral presenting ``credential``: refused before any request frame."""
    env, before = with_token
    fake = FakeJCentral(_token_answer(svc.service.authority, "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe"))
    with faults.ws_server(_server_context(credential, tmp_path), fake.handler) as port:
        for command in commands:
            _assert_refused(_run(env, port, command, **extra), code, words, before, env)
    assert fake.frames == []


def _accepted(svc, env, tmp_path, credential: Credential, command=("token-init",), **extra: str) -> FakeJCentral:
    fake = FakeJCentral(_token_answer(svc.service.authority, "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe"))
    with faults.ws_server(_server_context(credential, tmp_path), fake.handler) as port:
        result = _run(env, port, list(command), **extra)
    assert result.returncode == 0, result.stderr
    assert len(fake.frames) == 1
    return fake


# --- 1. the name ----------------------------------------------------------------------------------

@pytest.mark.parametrize("names", [
    ("other.example.org",),
    ("other.example.org", "10.0.0.1"),
    ("localhost", "127.0.0.1"),          # the address as a dNSName, as JAliEn tokens carry it: not an address
    ("127.0.0.2",),
    ("*.0.0.1",),                        # a wildcard never matches an address
])
def test_a_certificate_for_another_name_is_refused_before_any_request(svc, with_token, tmp_path, names):
    """The endpoint is 127.0.0.1: only an iPAddress entry 127.0.0.1 matches it (RFC 6125, X509_check_ip)."""
    ip_as_dns = names == ("localhost", "127.0.0.1")
    host = _certificate(svc.service.authority, "/C=ch/O=jenv test/CN=other.example.org", names, ip_as_dns=ip_as_dns)
    _impostor(svc, with_token, tmp_path, host, 6,
              ["is not for 127.0.0.1", names[0], "JENV_JCENTRAL_NAME", "nothing was sent"])


@pytest.mark.parametrize("san", [
    "*",                               # a bare wildcard
    "*.org",                           # a wildcard over a single label
    "*.*.example.org",                 # more than one wildcard
    "jcentral.*.org",                  # not the leftmost label
    "j*l.example.org",                 # a partial-label wildcard (refused by the library's flags)
    "*.jcentral.example.org",          # a wildcard matches one label, never none
    "*.example.org",                   # ... nor two (the name is a.jcentral.example.org below)
])
def test_wildcards_rfc_6125_refuses_are_refused(svc, with_token, tmp_path, san):
    name = "a.jcentral.example.org" if san == "*.example.org" else "jcentral.example.org"
    host = _certificate(svc.service.authority, "/C=ch/O=jenv test/CN=wildcard", [san])
    _impostor(svc, with_token, tmp_path, host, 6, [f"is not for {name} (from JENV_JCENTRAL_NAME)", san],
              commands=[["token-init"]], JENV_JCENTRAL_NAME=name)


@pytest.mark.parametrize("san, name", [
    ("*.example.org", "jcentral.example.org"),
    ("jcentral.example.org", "jcentral.example.org"),
    ("JCentral.Example.ORG", "jcentral.example.org"),  # DNS names compare without case
])
def test_jenv_jcentral_name_names_what_to_expect(svc, home, tmp_path, san, name):
    """The positive twin: the same connection to 127.0.0.1 passes once the certificate's name is expected."""
    host = _certificate(svc.service.authority, "/C=ch/O=jenv test/CN=named", [san])
    env = svc.env(home)
    _accepted(svc, env, tmp_path, host, JENV_JCENTRAL_NAME=name)
    assert snapshot(token_paths(env)[0]) is not None


@pytest.mark.parametrize("name", [".jcentral.example.org", "\u00e9\u0301" * 40])
def test_a_name_the_library_cannot_check_is_a_clear_error(svc, with_token, name):
    env, before = with_token
    result = run_in_process(["token-init"], dict(env, JENV_JCENTRAL_NAME=name))
    _assert_refused(result, 4, ["cannot check JCentral's certificate for the name", "JENV_JCENTRAL_NAME"], before, env)


def test_the_local_service_passes_for_localhost_and_its_address(svc, home):
    """jenv serve and the sandbox present a certificate for localhost and 127.0.0.1 (and ::1)."""
    for host in ("127.0.0.1", "localhost"):
        env = svc.env(home, ALIENPY_JCENTRAL=host)
        result = run_in_process(["token-init"], env)
        assert result.returncode == 0, (host, result.stderr)


def test_a_refusal_is_remembered_like_jcentral_s_other_failures(svc, with_token, tmp_path):
    """Logins in the next JENV_RETRY_AFTER say at once that JCentral failed, with its exit code, instead of
    connecting to the impostor again."""
    env, before = with_token
    host = _certificate(svc.service.authority, "/C=ch/O=jenv test/CN=other.example.org", ["other.example.org"])
    fake = FakeJCentral("")
    connections = []

    def counting(connection):
        connections.append(connection)
        fake.handler(connection)

    with faults.ws_server(_server_context(host, tmp_path), counting) as port:
        first = _run(env, port, ["token", "--min-valid", "400d"], JENV_RETRY_AFTER="2m")
        _assert_refused(first, 6, ["is not for 127.0.0.1"], before, env)
        again = _run(env, port, ["token", "--min-valid", "400d"], JENV_RETRY_AFTER="2m")
        _assert_refused(again, 6, ["JCentral failed", "is not for 127.0.0.1", "JENV_RETRY_AFTER"], before, env)
    assert connections == [] and fake.frames == []


def test_an_expired_host_certificate_is_refused(svc, with_token, tmp_path):
    host = _certificate(svc.service.authority, "/C=ch/O=jenv test/CN=127.0.0.1", ["127.0.0.1"], expired=True)
    _impostor(svc, with_token, tmp_path, host, 9, ["not trusted", "expired"])


# --- 2. a server's certificate, not a member's -----------------------------------------------------

@pytest.mark.parametrize("dn, usages", [
    ("/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=attacker", (CLIENT_AUTH, SERVER_AUTH)),
    ("/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=alicepr", (CLIENT_AUTH, SERVER_AUTH)),
    ("/C=ch/O=AliEn2/CN=Jobs/CN=attacker/OU=attacker/OU=42", (CLIENT_AUTH, SERVER_AUTH)),
    ("/C=ch/O=AliEn2/CN=JobAgent", ()),
])
@pytest.mark.parametrize("how", ["address", "name"])
def test_a_member_token_is_not_a_server_certificate(svc, with_token, tmp_path, dn, usages, how):
    """A member's token as JCentral's certificate.  By address its dNSName "127.0.0.1" does not match;
    named localhost (which it carries), it is still refused as a client identity."""
    token = _certificate(svc.service.authority, dn, TOKEN_SANS, usages, ip_as_dns=True)
    if how == "address":
        _impostor(svc, with_token, tmp_path, token, 6, ["is not for 127.0.0.1", "localhost"])
    else:
        _impostor(svc, with_token, tmp_path, token, 6, ["JAliEn member's token", dn, "nothing was sent"],
                  JENV_JCENTRAL_NAME="localhost")


def test_a_ca_certificate_is_not_a_server_certificate(svc, with_token, tmp_path):
    ca_cert = _certificate(svc.service.authority, "/C=ch/O=jenv test/CN=sub CA", ["127.0.0.1"], ca_flag=True)
    _impostor(svc, with_token, tmp_path, ca_cert, 6, ["is a CA certificate", "nothing was sent"])


def test_a_client_only_certificate_is_not_a_server_certificate(svc, with_token, tmp_path):
    client = _certificate(svc.service.authority, "/C=ch/O=jenv test/CN=client", ["127.0.0.1"], (CLIENT_AUTH,))
    _impostor(svc, with_token, tmp_path, client, 6, ["TLS server", "nothing was sent"])


def test_a_host_token_and_a_certificate_without_usages_are_server_certificates(svc, home, tmp_path):
    """JAliEn host tokens (OU=ALICE/CN=<host>, clientAuth and serverAuth) stay acceptable, as does a
    certificate with no extended key usage."""
    env = svc.env(home)
    host_token = _certificate(svc.service.authority, "/C=ch/O=AliEn2/OU=ALICE/CN=localhost", ["localhost"],
                              (CLIENT_AUTH, SERVER_AUTH))
    _accepted(svc, env, tmp_path, host_token, JENV_JCENTRAL_NAME="localhost")
    plain = _certificate(svc.service.authority, "/C=ch/O=jenv test/CN=plain", ["127.0.0.1"], ())
    _accepted(svc, env, tmp_path, plain)


def test_a_host_certificate_from_a_second_trusted_ca_is_accepted(svc, with_token, tmp_path):
    env, _before = with_token
    second = Authority.create("/C=ch/O=jenv test/CN=second grid CA")
    ca_dir = tmp_path / "certificates"
    shutil.copytree(svc.ca_dir, ca_dir, symlinks=True)
    install_ca_dir(str(ca_dir), [second.cert])
    host = _certificate(second, "/C=ch/O=jenv test/CN=127.0.0.1", ["127.0.0.1"])
    _accepted(svc, dict(env, X509_CERT_DIR=str(ca_dir)), tmp_path, host)


# --- 3. the token is the account that asked ---------------------------------------------------------

def _answering(svc, with_token, dn: str, commands, words: Sequence[str]) -> None:
    """The right host (the service's own certificate) answering every request with a real token ``dn``."""
    env, before = with_token
    fake = FakeJCentral(_token_answer(svc.service.authority, dn))
    with faults.ws_server(svc.service.ssl_context(), fake.handler) as port:
        for command in commands:
            _assert_refused(_run(env, port, command), 6, words, before, env)
    assert len(fake.frames) == len(commands)


def test_a_token_of_another_account_is_refused(svc, with_token):
    """The attack of the issue: the previous token is jdoe's; JCentral's answer is the attacker's token."""
    _answering(svc, with_token, "/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=attacker",
               RENEWING + [["token", "--content"]], ["'attacker'", "'jdoe'", "jenv token-destroy", "nothing was written"])


@pytest.mark.parametrize("dn", [
    "/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=alicepr",
    "/C=ch/O=AliEn2/CN=Users/CN=alicepr/OU=attacker",
])
def test_a_role_token_of_another_account_is_refused(svc, with_token, dn):
    commands = [["token-init", "-u", "alicepr"], ["user", "alicepr"], ["user", "alicepr", "token-init"],
                ["token", "-u", "alicepr"]]
    words = ["'attacker'", "'jdoe'"] if "CN=attacker" in dn else ["not the requested 'alicepr'"]
    _answering(svc, with_token, dn, commands, words + ["nothing was written"])


def test_the_role_token_of_ones_own_account_is_accepted(svc, with_token):
    env, before = with_token
    result = run_in_process(["token-init", "-u", "alicepr"], env)
    assert result.returncode == 0, result.stderr
    whoami = json.loads(run_in_process(["whoami", "--json"], env).stdout)
    assert (whoami["user"], whoami["role"], whoami["expected_account"]) == ("jdoe", "alicepr", "jdoe")


def test_an_expired_previous_token_still_names_the_account(svc, with_token, tmp_path):
    """Renewal is when the previous token has expired: its account still binds the new one."""
    env, _before = with_token
    cert_path, key_path = token_paths(env)
    old = _certificate(svc.service.authority, "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", expired=True)
    for path in (cert_path, key_path):
        path.unlink()
    old.write(str(cert_path), str(key_path))
    cert_path.chmod(0o400)  # as jenv writes it
    before = (snapshot(cert_path), snapshot(key_path))
    _answering(svc, (env, before), "/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=attacker", [["token"], ["token-init"]],
               ["'attacker'", "'jdoe'"])


def test_changing_account_on_purpose_after_token_destroy(svc, with_token):
    """The way the refusal names: with no token in use, a token of another account is written."""
    env, _before = with_token
    assert run_in_process(["token-destroy"], env).returncode == 0
    fake = FakeJCentral(_token_answer(svc.service.authority, "/C=ch/O=AliEn2/CN=Users/CN=other/OU=other"))
    with faults.ws_server(svc.service.ssl_context(), fake.handler) as port:
        result = _run(env, port, ["token-init"])
    assert result.returncode == 0, result.stderr
    assert json.loads(run_in_process(["whoami", "--json"], env).stdout)["expected_account"] == "other"


def test_with_no_previous_token_the_account_must_be_the_role(svc, home):
    """JCentral gives CN=<requester>/OU=<requester> when no role is asked: any other pairing is not the
    requester's own, even with no token to compare with."""
    env = svc.env(home)
    fake = FakeJCentral(_token_answer(svc.service.authority, "/C=ch/O=AliEn2/CN=Users/CN=attacker/OU=alicepr"))
    with faults.ws_server(svc.service.ssl_context(), fake.handler) as port:
        result = _run(env, port, ["token-init"])
    _assert_refused(result, 6, ["'attacker'", "'alicepr'"], (None, None), env)
