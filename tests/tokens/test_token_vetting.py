"""A token from JCentral is written only if it is a token for what was asked (issue 9.3).

An impostor JCentral (a TLS server with a certificate from a store CA, which
is all the official client checks too) answers ``token-init`` and a renewing
``jenv token`` with crafted tokens.  Every one must be refused with exit 6
and one line that names the problem, nothing written, the previous pair
byte-identical.  The rules come from JAliEn's ``GetTokenCertificate.java``
(subjects per type: ``setCn("Users").setCn(cn).setOu(requested)``,
``setCn("Jobs").setCn(user).setOu(user)`` + the job id, ``setCn("JobAgent")``,
``setOu("ALICE")`` + ``setCn(hostname)``; validity: the type's maximum from
``TokenCertificateType.java``, admins up to 400 days, ``notBefore`` = now - 2 h).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import List, Optional

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support import faultservers as faults
from support.pki import grid_name
from support.tokenkit import run_in_process, token_paths
from support.snapshot import snapshot

UTC = dt.timezone.utc
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()


def _token(signer_cert: Optional[x509.Certificate], signer_key, dn: str = "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe",
           *, days: float = 31, backdate_hours: float = 2, ca: Optional[bool] = False, cert_sign: bool = False,
           issuer_dn: Optional[str] = None, key=KEY) -> str:
    """A token certificate signed by ``signer_key`` (self-signed when ``signer_cert`` is None)."""
    now = dt.datetime.now(UTC).replace(microsecond=0)
    issuer = grid_name(issuer_dn) if issuer_dn else (signer_cert.subject if signer_cert else grid_name(dn))
    builder = (x509.CertificateBuilder().subject_name(grid_name(dn)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=backdate_hours))
               .not_valid_after(now + dt.timedelta(days=days)))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=True, data_encipherment=False,
        key_agreement=False, key_cert_sign=cert_sign, crl_sign=False, encipher_only=False,
        decipher_only=False), critical=True)
    return builder.sign(signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def _answer(cert_pem: str, key_pem: str = KEY_PEM) -> str:
    return json.dumps({"metadata": {"exitcode": "0", "error": ""},
                       "results": [{"tokencert": cert_pem, "tokenkey": key_pem}]})


def _replying(text: str):
    def handler(connection):
        for _request in connection:
            connection.send(text)
    return handler


def _refused(with_token, server_tls, answer: str, commands: List[List[str]], words: str) -> None:
    env, before = with_token
    cert_path, key_path = token_paths(env)
    with faults.ws_server(server_tls, _replying(answer)) as port:
        for command in commands:
            result = run_in_process(command, dict(env, ALIENPY_JCENTRAL_PORT=str(port), JENV_TIMEOUT="15"))
            assert result.returncode == 6, (command, result.stderr)
            assert result.stdout == ""
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and words in lines[0], (command, result.stderr)
            assert "nothing was written" in lines[0]
            assert (snapshot(cert_path), snapshot(key_path)) == before


RENEWING = [["token", "--min-valid", "400d"], ["token-init"]]


def test_a_good_token_from_the_same_impostor_setup_is_accepted(svc, with_token, server_tls):
    """The positive twin: a correctly shaped token from the store CA is written (so the refusals mean something)."""
    env, before = with_token
    authority = svc.service.authority
    answer = _answer(_token(authority.cert, authority.key))
    with faults.ws_server(server_tls, _replying(answer)) as port:
        result = run_in_process(["token-init"], dict(env, ALIENPY_JCENTRAL_PORT=str(port)))
    assert result.returncode == 0, result.stderr
    assert snapshot(token_paths(env)[0]).content != before[0].content


@pytest.mark.parametrize("key_kind", ["rsa", "ec"])
def test_self_signed_token_with_the_store_ca_name_is_refused(svc, with_token, server_tls, key_kind):
    """The attack of the issue: a self-made 100-year token that copies the CA's name as its issuer."""
    key = KEY if key_kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    ca_dn = "/C=ch/O=jenv test/CN=jenv token test CA"
    cert = _token(None, key, issuer_dn=ca_dn, days=36500, key=key)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    _refused(with_token, server_tls, _answer(cert, key_pem), RENEWING, "does not verify against the CA store")


def test_token_from_a_foreign_ca_is_refused(with_token, server_tls):
    from jenv.service.authority import Authority
    other = Authority.create("/C=ch/O=jenv test/CN=jenv token test CA")  # same name, another key
    _refused(with_token, server_tls, _answer(_token(other.cert, other.key)), RENEWING, "certificate signature failure")


def test_a_ca_certificate_is_not_a_token(svc, with_token, server_tls):
    authority = svc.service.authority
    _refused(with_token, server_tls, _answer(_token(authority.cert, authority.key, ca=True)), RENEWING,
             "is a CA certificate")


def test_a_certificate_that_may_sign_is_not_a_token(svc, with_token, server_tls):
    authority = svc.service.authority
    _refused(with_token, server_tls, _answer(_token(authority.cert, authority.key, ca=None, cert_sign=True)),
             RENEWING, "keyCertSign")


@pytest.mark.parametrize("dn", [
    "/C=ch/O=AliEn2/CN=Users/CN=jdoe",                      # no role
    "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=42",         # a job token for a user request
    "/C=ch/O=AliEn2/CN=JobAgent",
    "/C=ch/O=Evil/CN=Users/CN=jdoe/OU=jdoe",
    "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe/OU=extra",
])
def test_a_token_of_the_wrong_shape_is_refused(svc, with_token, server_tls, dn):
    authority = svc.service.authority
    _refused(with_token, server_tls, _answer(_token(authority.cert, authority.key, dn)), RENEWING,
             "is not the user token subject")


def test_a_token_for_another_role_than_asked_is_refused(svc, with_token, server_tls):
    authority = svc.service.authority
    _refused(with_token, server_tls, _answer(_token(authority.cert, authority.key)),
             [["token-init", "-u", "alicepr"]], "not the requested 'alicepr'")


@pytest.mark.parametrize("args, dn, words", [
    (["-t", "job", "-u", "jdoe", "-jobid", "42"], "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=43",
     "is not the job token subject /C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=42"),
    (["-t", "jobagent"], "/C=ch/O=AliEn2/CN=JobAgent/OU=x", "is not the jobagent token subject"),
    (["-t", "host", "-hostname", "vo.example.org"], "/C=ch/O=AliEn2/OU=ALICE/CN=other.example.org",
     "is not the host token subject /C=ch/O=AliEn2/OU=ALICE/CN=vo.example.org"),
])
def test_other_token_types_must_have_their_subject(svc, with_token, server_tls, args, dn, words):
    authority = svc.service.authority
    _refused(with_token, server_tls, _answer(_token(authority.cert, authority.key, dn, days=1)),
             [["token-init", *args]], words)


@pytest.mark.parametrize("args, days", [
    ([], 32),                # user: 31 days at most
    ([], 36500),
    (["-v", "100"], 101),    # an admin may get 100, not more than asked
    (["-v", "1000"], 401),   # never past 400
])
def test_a_token_valid_for_longer_than_jcentral_gives_is_refused(svc, with_token, server_tls, args, days):
    authority = svc.service.authority
    commands = [["token-init", *args]] if args else RENEWING
    _refused(with_token, server_tls, _answer(_token(authority.cert, authority.key, days=days)), commands,
             "longer than JCentral gives a user token")


def test_the_longest_token_jcentral_gives_is_accepted(svc, home, server_tls):
    """31 days plus the 2-hour backdating is exactly what JCentral issues: accepted."""
    env = svc.env(home)
    authority = svc.service.authority
    answer = _answer(_token(authority.cert, authority.key, days=31, backdate_hours=2))
    with faults.ws_server(server_tls, _replying(answer)) as port:
        result = run_in_process(["token-init"], dict(env, ALIENPY_JCENTRAL_PORT=str(port)))
    assert result.returncode == 0, result.stderr
    assert Path(token_paths(env)[0]).read_text() == json.loads(answer)["results"][0]["tokencert"]


def test_every_command_is_silent_with_a_serial_zero_ca(svc, home):
    """Issue 9.4: with a CA like AliEn2-CA (serial 0) no library warning reaches stderr (both CA twins)."""
    env = svc.env(home)
    init = run_in_process(["token-init"], env)
    assert init.returncode == 0 and "Warning" not in init.stderr, init.stderr
    for command in (["token"], ["token-verify"], ["cert-verify"], ["token-info"], ["cert-info"], ["ca-info"],
                    ["tokenkey-match"], ["certkey-match"]):
        result = run_in_process(command, env)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stderr == "", (command, result.stderr)
    status = run_in_process(["status"], env)
    assert "Warning" not in status.stderr and "serial" not in status.stderr.lower(), status.stderr


@pytest.mark.parametrize("cert_extra, key_extra", [(True, False), (False, True)])
def test_a_token_with_extra_pem_blocks_is_refused(svc, with_token, server_tls, cert_extra, key_extra):
    """Issue 11.9: one certificate and one key, exactly; a second block would make later readers
    pick different halves (every login then reports a mismatch)."""
    authority = svc.service.authority
    cert = _token(authority.cert, authority.key)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()
    answer = _answer(cert + (cert if cert_extra else ""), KEY_PEM + (other if key_extra else ""))
    _refused(with_token, server_tls, answer, RENEWING, "PEM blocks, not one of each")


def test_a_user_key_file_with_two_keys_is_refused_before_asking(svc, home, tmp_path):
    cert, key = svc.user_files("jdoe")
    doubled = tmp_path / "userkey.pem"
    doubled.write_bytes(Path(key).read_bytes() + KEY_PEM.encode())
    doubled.chmod(0o600)
    before = svc.token_requests
    result = run_in_process(["token-init"], svc.env(home, X509_USER_KEY=str(doubled)))
    assert result.returncode == 4 and "holds 2 private keys" in result.stderr, result.stderr
    assert svc.token_requests == before
