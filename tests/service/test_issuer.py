"""jenv.service.issuer: JAliEn's token rules, checked on the issued certificates (cryptography and openssl).

Sources: alien/api/token/GetTokenCertificate.java (subjects, extensions, who may have which type,
validity, backdating), alien/shell/commands/JAliEnCommandtoken.java (option checks, host names, the
validity notice, the role switch), alien/shell/ErrNo.java (exit codes).  The same rules, asked of the
running service over TLS, are the table of tests/service/test_jcentral_spec.py.
"""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID as EKU

from jenv.service.issuer import Account, Issued, Refusal, Requester, issue_from_options, issue_token
from jenv.pem import grid_dn, key_matches, parse_private_key
from jenv.jcentral.protocol import TokenRequest

NOW = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
FAR = NOW + dt.timedelta(days=1000)
JDOE = Requester(Account("jdoe", ("jdoe", "alicepr"), "jane.doe@example.org"), "jdoe", FAR)
ADMIN = Requester(Account("ada", ("ada", "admin")), "ada", FAR)
VOBOX = Requester(Account("vic", ("vic", "vobox")), "vic", FAR)
AGENT = Requester(Account("jobagent", ("jobagent",)), "jobagent", FAR, job_agent=True)
#: Holds a role called "jobagent" but presents no JobAgent identity.
ROLE_ONLY = Requester(Account("rob", ("rob", "jobagent")), "rob", FAR)
RESOLVES = {"vobox.example.org", "a.b.c"}


def resolve(name: str) -> bool:
    """The host names this file treats as resolving (the service itself asks DNS; see test_jcentral_spec)."""
    return name in RESOLVES


def issue(authority, requester, **request) -> Issued:
    outcome = issue_token(authority, requester, TokenRequest(**request), NOW, resolve)
    assert isinstance(outcome, Issued), outcome
    return outcome


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls).value


def days_of(cert) -> float:
    return (cert.not_valid_after_utc - NOW).total_seconds() / 86400


def test_user_token_fields(pki):
    token = issue(pki.authority, JDOE)
    cert = token.cert
    assert grid_dn(cert.subject) == "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe"
    assert cert.issuer == pki.authority.cert.subject
    assert [u for u in ext(cert, x509.ExtendedKeyUsage)] == [EKU.CLIENT_AUTH, EKU.SERVER_AUTH, EKU.EMAIL_PROTECTION]
    usage = ext(cert, x509.KeyUsage)
    assert usage.digital_signature and usage.content_commitment and usage.key_encipherment
    assert not usage.key_cert_sign and not ext(cert, x509.BasicConstraints).ca
    sans = ext(cert, x509.SubjectAlternativeName)
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "localhost.localdomain", "127.0.0.1", "::1"]
    assert sans.get_values_for_type(x509.RFC822Name) == ["jane.doe@example.org"]
    assert cert.not_valid_before_utc == NOW - dt.timedelta(hours=2)
    assert days_of(cert) == 31
    assert token.exitcode == 0 and token.error == ""
    assert token.key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    key = parse_private_key(token.key_pem.encode())
    assert key.key_size == 2048 and key_matches(cert, key)


@pytest.mark.slow
def test_user_token_as_openssl_sees_it(pki, tmp_path):
    path = tmp_path / "token.pem"
    path.write_text(issue(pki.authority, JDOE, validity_days=3).cert_pem)
    text = subprocess.run(["openssl", "x509", "-noout", "-subject", "-text", "-nameopt", "compat",
                           "-in", str(path)], capture_output=True, text=True, check=True).stdout
    assert text.splitlines()[0] == "subject=/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe"
    assert "TLS Web Client Authentication, TLS Web Server Authentication, E-mail Protection" in text
    assert "Digital Signature, Non Repudiation, Key Encipherment" in text
    assert "DNS:localhost, DNS:localhost.localdomain" in text and "email:jane.doe@example.org" in text
    assert "Public-Key: (2048 bit)" in text


def test_a_new_key_per_token(pki):
    first, second = issue(pki.authority, JDOE), issue(pki.authority, JDOE)
    assert first.key_pem != second.key_pem


def test_notice_over_the_maximum(pki):
    token = issue(pki.authority, JDOE, validity_days=100)
    assert days_of(token.cert) == 31 and token.exitcode == 0
    assert token.error == ("Reducing the validity from 100 to 31 as this is the max allowed value "
                           "for this type of certificate")


def test_not_after_capped_by_the_presenting_certificate(pki):
    soon = NOW + dt.timedelta(days=3)
    token = issue(pki.authority, Requester(JDOE.account, "jdoe", soon))
    assert token.cert.not_valid_after_utc == soon
    admin_token = issue(pki.authority, Requester(ADMIN.account, "ada", soon), validity_days=300)
    assert days_of(admin_token.cert) == 300  # admin user tokens are not capped


def test_role_switch_allowed_and_refused(pki):
    switched = issue(pki.authority, JDOE, username="alicepr")
    assert grid_dn(switched.cert.subject) == "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=alicepr"
    refused = issue(pki.authority, JDOE, username="admin")
    assert refused.exitcode == 1
    assert refused.error == "Operation not permitted : Switching user jdoe to [admin] failed"
    assert grid_dn(refused.cert.subject).endswith("/CN=jdoe/OU=jdoe")  # a token for the requester
    # GetTokenCertificate: an admin asking for a role it does not hold becomes that identity.
    assert grid_dn(issue(pki.authority, ADMIN, username="jdoe").cert.subject).endswith("/CN=Users/CN=jdoe/OU=jdoe")
    assert grid_dn(issue(pki.authority, ADMIN, username="admin").cert.subject).endswith("/CN=ada/OU=admin")


def test_job_token(pki):
    for requester in (AGENT, ADMIN):
        token = issue(pki.authority, requester, token_type="job", username="jdoe", jobid="3141")
        assert grid_dn(token.cert.subject) == "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=3141"
        assert list(ext(token.cert, x509.ExtendedKeyUsage)) == [EKU.CLIENT_AUTH, EKU.SERVER_AUTH]
        assert ext(token.cert, x509.SubjectAlternativeName).get_values_for_type(x509.DNSName) == [
            "localhost", "localhost.localdomain", "127.0.0.1", "::1"]
        assert days_of(token.cert) == 2


@pytest.mark.slow
def test_job_token_with_jalien_job_extension(pki, tmp_path):
    """JAliEn's own job tokens carry -jobid queueid=<id>/resubmission=<n>: one OU, split on '/' by UserFactory."""
    token = issue(pki.authority, AGENT, token_type="job", username="jdoe", jobid="queueid=1/resubmission=0")
    assert [a.value for a in token.cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)] == [
        "jdoe", "queueid=1/resubmission=0"]
    path = tmp_path / "job.pem"
    path.write_text(token.cert_pem)
    text = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", str(path)],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert text == "subject=OU=queueid=1/resubmission=0,OU=jdoe,CN=jdoe,CN=Jobs,O=AliEn2,C=ch"
    # UserFactory.transformDN (the RFC 2253 parts reversed) gives the DN whose last OU it splits on '/'.
    jalien_dn = "/" + "/".join(reversed(text[len("subject="):].split(",")))
    assert jalien_dn == "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=queueid=1/resubmission=0"


def test_jobagent_token(pki):
    token = issue(pki.authority, VOBOX, token_type="jobagent")
    assert grid_dn(token.cert.subject) == "/C=ch/O=AliEn2/CN=JobAgent"
    assert list(ext(token.cert, x509.ExtendedKeyUsage)) == [EKU.CLIENT_AUTH]


def test_host_token(pki):
    token = issue(pki.authority, Requester(ADMIN.account, "ada", NOW + dt.timedelta(days=1)),
                  token_type="host", hostname="vobox.example.org")
    assert grid_dn(token.cert.subject) == "/C=ch/O=AliEn2/OU=ALICE/CN=vobox.example.org"
    assert ext(token.cert, x509.SubjectAlternativeName).get_values_for_type(x509.DNSName) == ["vobox.example.org"]
    assert days_of(token.cert) == 365  # host tokens are not capped by the presenting certificate


@pytest.mark.parametrize("requester, request_, code, text", [
    (JDOE, dict(token_type="job", username="jdoe", jobid="1"), 121,
     "Remote I/O error : Server didn't execute your request, reason was: Only a JobAgent can ask for a Job token"),
    (ROLE_ONLY, dict(token_type="job", username="jdoe", jobid="1"), 121, "Only a JobAgent can ask"),
    (JDOE, dict(token_type="jobagent"), 121, "You don't have permissions to ask for a JobAgent token"),
    (VOBOX, dict(token_type="host", hostname="a.b.c"), 121, "reason was: Only admin can do that"),
    (AGENT, dict(), 121, "You can't request a User token as JobAgent or Job"),
    (ADMIN, dict(token_type="host", hostname="nodots"), 22, "Please pass a FQDN as hostname instead of `nodots`"),
    (ADMIN, dict(token_type="host", hostname="localhost"), 22, "Please pass a FQDN"),
    (ADMIN, dict(token_type="host", hostname="gone.example.org"), 6,
     "No such device or address : hostname `gone.example.org` cannot be resolved"),
    (VOBOX, dict(token_type="host", hostname="gone.example.org"), 6, "cannot be resolved"),  # checked first
    (ADMIN, dict(token_type="host", hostname=" "), 22, "Please pass a FQDN as hostname instead of ``"),
    (AGENT, dict(token_type="job", username="jdoe"), 22, "job extension"),
    (AGENT, dict(token_type="job", jobid="1"), 22, "the user for which"),
    (JDOE, dict(token_type="robot"), 22, "Invalid argument : Unknown token type robot"),
    # values that would add RDNs to the subject, or that no certificate can hold: EINVAL, never an exception
    (ADMIN, dict(token_type="host", hostname="a.b/CN=evil", force=True), 22, "-hostname"),
    (ADMIN, dict(token_type="host", hostname="a." + "b" * 100, force=True), 22, "-hostname"),
    (ADMIN, dict(token_type="host", hostname="\u00e9t\u00e9.example.org", force=True), 22, "-hostname"),
    (ADMIN, dict(token_type="host", hostname="a.b\tc.d", force=True), 22, "-hostname"),
    (ADMIN, dict(token_type="host", hostname="a.b/CN=evil"), 6, "cannot be resolved"),  # JCentral's check first
    (AGENT, dict(token_type="job", username="jdoe/OU=admin", jobid="1"), 22, "-u"),
    (AGENT, dict(token_type="job", username="jdoe", jobid="1\x00"), 22, "-jobid"),
    (ADMIN, dict(username="x" * 200), 22, "-u"),
])
def test_refusals(pki, requester, request_, code, text):
    outcome = issue_token(pki.authority, requester, TokenRequest(**request_), NOW, resolve)
    assert isinstance(outcome, Refusal) and outcome.exitcode == code and text in outcome.error


def test_force_issues_a_host_token_whose_name_does_not_resolve(pki):
    """JAliEnCommandtoken -f: the certificate as requested, and a warning (exit 0)."""
    token = issue(pki.authority, ADMIN, token_type="host", hostname="gone.example.org", force=True)
    assert grid_dn(token.cert.subject) == "/C=ch/O=AliEn2/OU=ALICE/CN=gone.example.org"
    assert token.exitcode == 0 and token.error == ("The indicated hostname `gone.example.org` cannot be resolved! "
                                                   "Generating the certificate as requested, but DNS should be fixed")


def test_token_seconds_replaces_the_days(pki):
    outcome = issue_token(pki.authority, JDOE, TokenRequest(), NOW, resolve, token_seconds=30)
    assert outcome.cert.not_valid_after_utc == NOW + dt.timedelta(seconds=30)
    assert outcome.cert.not_valid_before_utc == NOW - dt.timedelta(hours=2)


def test_bad_wire_options_are_einval(pki):
    for options in (["-v", "x"], ["-t"], ["--weird"], ["-v", "9" * 5000]):
        outcome = issue_from_options(pki.authority, JDOE, options, NOW)
        assert isinstance(outcome, Refusal) and outcome.exitcode == 22
        assert outcome.error.startswith("Invalid argument : ")


def test_a_value_no_certificate_can_hold_is_an_answer(pki):
    """An e-mail of the user map that cannot go into subjectAltName: EINVAL, not a dropped connection."""
    requester = Requester(Account("jd", ("jd",), "j\u00e9@example.org"), "jd", FAR)
    outcome = issue_from_options(pki.authority, requester, ["-nomsg"], NOW)
    assert isinstance(outcome, Refusal) and outcome.exitcode == 22
    assert outcome.error.startswith("Invalid argument : cannot issue this token")
