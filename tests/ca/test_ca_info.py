"""jenv ca-info on real CA directories and bundles, and the tarball flattening rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.ca_server import GOOD, INTER, OLD, ROOT, SOON, TWIN_A, Tarball, openssl_hash
from support.launcher import clean_env, run_jenv
from jenv.ca.fetch import install_flat_store
from jenv.ca.tarball import flatten_ca_tarball

pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path: Path) -> Path:
    target = tmp_path / "certificates"
    install_flat_store(flatten_ca_tarball(GOOD), str(target))
    return target


def test_ca_info_counts_and_checks_a_fetched_store(store: Path, tmp_path: Path) -> None:
    result = run_jenv(["ca-info"], clean_env(tmp_path / "h", X509_CERT_DIR=str(store)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"location    {store} (from X509_CERT_DIR)" in out
    assert "CAs         6" in out and "expired     1" in out and "expiring    1 within 30 days" in out
    assert "hash links  6, consistent" in out
    assert "/C=ch/O=jenv-diff/CN=Fetch Old CA (expired" in out
    assert "/C=ch/O=jenv-diff/CN=Fetch Soon CA (expires" in out

    data = json.loads(run_jenv(["ca-info", "--json"], clean_env(tmp_path / "h", X509_CERT_DIR=str(store))).stdout)
    assert data["count"] == 6 and data["hash_links"] == 6 and data["links_consistent"] is True
    assert data["expired"] == 1 and data["expiring_soon"] == 1 and data["problems"] == []


def test_ca_info_reports_inconsistent_links(store: Path, tmp_path: Path) -> None:
    os.unlink(store / f"{openssl_hash(INTER.pem)}.0")  # a CA nobody can find any more
    os.symlink("Fetch-Root.pem", store / "deadbeef.0")  # a link under the wrong hash
    os.symlink("Fetch-Root.pem", store / f"{openssl_hash(SOON.pem)}.3")  # a gap after .0
    result = run_jenv(["ca-info", "--json"], clean_env(tmp_path / "h", X509_CERT_DIR=str(store)))
    assert result.returncode == 4
    data = json.loads(result.stdout)
    assert data["links_consistent"] is False
    problems = "\n".join(data["problems"])
    assert "deadbeef.0 holds a certificate whose subject hash is" in problems
    assert "not numbered 0, 1" in problems
    assert "1 certificate file(s) have no <hash>.N link" in problems
    assert "jenv ca-fetch" in result.stderr


def test_ca_info_on_a_bundle_file(tmp_path: Path) -> None:
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(ROOT.pem + TWIN_A.pem + OLD.pem)
    result = run_jenv(["ca-info"], clean_env(tmp_path / "h", X509_CERT_FILE=str(bundle)))
    assert result.returncode == 0, result.stderr
    assert "bundle file" in result.stdout and "CAs         3" in result.stdout and "n/a" in result.stdout


@pytest.mark.parametrize("var", ["X509_CERT_DIR", "X509_CERT_FILE"])
def test_missing_explicit_store_names_the_variable_and_the_fix(var: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    for command in (["ca-info"], ["cert-verify"]):
        env = clean_env(tmp_path / "h", **{var: str(missing), "X509_USER_CERT": str(tmp_path / "u.pem")})
        (tmp_path / "u.pem").write_bytes(ROOT.pem)
        result = run_jenv(command, env)
        assert result.returncode == 3
        assert f"{var}={missing} does not exist" in result.stderr and "jenv ca-fetch" in result.stderr


def test_bundle_without_certificates_is_invalid(tmp_path: Path) -> None:
    bundle = tmp_path / "cas.pem"
    bundle.write_text("not a certificate\n")
    result = run_jenv(["ca-info"], clean_env(tmp_path / "h", X509_CERT_FILE=str(bundle)))
    assert result.returncode == 4 and "holds no PEM certificate" in result.stderr


def test_empty_directory_names_the_fix_once(tmp_path: Path) -> None:
    empty = tmp_path / "cas"
    empty.mkdir()
    result = run_jenv(["ca-info"], clean_env(tmp_path / "h", X509_CERT_DIR=str(empty)))
    assert result.returncode == 4 and len(result.stderr.splitlines()) == 1
    assert f"no CA certificates in {empty}" in result.stderr and result.stderr.count("jenv ca-fetch") == 1


def test_flatten_rules() -> None:
    """Hard links inside the archive, certificates stored under hash names, clashing names, top files."""
    inter_hash = openssl_hash(INTER.pem)
    flat = flatten_ca_tarball(
        Tarball()
        .ca("b1", "Fetch-Root", ROOT.pem)
        .file(f"alien-cas-master/b1/{inter_hash}.0", INTER.pem)  # a certificate under its hash name
        .file("alien-cas-master/b1/Same.info", b"one\n")
        .file("alien-cas-master/b2/Same.info", b"two\n")
        .link("alien-cas-master/b2/Copy.info", "alien-cas-master/b1/Fetch-Root.info", hard=True)
        .file("alien-cas-master/b2/notes.txt", b"skipped\n")
        .build())
    assert flat.certificates == 2 and flat.hash_links == 2
    assert flat.links[f"{inter_hash}.0"] == f"{inter_hash}.0.pem" and f"{inter_hash}.0.pem" in flat.files
    assert flat.files["Same.info"] == b"one\n" and flat.files["b2-Same.info"] == b"two\n"
    assert flat.links["Copy.info"] == "Fetch-Root.info"
    assert "alien-cas-master/README.md" in flat.skipped and "alien-cas-master/b2/notes.txt" in flat.skipped


def test_fifo_in_the_store_never_hangs(store: Path, tmp_path: Path) -> None:
    """A FIFO under a hash name (or as the bundle) is refused (exit 8), never waited on."""
    cert = tmp_path / "user.pem"
    cert.write_bytes(ROOT.pem)
    link = store / f"{openssl_hash(ROOT.pem)}.0"
    link.unlink()
    os.mkfifo(link)
    result = run_jenv(["cert-verify"], clean_env(tmp_path / "h", X509_USER_CERT=str(cert),
                                                 X509_CERT_DIR=str(store)), timeout=20)
    assert result.returncode == 8 and "is not a regular file" in result.stderr
    result = run_jenv(["ca-info"], clean_env(tmp_path / "h", X509_CERT_FILE=str(link)), timeout=20)
    assert result.returncode == 8 and "is not a regular file" in result.stderr
