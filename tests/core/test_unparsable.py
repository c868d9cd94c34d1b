"""Certificates a library cannot parse are bad input (exit 4), never a crash (issue 9.5).

A version-2 certificate and one with a duplicate extension are built from a
good certificate by editing its signed part and re-signing it
(:func:`pki.edited_certificate`), so everything else about them is right.
Every command that reads a certificate answers exit 4 with one line naming
the file; where OpenSSL itself parses the certificate and rejects it during
verification (cert-verify, token-verify), the answer is OpenSSL's reason.
"""

from __future__ import annotations

import pytest
from cryptography import x509

from support.launcher import run_in_process
from support.pki import TestCA, edited_certificate

pytestmark = pytest.mark.slow

SKI_OID, PLACEHOLDER_OID = b"\x06\x03\x55\x1d\x0e", b"\x06\x03\x55\x1d\x63"  # 2.5.29.14, 2.5.29.99


def _duplicate_extension(ca: TestCA, leaf) -> bytes:
    """A leaf carrying subjectKeyIdentifier twice (the second one was 2.5.29.99 before the edit)."""
    ski = x509.SubjectKeyIdentifier.from_public_key(leaf.key.public_key())
    cert = (x509.CertificateBuilder(leaf.cert.issuer, leaf.cert.subject, leaf.key.public_key(),
                                    leaf.cert.serial_number, leaf.cert.not_valid_before_utc,
                                    leaf.cert.not_valid_after_utc)
            .add_extension(ski, False)
            .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"),
                                                      ski.public_bytes()), False)
            .sign(ca.key, leaf.cert.signature_hash_algorithm))
    return edited_certificate(cert, ca.key, PLACEHOLDER_OID, SKI_OID)


def _version_2(ca: TestCA, leaf) -> bytes:
    return edited_certificate(leaf.cert, ca.key, b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x01")


BUILDERS = {"duplicate extension": _duplicate_extension, "version 2": _version_2}
READERS = ["cert-info", "certkey-match", "status"]


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("command", READERS + ["cert-verify"])
def test_an_unparsable_user_certificate_is_exit_4(kind, command, setup, root_ca, user_rsa):
    pem = BUILDERS[kind](root_ca, user_rsa)
    setup["user"]["cert"].write_bytes(pem)
    result = run_in_process([command], setup["env"])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if command == "cert-verify" and kind == "version 2":
        # OpenSSL parses a v2 certificate and verifies it (as `openssl verify` does): so does jenv.
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return
    assert result.returncode == 4, (command, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("jenv: ") and "usercert.pem" in result.stderr, result.stderr


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("command", ["token-info", "tokenkey-match", "token-verify"])
def test_an_unparsable_token_certificate_is_exit_4(kind, command, setup, inter_ca, token_leaf):
    token_leaf_rsa = inter_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe")
    pem = BUILDERS[kind](inter_ca, token_leaf_rsa)
    setup["token"]["cert"].chmod(0o600)
    setup["token"]["cert"].write_bytes(pem)
    result = run_in_process([command], setup["env"])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    # token-verify too (issue 19): OpenSSL alone would verify a version 2 certificate, but the token is
    # judged once by both libraries, and what cryptography cannot read is no usable token for any command.
    assert result.returncode in (4, 7) if command == "tokenkey-match" else result.returncode == 4, result.stderr
