"""The local service answers `token` as JCentral does: one table of requests, read as the specification.

Each row is one request as it reaches JCentral (the wire options), who sends it, and JCentral's answer:
the exit code, the subject of the token (None: no token), its validity, and the text of
``metadata.error``.  Each row names the JAliEn source file the rule comes from (repository
FYP-Jalien/jalien-march-18, under src/main/java/alien/):

  GetTokenCertificate   api/token/GetTokenCertificate.java: who may have which type, subjects, 2 days
                        for -v <= 0, admins up to 400 days, 2 hours of backdating, never past the
                        requester's certificate (except an admin's user and host tokens)
  JAliEnCommandtoken    shell/commands/JAliEnCommandtoken.java: option checks, host names, the
                        "Reducing the validity" notice, the role switch after the token is issued,
                        a refusal of the central service reported as EREMOTEIO
  TokenCertificateType  api/token/TokenCertificateType.java: each type's default and maximum
                        validity (user 31 days, job and jobagent 2, host 365)
  UserFactory           user/UserFactory.java: which identity a token certificate is
  ErrNo                 shell/ErrNo.java: EPERM 1, ENXIO 6, EINVAL 22, EREMOTEIO 121

The table runs against the real service (jenv.service.server) over mutual TLS on 127.0.0.1, with
the registered users of tests/support/service.py, a user whose certificate ends tomorrow, and the
JobAgent and job tokens the service itself issued.  Host names are looked up in DNS, as JCentral
does: ``127.0.0.1`` always resolves, a name under ``.invalid`` never does (RFC 6761).
Deliberate difference kept: an unknown ``-t`` says which types exist (JAliEn names the default type).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from jenv.jcentral.client import open_session
from jenv.pem import grid_dn, key_matches, parse_private_key
from support.service import build_world, identity_at, running, write_credential

UTC = dt.timezone.utc
GTC, CMD, TCT, UF = "GetTokenCertificate", "JAliEnCommandtoken", "TokenCertificateType", "UserFactory"
USER = "/C=ch/O=AliEn2/CN=Users/CN={}/OU={}"
REMOTE = "Remote I/O error : Server didn't execute your request, reason was: "
CERT = "cert"  # the validity ends with the requester's certificate


@dataclass(frozen=True)
class Row:
    who: str
    options: Sequence[str]
    exitcode: int
    subject: Optional[str]
    days: Union[float, str, None]
    error: str
    source: str


TABLE = {
    # --- user tokens: validity -------------------------------------------------------------------
    "plain": Row("jdoe", [], 0, USER.format("jdoe", "jdoe"), 31, "", f"{TCT}, {GTC}"),
    "-v 7": Row("jdoe", ["-v", "7"], 0, USER.format("jdoe", "jdoe"), 7, "", GTC),
    "-v 100": Row("jdoe", ["-v", "100"], 0, USER.format("jdoe", "jdoe"), 31,
                  "Reducing the validity from 100 to 31 as this is the max allowed value for this type of certificate",
                  CMD),
    "-v 0": Row("jdoe", ["-v", "0"], 0, USER.format("jdoe", "jdoe"), 2, "", GTC),
    "-v -5": Row("jdoe", ["-v", "-5"], 0, USER.format("jdoe", "jdoe"), 2, "", GTC),
    "admin -v 100": Row("admin1", ["-v", "100"], 0, USER.format("admin1", "admin1"), 100, "", f"{CMD}, {GTC}"),
    "admin -v 300, past its own certificate": Row("admin1", ["-v", "300"], 0, USER.format("admin1", "admin1"), 300,
                                                  "", GTC),
    "admin -v 500, capped silently": Row("admin1", ["-v", "500"], 0, USER.format("admin1", "admin1"), 400, "", GTC),
    "certificate ends tomorrow": Row("shorty", [], 0, USER.format("shorty", "shorty"), CERT, "", GTC),
    "-nomsg": Row("jdoe", ["-nomsg", "-v", "3"], 0, USER.format("jdoe", "jdoe"), 3, "", CMD),
    # --- user tokens: roles ----------------------------------------------------------------------
    "-u own role": Row("jdoe", ["-u", "alicepr"], 0, USER.format("jdoe", "alicepr"), 31, "", f"{CMD}, {GTC}"),
    "-u foreign role: token first, then EPERM": Row(
        "jdoe", ["-u", "admin"], 1, USER.format("jdoe", "jdoe"), 31,
        "Operation not permitted : Switching user jdoe to [admin] failed", CMD),
    "admin -u a role it does not hold": Row("admin1", ["-u", "jdoe"], 0, USER.format("jdoe", "jdoe"), 31, "", GTC),
    "user token as JobAgent": Row("jobagent", [], 121, None, None,
                                  REMOTE + "You can't request a User token as JobAgent or Job", f"{GTC}, {UF}"),
    "user token as a job": Row("job", [], 121, None, None,
                               REMOTE + "You can't request a User token as JobAgent or Job", f"{GTC}, {UF}"),
    "unknown -t": Row("jdoe", ["-t", "robot"], 22, None, None, "Invalid argument : Unknown token type robot", CMD),
    # --- job tokens ------------------------------------------------------------------------------
    "job, JobAgent identity": Row("jobagent", ["-t", "job", "-u", "jdoe", "-jobid", "4242"], 0,
                                  "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=4242", CERT, "", f"{GTC}, {UF}"),
    "job, admin, JAliEn's job extension": Row(
        "admin1", ["-jobid", "queueid=1/resubmission=0", "-u", "jdoe"], 0,
        "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=queueid=1\\/resubmission=0", 2, "", f"{CMD}, {GTC}, {UF}"),
    "job, admin -v 100": Row("admin1", ["-t", "job", "-u", "jdoe", "-jobid", "5", "-v", "100"], 0,
                             "/C=ch/O=AliEn2/CN=Jobs/CN=jdoe/OU=jdoe/OU=5", 100, "", GTC),
    "job, plain user": Row("jdoe", ["-t", "job", "-u", "jdoe", "-jobid", "1"], 121, None, None,
                           REMOTE + "Only a JobAgent can ask for a Job token, jdoe is not one", GTC),
    "job, vobox role": Row("vobox1", ["-t", "job", "-u", "jdoe", "-jobid", "1"], 121, None, None,
                           REMOTE + "Only a JobAgent can ask for a Job token, vobox1 is not one", GTC),
    "job without -jobid": Row("admin1", ["-t", "job", "-u", "jdoe"], 22, None, None,
                              "Invalid argument : You should pass a job extension for this type of certificate "
                              "request", CMD),
    "job without -u": Row("admin1", ["-jobid", "1"], 22, None, None,
                          "Invalid argument : You also have to pass the user for which to run this job id", CMD),
    # --- jobagent tokens -------------------------------------------------------------------------
    "jobagent, vobox role": Row("vobox1", ["-t", "jobagent"], 0, "/C=ch/O=AliEn2/CN=JobAgent", 2, "", GTC),
    "jobagent, vobox -v 100": Row("vobox1", ["-t", "jobagent", "-v", "100"], 0, "/C=ch/O=AliEn2/CN=JobAgent", 2,
                                  "Reducing the validity from 100 to 2 as this is the max allowed value for this type "
                                  "of certificate", CMD),
    "jobagent, plain user": Row("jdoe", ["-t", "jobagent"], 121, None, None,
                                REMOTE + "You don't have permissions to ask for a JobAgent token", GTC),
    # --- host tokens -----------------------------------------------------------------------------
    "host, admin": Row("admin1", ["-hostname", "127.0.0.1"], 0, "/C=ch/O=AliEn2/OU=ALICE/CN=127.0.0.1", 365, "",
                       f"{CMD}, {GTC}, {TCT}"),
    "host, plain user": Row("jdoe", ["-t", "host", "-hostname", "127.0.0.1"], 121, None, None,
                            REMOTE + "Only admin can do that", GTC),
    "host, vobox role": Row("vobox1", ["-t", "host", "-hostname", "127.0.0.1"], 121, None, None,
                            REMOTE + "Only admin can do that", GTC),
    "host localhost": Row("admin1", ["-t", "host", "-hostname", "localhost"], 22, None, None,
                          "Invalid argument : Please pass a FQDN as hostname instead of `localhost`", CMD),
    "host empty": Row("admin1", ["-t", "host", "-hostname", " "], 22, None, None,
                      "Invalid argument : Please pass a FQDN as hostname instead of ``", CMD),
    "host without -hostname": Row("admin1", ["-t", "host"], 22, None, None,
                                  "Invalid argument : You must indicate the hostname for which to issue the "
                                  "certificate!", CMD),
    "host that does not resolve": Row("admin1", ["-hostname", "no-such-host.invalid"], 6, None, None,
                                      "No such device or address : hostname `no-such-host.invalid` cannot be resolved",
                                      f"{CMD}, ErrNo"),
    "host that does not resolve, -f": Row(
        "admin1", ["-hostname", "no-such-host.invalid", "-f"], 0, "/C=ch/O=AliEn2/OU=ALICE/CN=no-such-host.invalid",
        365, "The indicated hostname `no-such-host.invalid` cannot be resolved! Generating the certificate as "
             "requested, but DNS should be fixed", CMD),
    "host that does not resolve, plain user": Row(  # the command checks its options before the server
        "jdoe", ["-hostname", "no-such-host.invalid"], 6, None, None,
        "No such device or address : hostname `no-such-host.invalid` cannot be resolved", CMD),
}


@pytest.fixture(scope="module")
def jcentral(tmp_path_factory):
    """The service with the test users, one whose certificate ends tomorrow, and a JobAgent and a job token
    it issued (``jobagent`` and ``job`` present them)."""
    world = build_world(tmp_path_factory.mktemp("spec"), "/C=ch/O=jenv test/CN=jenv spec CA")
    shorty_dn = "/C=ch/O=jenv test/OU=Users/CN=Shorty"
    world.creds["shorty"] = world.authority.issue_user(shorty_dn, days=1)
    write_credential(world.creds["shorty"], world.root / "users" / "shorty")
    users = json.loads(world.users_file.read_text())
    users[shorty_dn] = {"username": "shorty", "roles": ["shorty"]}
    world.users_file.write_text(json.dumps(users))
    with running(world) as service:
        identities = {name: world.identity(name) for name in world.creds}
        for name, who, options in (("jobagent", "vobox1", ["-t", "jobagent"]),
                                   ("job", "admin1", ["-t", "job", "-u", "jdoe", "-jobid", "77"])):
            with open_session(service.endpoint, identities[who], world.ca_store, 10) as session:
                token = session.call("token", ["-nomsg", *options]).results[0]
            directory = world.root / "tokens" / name
            directory.mkdir(parents=True)
            (directory / "usercert.pem").write_text(token["tokencert"])
            (directory / "userkey.pem").write_text(token["tokenkey"])
            (directory / "userkey.pem").chmod(0o600)
            identities[name] = identity_at(directory)
        yield service, world, identities


def _not_after(identity) -> dt.datetime:
    with open(identity.cert.path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read()).not_valid_after_utc


@pytest.mark.parametrize("case", list(TABLE), ids=list(TABLE))
def test_the_service_answers_as_jcentral(jcentral, case):
    row = TABLE[case]
    service, world, identities = jcentral
    identity = identities[row.who]
    with open_session(service.endpoint, identity, world.ca_store, 10) as session:
        before = dt.datetime.now(UTC).replace(microsecond=0)
        reply = session.call("token", list(row.options))
        after = dt.datetime.now(UTC)
    assert (reply.exitcode, reply.error) == (row.exitcode, row.error), (case, row.source)
    if row.subject is None:
        assert reply.results == [], (case, row.source)
        return
    result = reply.results[0]
    cert = x509.load_pem_x509_certificate(result["tokencert"].encode())
    assert grid_dn(cert.subject) == row.subject, (case, row.source)
    # GetTokenCertificate: a new RSA-2048 key per token, sent in the traditional form.
    assert result["tokenkey"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    key = parse_private_key(result["tokenkey"].encode())
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048 and key_matches(cert, key)
    # GetTokenCertificate: "a grace time of 2 hours to compensate for WNs that are running behind with the clock".
    backdate = dt.timedelta(hours=2)
    assert before - backdate <= cert.not_valid_before_utc <= after - backdate, (case, row.source)
    if row.days == CERT:
        assert cert.not_valid_after_utc == _not_after(identity), (case, row.source)
    else:
        span = dt.timedelta(days=row.days)
        assert before + span <= cert.not_valid_after_utc <= after + span, (case, row.source)
    # JAliEnCommandtoken prints the DN, the end and both PEMs; -nomsg leaves that message out.
    if "-nomsg" in row.options:
        assert "message" not in result
    else:
        message = result["message"]
        assert message.startswith(f"DN: {row.subject.replace(chr(92) + '/', '/')}\n"), (case, message[:120])
        assert "\nExpires: " in message and message.endswith(result["tokencert"] + "\n" + result["tokenkey"])


def test_the_table_covers_every_type_with_and_without_the_right_identity():
    """The issue's list: plain, -v 100, -v 0, -u own and foreign role, each type allowed and refused,
    bad host names, JAliEn's job extension."""
    rows = TABLE.values()
    for kind in ("job", "jobagent", "host"):
        outcomes = {row.exitcode for row in rows if _kind(row) == kind}
        assert 0 in outcomes and 121 in outcomes, kind
    assert {"plain", "-v 100", "-v 0", "-u own role", "-u foreign role: token first, then EPERM",
            "host localhost", "host that does not resolve"} <= set(TABLE)
    assert any("queueid=1/resubmission=0" in row.options for row in rows)
    assert all(row.source for row in rows)


def _kind(row: Row) -> str:
    options = list(row.options)
    if "-t" in options:
        return options[options.index("-t") + 1]
    return "job" if "-jobid" in options else "host" if "-hostname" in options else "user"
