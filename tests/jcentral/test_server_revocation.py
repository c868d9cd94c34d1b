"""The TLS connection to JCentral refuses a server chain that a CRL of the CA store revokes.

A local service (the real TLS server of ``jenv serve``) presents a host certificate; the client's CA
directory holds the service CA and, beside it, that CA's CRL as ``<hash>.r0`` (as fetch-crl writes
it).  A CRL revoking the host certificate makes ``jenv token-init`` refuse before any request is
sent: exit 9, one line saying "certificate revoked", no token written, no request seen by the
service.  A CRL that revokes something else, no CRL, and JENV_CRL=ignore change nothing.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from jenv.lite.names import subject_hash
from support.launcher import run_jenv
from support.service import Service, build_world, running

pytestmark = pytest.mark.slow

NOW = dt.datetime.now(dt.timezone.utc)


def write_crl(service: Service, revoked: Sequence[int], in_bundle: Optional[Path] = None) -> Path:
    """The service CA's CRL revoking ``revoked`` serials, as ``<hash>.r0`` in the CA directory (or
    appended to ``in_bundle``)."""
    authority = service.world.authority
    builder = (x509.CertificateRevocationListBuilder().issuer_name(authority.cert.subject)
               .last_update(NOW - dt.timedelta(days=1)).next_update(NOW + dt.timedelta(days=7)))
    for serial in revoked:
        builder = builder.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                                  .revocation_date(NOW - dt.timedelta(hours=1)).build())
    pem = builder.sign(authority.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    if in_bundle is not None:
        with in_bundle.open("ab") as out:
            out.write(pem)
        return in_bundle
    path = service.ca_dir / f"{subject_hash(authority.cert.subject.public_bytes())}.r0"
    path.write_bytes(pem)
    return path


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    """A service of its own (its CA directory gets CRLs)."""
    with running(build_world(tmp_path / "pki", "/C=ch/O=jenv test/CN=jenv revocation CA")) as running_service:
        yield running_service


def token_init(service: Service, home: Path, **extra: str):
    home.mkdir(exist_ok=True)
    env = service.env(home, **extra)
    return run_jenv(["token-init"], env), Path(env["TMPDIR"])


def server_serial(service: Service) -> int:
    return service.service.server_credential.cert.serial_number


def test_a_revoked_server_certificate_is_refused_before_any_request(service: Service, tmp_path) -> None:
    write_crl(service, [server_serial(service)])
    proc, tmpdir = token_init(service, tmp_path / "home")
    assert proc.returncode == 9, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jenv: "), proc.stderr
    assert "certificate revoked" in lines[0] and "server certificate" in lines[0], proc.stderr
    assert service.service.requests == 0  # refused before the first frame
    assert not [name for name in os.listdir(tmpdir) if name.startswith("token")]


def test_a_revoked_server_certificate_in_the_bundle_is_refused(service: Service, tmp_path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(service.world.authority.credential.cert_pem)
    write_crl(service, [server_serial(service)], in_bundle=bundle)
    proc, _ = token_init(service, tmp_path / "home", X509_CERT_DIR="", X509_CERT_FILE=str(bundle))
    assert proc.returncode == 9 and "certificate revoked" in proc.stderr, proc.stderr


@pytest.mark.parametrize("setting", ["a CRL revoking another certificate", "no CRL",
                                     "JENV_CRL=ignore with a CRL revoking it"])
def test_otherwise_the_connection_is_as_before(service: Service, tmp_path, setting: str) -> None:
    extra = {}
    if setting == "a CRL revoking another certificate":
        write_crl(service, [server_serial(service) + 1])
    elif setting.startswith("JENV_CRL=ignore"):
        write_crl(service, [server_serial(service)])
        extra["JENV_CRL"] = "ignore"
    proc, _ = token_init(service, tmp_path / "home", **extra)
    assert proc.returncode == 0, proc.stderr
    assert service.token_requests == 1


@pytest.mark.parametrize("revoked", [True, False], ids=["revoked", "another serial revoked"])
def test_the_token_jcentral_sends_is_vetted_against_the_crl(service: Service, revoked: bool) -> None:
    """vet_token (the check before a token is written) refuses a token a CRL of the store revokes."""
    from jenv.errors import VerifyError
    from jenv.jcentral.protocol import TokenPair, TokenRequest
    from jenv.service.issuer import Account, Requester, issue_token
    from jenv.tokens.vet import vet_token

    requester = Requester(Account("jdoe", ("jdoe",)), "jdoe", NOW + dt.timedelta(days=100))
    issued = issue_token(service.world.authority, requester, TokenRequest(), NOW)
    write_crl(service, [issued.cert.serial_number + (0 if revoked else 1)])
    pair = TokenPair(issued.cert.public_bytes(serialization.Encoding.PEM).decode(), issued.key_pem)
    if not revoked:
        vet_token(pair, TokenRequest(), service.world.ca_store)
        return
    with pytest.raises(VerifyError, match="certificate revoked"):
        vet_token(pair, TokenRequest(), service.world.ca_store)


def write_stale_crl(service: Service) -> Path:
    """The service CA's CRL, revoking nothing, whose next update was yesterday."""
    authority = service.world.authority
    pem = (x509.CertificateRevocationListBuilder().issuer_name(authority.cert.subject)
           .last_update(NOW - dt.timedelta(days=8)).next_update(NOW - dt.timedelta(days=1))
           .sign(authority.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    path = service.ca_dir / f"{subject_hash(authority.cert.subject.public_bytes())}.r0"
    path.write_bytes(pem)
    return path


def test_a_stale_crl_is_one_warning_line_in_the_token_path_and_refused_with_require(service, tmp_path):
    """Issue 21.4: a CRL past its next update warns once by default (its revocations still count) when a
    token is made, as cert-verify does; JENV_CRL=require refuses; JENV_CRL=ignore says nothing."""
    write_stale_crl(service)
    result, tmp = token_init(service, tmp_path / "warn")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("jenv: warning:")]
    assert len(warnings) == 1 and "next update" in warnings[0], result.stderr
    assert (tmp / f"tokencert_{os.getuid()}.pem").exists()
    ignored, _tmp = token_init(service, tmp_path / "ignore", JENV_CRL="ignore")
    assert ignored.returncode == 0 and "warning" not in ignored.stderr, ignored.stderr
    required, tmp = token_init(service, tmp_path / "require", JENV_CRL="require")
    assert required.returncode != 0 and "CRL" in required.stderr and len(required.stderr.splitlines()) == 1
    assert not (tmp / f"tokencert_{os.getuid()}.pem").exists()
