"""`jenv crl-fetch`: each CA's CRL from the crl_url of its <alias>.info, checked, installed as fetch-crl does.

A local plain-http server (tests/support/ca_server.py, ``plain=True``) serves the CRLs.  The oracles are the
openssl command: ``openssl x509 -subject_hash`` / ``-subject_hash_old`` name the files, ``openssl verify
-crl_check -CApath`` refuses the revoked certificate once the CRL is installed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support.ca_corpus import DAY, NOW, Cert, issue, make_crl, make_keys, name
from support.ca_server import Route, fetch_env, openssl_hash, serve
from support.snapshot import snapshot
from support.launcher import run_jenv

pytestmark = pytest.mark.slow

KEYS = make_keys()
CA_A = issue(name("Fetch CA A"), KEYS["rsa0"])
CA_B = issue(name("Fetch CA B"), KEYS["ec0"])
USER_A = issue(name("Fetch User A"), KEYS["ec1"], CA_A, ca=False)


def openssl_x509(pem: bytes, option: str) -> str:
    return subprocess.run(["openssl", "x509", "-noout", option], input=pem, capture_output=True,
                          check=True).stdout.decode().strip()


def crl_names(ca: Cert) -> Tuple[str, str]:
    """The file names fetch-crl gives a CA's CRL, by the openssl command."""
    return f"{openssl_x509(ca.pem, '-subject_hash')}.r0", f"{openssl_x509(ca.pem, '-subject_hash_old')}.r0"


def der(pem: bytes) -> bytes:
    return x509.load_pem_x509_crl(pem).public_bytes(serialization.Encoding.DER)


def make_store(tmp_path: Path, base: str, urls: Dict[str, str]) -> Path:
    """An IGTF-style CA directory: <alias>.pem, its <hash>.0 link, <alias>.info with crl_url (if any)."""
    store = tmp_path / "certificates"
    store.mkdir()
    for alias, ca in (("FetchA", CA_A), ("FetchB", CA_B)):
        (store / f"{alias}.pem").write_bytes(ca.pem)
        os.symlink(f"{alias}.pem", store / f"{openssl_hash(ca.pem)}.0")
        info = f"alias = {alias}\nversion = 1.0\n"
        if alias in urls:
            info += f"crl_url = {base}{urls[alias]}\n"
        (store / f"{alias}.info").write_text(info + "status = accredited:classic\n")
    return store


def crl_fetch(store: Path, home: Path, *args: str, **env: str):
    home.mkdir(exist_ok=True)
    return run_jenv(["crl-fetch", *args, str(store)], fetch_env(home, **env))


@pytest.fixture
def routes() -> Dict[str, Route]:
    return {"/a.crl": Route(make_crl(CA_A, [USER_A])), "/b.crl": Route(der(make_crl(CA_B)))}


def test_installs_each_crl_under_both_hashes_and_openssl_then_refuses_the_revoked(tmp_path, routes) -> None:
    with serve(routes, plain=True) as base:
        store = make_store(tmp_path, base, {"FetchA": "/a.crl", "FetchB": "/b.crl"})
        proc = crl_fetch(store, tmp_path / "home", "--json")
    assert proc.returncode == 0, proc.stderr
    results = {item["alias"]: item for item in json.loads(proc.stdout)["results"]}
    assert {alias: item["state"] for alias, item in results.items()} == {"FetchA": "installed", "FetchB": "installed"}
    for ca in (CA_A, CA_B):
        for file_name in crl_names(ca):  # the subject hash and the old (MD5) subject hash, as fetch-crl
            data = (store / file_name).read_bytes()
            assert data.startswith(b"-----BEGIN X509 CRL-----")  # the DER one is installed as PEM too
            assert (store / file_name).stat().st_mode & 0o777 == 0o644
    user = tmp_path / "user.pem"
    user.write_bytes(USER_A.pem)
    oracle = subprocess.run(["openssl", "verify", "-crl_check", "-CApath", str(store), "-no-CAfile", "-no-CAstore",
                             str(user)], capture_output=True, text=True)
    assert "certificate revoked" in oracle.stderr, oracle.stderr
    verdict = run_jenv(["cert-verify"], fetch_env(tmp_path / "home", X509_USER_CERT=str(user),
                                                  X509_CERT_DIR=str(store)))
    assert verdict.returncode == 6 and "certificate revoked" in verdict.stderr, verdict.stderr


def test_an_unchanged_crl_is_touched(tmp_path, routes) -> None:
    with serve(routes, plain=True) as base:
        store = make_store(tmp_path, base, {"FetchA": "/a.crl"})
        assert crl_fetch(store, tmp_path / "home").returncode == 0
        path = store / crl_names(CA_A)[0]
        before = path.read_bytes()
        os.utime(path, (1_000_000_000, 1_000_000_000))
        proc = crl_fetch(store, tmp_path / "home", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["state"] == "unchanged"
    assert path.read_bytes() == before and path.stat().st_mtime > 1_000_000_000


@pytest.mark.parametrize("served", ["signed by another key", "another CA's CRL", "not a CRL", "older than installed",
                                    "larger than the limit"])
def test_a_crl_that_does_not_verify_is_refused_and_the_installed_one_kept(tmp_path, served: str) -> None:
    installed = make_crl(CA_A, number=5)
    bodies = {
        "signed by another key": Route(make_crl(CA_A, [USER_A], signer_key=KEYS["rsa1"], number=6)),
        "another CA's CRL": Route(make_crl(CA_B, number=6)),
        "not a CRL": Route(b"<html>maintenance</html>"),
        "older than installed": Route(make_crl(CA_A, [USER_A], last_update=NOW - 10 * DAY, number=4)),
        "larger than the limit": Route(b"", mode="claim-huge"),
    }
    with serve({"/a.crl": bodies[served]}, plain=True) as base:
        store = make_store(tmp_path, base, {"FetchA": "/a.crl"})
        for file_name in crl_names(CA_A):
            (store / file_name).write_bytes(installed)
        before = snapshot(store)
        proc = crl_fetch(store, tmp_path / "home")
    assert proc.returncode == 4, proc.stderr
    assert "jenv: CRL of FetchA not installed: " in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(store) == before


def test_one_deadline_for_all_the_downloads(tmp_path) -> None:
    """Two servers that send one byte every 0.3 s: JENV_TIMEOUT=1 ends both, nothing is installed."""
    slow = {"/a.crl": Route(make_crl(CA_A), mode="drip"), "/b.crl": Route(make_crl(CA_B), mode="drip")}
    with serve(slow, plain=True) as base:
        store = make_store(tmp_path, base, {"FetchA": "/a.crl", "FetchB": "/b.crl"})
        before = snapshot(store)
        proc = crl_fetch(store, tmp_path / "home", JENV_TIMEOUT="1")
    assert proc.returncode == 9, proc.stderr
    assert proc.stderr.count("JENV_TIMEOUT") == 2, proc.stderr
    assert snapshot(store) == before


def test_ca_info_shows_the_crls_ages_and_next_updates(tmp_path, routes) -> None:
    with serve(routes, plain=True) as base:
        store = make_store(tmp_path, base, {"FetchA": "/a.crl", "FetchB": "/b.crl"})
        assert crl_fetch(store, tmp_path / "home").returncode == 0
    (store / "FetchB.info").unlink()
    stale = make_crl(CA_B, last_update=NOW - 9 * DAY, next_update=NOW - 2 * DAY)
    for file_name in crl_names(CA_B):
        (store / file_name).write_bytes(stale)
    env = fetch_env(tmp_path / "home", X509_CERT_DIR=str(store))
    data = json.loads(run_jenv(["ca-info", "--json"], env).stdout)
    by_issuer = {item["issuer"]: item for item in data["crls"]}
    assert set(by_issuer) == {"/C=ch/O=jenv-diff/CN=Fetch CA A", "/C=ch/O=jenv-diff/CN=Fetch CA B"}
    assert by_issuer["/C=ch/O=jenv-diff/CN=Fetch CA B"]["stale"] is True
    assert by_issuer["/C=ch/O=jenv-diff/CN=Fetch CA A"]["stale"] is False
    text = run_jenv(["ca-info"], env).stdout
    assert "CRLs" in text and "past its next update" in text and "Fetch CA B" in text
    status = run_jenv(["status"], env).stdout
    assert "2 CRLs" in status and "1 past next update" in status


def test_subject_hash_old_is_openssls() -> None:
    from jenv.ca.crl import subject_hash_old

    for ca in (CA_A, CA_B, USER_A):
        assert subject_hash_old(ca.cert.subject.public_bytes()) == openssl_x509(ca.pem, "-subject_hash_old")
