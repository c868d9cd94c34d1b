"""Revocation, only where a CRL exists: jenv cert-verify against `openssl verify -crl_check_all`.

Each case of :func:`ca_corpus.build_crl_cases` is a chain whose CAs have CRLs
(all, some or none of them) beside them in the CA directory (``<hash>.r0``,
as fetch-crl writes them) and inside the bundle (X509_CERT_FILE with X509
CRL blocks); each is verified in both modes (-CApath and -CAfile).

* ``test_openssl_gives_the_built_outcome``: ``openssl verify -crl_check_all``
  gives what the case was built to give.
* ``test_jenv_agrees_where_every_ca_has_a_crl``: where every CA of the chain
  has a CRL, jenv's verdict is openssl's (number, depth, message, exit code);
  a CRL past its next update is the one difference by default: a warning
  line, and the revocations in it still count.
* ``test_jenv_checks_only_where_a_crl_exists``: where only some CAs have a
  CRL, -crl_check_all refuses for the missing ones ("unable to get
  certificate CRL", error 3); jenv refuses only what a present CRL revokes or
  a present CRL that is itself bad, and accepts the rest.  That difference is
  what "only where a CRL exists" means.
* One gap between OpenSSL versions is checked, not skipped: OpenSSL 3 (the
  oracle) checks a self-signed trust anchor against its own CRL, OpenSSL 4
  (jenv's) does not (``CrlCase.openssl4``).
* JENV_CRL=require refuses a CRL past its next update as openssl does;
  JENV_CRL=ignore turns the checks off; an unknown value is refused.
"""

from __future__ import annotations

import os
from typing import Any, Dict

import pytest

from support.ca_corpus import CERT_REVOKED, UNABLE_TO_GET_CRL, CrlCase, build_crl_cases, make_keys
from support.launcher import clean_env, run_jenv
from test_verify_differential import (MODES, OpensslResult, Prepared, _jenv_openssl_major, disagreements, jenv_run,
                                      openssl_run, write_case)

pytestmark = pytest.mark.slow

CRL_CASES = build_crl_cases(make_keys())
PARAMS = [(case, mode) for case in CRL_CASES for mode in MODES]
IDS = [f"{case.name} [{'dir' if mode == '-CApath' else 'file'}]" for case, mode in PARAMS]
_MESSAGES = {"ok": None, CERT_REVOKED: "certificate revoked"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Dict[str, Any]:
    return {"root": tmp_path_factory.mktemp("crl-differential"), "files": {}, "openssl": {}}


def prepare(case: CrlCase, workspace: Dict[str, Any]) -> Prepared:
    files = workspace["files"]
    if case.name not in files:
        files[case.name] = write_case(workspace["root"] / f"case{CRL_CASES.index(case)}", case.case, case.crls)
    return files[case.name]


def oracle(case: CrlCase, mode: str, workspace: Dict[str, Any]) -> OpensslResult:
    key = (case.name, mode)
    if key not in workspace["openssl"]:
        files = prepare(case, workspace)
        workspace["openssl"][key] = openssl_run(files.cert, mode, files.store_for(mode), ["-crl_check_all"])
    return workspace["openssl"][key]


def run(case: CrlCase, mode: str, workspace: Dict[str, Any], **extra: str):
    files = prepare(case, workspace)
    env = files.env(mode)
    env.update(extra)
    result = jenv_run(env)
    result.cert_pem = files.cert.read_bytes()
    return result


def test_the_crl_corpus_covers_every_class() -> None:
    assert len(CRL_CASES) >= 20
    assert len({case.name for case in CRL_CASES}) == len(CRL_CASES)
    outcomes = {case.case.expect for case in CRL_CASES}
    assert {"ok", 3, 8, 11, 12, 23, 36} <= outcomes
    assert any(case.stale for case in CRL_CASES)
    assert sum(not case.every_ca_has_a_crl for case in CRL_CASES) >= 5


@pytest.mark.parametrize(("case", "mode"), PARAMS, ids=IDS)
def test_openssl_gives_the_built_outcome(case: CrlCase, mode: str, workspace) -> None:
    result = oracle(case, mode, workspace)
    assert (result.outcome, result.depth) == case.case.expectation(mode), result.stderr


def _warning_only(case: CrlCase, jenv) -> None:
    """A CRL past its next update that revokes nothing: verified, with one warning line."""
    assert jenv.code == 0 and jenv.data is not None and jenv.data["verified"] is True, jenv.show()
    lines = jenv.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jenv: warning: ") and "next update" in lines[0], jenv.show()


@pytest.mark.parametrize(("case", "mode"), [p for p in PARAMS if p[0].every_ca_has_a_crl],
                         ids=[i for p, i in zip(PARAMS, IDS) if p[0].every_ca_has_a_crl])
def test_jenv_agrees_where_every_ca_has_a_crl(case: CrlCase, mode: str, workspace) -> None:
    result = oracle(case, mode, workspace)
    jenv = run(case, mode, workspace)
    if case.openssl4 is not None and _jenv_openssl_major() >= 4:
        outcome, depth = case.openssl4
        result = OpensslResult(outcome, depth, _MESSAGES.get(outcome, result.message), "")
    problems = disagreements(result, jenv)
    assert not problems, "; ".join(problems) + "\n" + jenv.show()


@pytest.mark.parametrize(("case", "mode"), [p for p in PARAMS if not p[0].every_ca_has_a_crl],
                         ids=[i for p, i in zip(PARAMS, IDS) if not p[0].every_ca_has_a_crl])
def test_jenv_checks_only_where_a_crl_exists(case: CrlCase, mode: str, workspace) -> None:
    result = oracle(case, mode, workspace)
    jenv = run(case, mode, workspace)
    outcome, depth = case.jenv
    if case.stale and outcome == "ok":
        assert result.outcome == 12, result.stderr
        _warning_only(case, jenv)
        return
    if not case.stale and result.outcome == UNABLE_TO_GET_CRL:
        assert (outcome, depth) != (result.outcome, result.depth)  # the difference the test states
    message = _MESSAGES.get(outcome, result.message)
    want = OpensslResult(outcome, depth, message, "")
    problems = disagreements(want, jenv)
    if case.stale:  # refused for the revocation, and warned about the stale CRL first
        warning, _, rest = jenv.stderr.partition("\n")
        assert warning.startswith("jenv: warning: ") and "next update" in warning, jenv.show()
        jenv.stderr = rest
        problems = disagreements(want, jenv)
    assert not problems, "; ".join(problems) + "\n" + jenv.show()


@pytest.mark.parametrize(("case", "mode"), [p for p in PARAMS if p[0].stale],
                         ids=[i for p, i in zip(PARAMS, IDS) if p[0].stale])
def test_require_refuses_a_crl_past_its_next_update(case: CrlCase, mode: str, workspace) -> None:
    result = oracle(case, mode, workspace)
    jenv = run(case, mode, workspace, JENV_CRL="require")
    problems = disagreements(result, jenv)
    assert not problems, "; ".join(problems) + "\n" + jenv.show()


@pytest.mark.parametrize(("case", "mode"), PARAMS, ids=IDS)
def test_ignore_turns_revocation_off(case: CrlCase, mode: str, workspace) -> None:
    """JENV_CRL=ignore: the verdict of `openssl verify` without any CRL check, the CRLs present or not."""
    files = prepare(case, workspace)
    jenv = run(case, mode, workspace, JENV_CRL="ignore")
    problems = disagreements(openssl_run(files.cert, mode, files.store_for(mode)), jenv)
    assert not problems, "; ".join(problems) + "\n" + jenv.show()


def test_an_unknown_policy_is_refused(workspace) -> None:
    case = CRL_CASES[0]
    files = prepare(case, workspace)
    proc = run_jenv(["cert-verify"], clean_env(files.home, X509_USER_CERT=str(files.cert),
                                               X509_CERT_DIR=str(files.store), JENV_CRL="strict"))
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.startswith("jenv: JENV_CRL='strict' is not one of warn, require, ignore")
    assert len(proc.stderr.splitlines()) == 1


def test_revoked_certificate_refused_by_the_real_process(workspace) -> None:
    """`python -m jenv cert-verify` in a subprocess: a revoked leaf is exit 6, "certificate revoked"."""
    case = next(c for c in CRL_CASES if c.name == "crl: revoked leaf")
    proc = run_jenv(["cert-verify"], prepare(case, workspace).env("-CApath"))
    assert proc.returncode == 6, proc.stderr
    assert "certificate revoked" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_token_verify_refuses_a_revoked_token(workspace) -> None:
    """token-verify reads the token's certificate and decides as cert-verify."""
    from cryptography.hazmat.primitives import serialization

    case = next(c for c in CRL_CASES if c.name == "crl: revoked leaf")
    files = prepare(case, workspace)
    key = case.case.target.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
    env = clean_env(files.home, JALIEN_TOKEN_CERT=case.case.target.pem.decode(), JALIEN_TOKEN_KEY=key,
                    X509_CERT_FILE=str(files.bundle))
    proc = run_jenv(["token-verify"], env)
    assert proc.returncode == 6 and "certificate revoked" in proc.stderr, proc.stderr


def test_a_fifo_named_as_a_crl_is_refused_not_waited_on(tmp_path, workspace) -> None:
    """OpenSSL's directory lookup would open a <hash>.r0 FIFO and block for ever: refused first (exit 8)."""
    case = next(c for c in CRL_CASES if c.name == "crl: no CRL at all")
    files = prepare(case, workspace)
    store = tmp_path / "certificates"
    store.mkdir()
    for entry in files.store.iterdir():
        (store / entry.name).symlink_to(entry.resolve())
    digest = next(entry.name for entry in files.store.iterdir() if entry.name.endswith(".0"))[:-2]
    os.mkfifo(store / f"{digest}.r0")
    proc = run_jenv(["cert-verify"], clean_env(files.home, X509_USER_CERT=str(files.cert), X509_CERT_DIR=str(store)))
    assert proc.returncode == 8, proc.stderr
    assert "not a regular file" in proc.stderr and len(proc.stderr.splitlines()) == 1
