"""jenv cert-verify agrees with `openssl verify` on every chain of the corpus.

For each case the same files are given to ``openssl verify -CApath DIR``
(and ``-CAfile BUNDLE``) and to ``jenv cert-verify --json`` with
X509_USER_CERT and X509_CERT_DIR (X509_CERT_FILE).  OpenSSL's first error
(number and depth) is mapped to jenv's reason; both must also match what the
case was built to be, so a corpus that silently stopped testing its bad
cases would fail too.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import pytest

from ca_corpus import Case, build_cases, make_keys, write_store
from jenvtest import clean_env, run_jenv
from jenv.cli import main

#: OpenSSL X509_V_ERR_* numbers -> jenv reason (depth 0 = the certificate itself).
_OPENSSL_REASONS = {
    2: "unknown issuer",  # unable to get issuer certificate
    18: "unknown issuer",  # self-signed certificate
    19: "unknown issuer",  # self-signed certificate in chain
    20: "unknown issuer",  # unable to get local issuer certificate
    7: "bad signature",
    24: "invalid CA",
    79: "invalid CA",  # X509_V_ERR_INVALID_CA in OpenSSL 3
    32: "invalid CA",  # key usage does not include certificate signing
    25: "path length exceeded",
    34: "unhandled critical extension",
}
_ERROR = re.compile(r"error (\d+) at (\d+) depth lookup")

KEYS = make_keys()
CASES = build_cases(KEYS)


def openssl_verdict(cert: Path, option: str, store: Path) -> Tuple[str, int]:
    """(reason, depth) of ``openssl verify``, in jenv's words."""
    others = ["-no-CAfile", "-no-CAstore"] if option == "-CApath" else ["-no-CApath", "-no-CAstore"]
    proc = subprocess.run(["openssl", "verify", option, str(store), *others, str(cert)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode == 0:
        assert proc.stdout.strip().endswith(": OK"), proc.stdout
        return "ok", 0
    found = _ERROR.search(proc.stderr)
    assert found, proc.stderr
    code, depth = int(found.group(1)), int(found.group(2))
    if code in (9, 10):
        words = "not yet valid" if code == 9 else "expired"
        if depth:
            return ("CA not yet valid" if code == 9 else "expired CA"), depth
        return words, depth
    return _OPENSSL_REASONS.get(code, f"openssl error {code}"), depth


def jenv_verdict(env: Dict[str, str]) -> Tuple[str, int, int]:
    """(reason, depth, exit code) of ``jenv cert-verify --json``, run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["cert-verify", "--json"], env)
    assert "Traceback" not in err.getvalue()
    data = json.loads(out.getvalue())
    return data["reason"], data["depth"], code


def _exit_code_for(reason: str) -> int:
    return {"ok": 0, "expired": 5, "not yet valid": 5}.get(reason, 6)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def test_corpus_is_big_and_varied() -> None:
    assert len(CASES) >= 20
    reasons = {case.expect for case in CASES}
    assert {"ok", "unknown issuer", "expired", "not yet valid", "bad signature", "expired CA"} <= reasons
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_jenv_agrees_with_openssl(case: Case, corpus_dir: Path) -> None:
    work = corpus_dir / re.sub(r"\W+", "-", case.name)
    store, bundle = write_store(work, case.store)
    cert = work / "usercert.pem"
    cert.write_bytes(case.target.pem)
    home = work / "home"
    home.mkdir()

    expected = (case.expect, case.depth)
    assert openssl_verdict(cert, "-CApath", store) == expected
    reason, depth, code = jenv_verdict(clean_env(home, X509_USER_CERT=str(cert), X509_CERT_DIR=str(store)))
    assert (reason, depth) == expected
    assert code == _exit_code_for(case.expect)

    if case.bundle_too and case.store:
        assert openssl_verdict(cert, "-CAfile", bundle) == expected
        reason, depth, code = jenv_verdict(clean_env(home, X509_USER_CERT=str(cert), X509_CERT_FILE=str(bundle)))
        assert (reason, depth) == expected
        assert code == _exit_code_for(case.expect)


@pytest.mark.parametrize("name", ["leaf from intermediate", "bad signature, no key id", "expired leaf"])
def test_real_command_in_subprocess(name: str, corpus_dir: Path) -> None:
    """The real `python -m jenv` process: verdict on stdout, reason and fix on stderr, documented exit code."""
    case = next(c for c in CASES if c.name == name)
    work = corpus_dir / ("sub-" + re.sub(r"\W+", "-", name))
    store, _ = write_store(work, case.store)
    cert = work / "usercert.pem"
    cert.write_bytes(case.target.pem)
    env = clean_env(work / "home", X509_USER_CERT=str(cert), X509_CERT_DIR=str(store))
    result = run_jenv(["cert-verify"], env)
    assert result.returncode == _exit_code_for(case.expect)
    assert "subject     /C=ch/O=jenv-diff/CN=" in result.stdout
    if case.expect == "ok":
        assert "verify      OK" in result.stdout
        assert result.stderr == ""
        assert "issued by   /C=ch/O=jenv-diff/CN=Diff Root" in result.stdout
    else:
        assert f"FAILED: {case.expect}" in result.stdout
        assert f"does not verify: {case.expect}" in result.stderr
        assert len(result.stderr.splitlines()) == 1


def test_token_verify_takes_pem_content(corpus_dir: Path) -> None:
    """JALIEN_TOKEN_CERT holding the PEM itself is verified like a file."""
    case = next(c for c in CASES if c.name == "leaf from intermediate")
    store, _ = write_store(corpus_dir / "token", case.store)
    env = clean_env(corpus_dir / "token" / "home", JALIEN_TOKEN_CERT=case.target.pem.decode(),
                    X509_CERT_DIR=str(store))
    result = run_jenv(["token-verify", "--json"], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verified"] is True and data["from_content"] is True
    assert data["chain"][-1] == "/C=ch/O=jenv-diff/CN=Diff Root"
