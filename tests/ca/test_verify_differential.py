"""An attacker's differential test: jenv cert-verify against `openssl verify` (OpenSSL 3).

Every case of the corpus (tests/support/ca_corpus.py: good chains and a few
hundred hostile or odd ones) is verified twice by each side: with the CA
directory (``openssl verify -CApath DIR -no-CAfile -no-CAstore`` and
X509_CERT_DIR) and with the bundle (``-CAfile BUNDLE -no-CApath
-no-CAstore`` and X509_CERT_FILE).

Two tests per case and mode:

* ``test_openssl_gives_the_built_outcome``: openssl's verdict is what the
  case was built to be ("ok", or error N at depth D, or "cannot read").  A
  corpus that silently stopped testing its bad cases fails here.
* ``test_jenv_agrees_with_openssl``: ``jenv cert-verify --json``, run in
  process, gives openssl's verdict; on failure the same X509_V_ERR number
  (``openssl_error``), depth and message (``openssl_message``), one
  ``jenv: `` line on stderr holding openssl's message, and exit code 5 for
  "not yet valid"/"expired" at depth 0, 6 for any other verification error,
  4 when OpenSSL cannot read the certificate at all; 0 and an empty stderr
  when it verifies.  Never a traceback.

Three gaps between the oracle and jenv are not disagreements, and are checked
as such rather than skipped:

* jenv's OpenSSL is the one pyOpenSSL loads (the copy bundled with
  ``cryptography``, a newer major version than this machine's ``openssl``).
  The error number and depth must match exactly; the text must *contain*
  openssl's (the newer one says "certificate is not yet valid or the system
  clock is incorrect" where 3.0 says "certificate is not yet valid").
* A certificate ``cryptography`` cannot parse (a known extension twice, a
  malformed field) is bad input for jenv: exit 4, "not a usable certificate".
  The verdict must still be openssl's (rejected), and the line must still
  carry openssl's reason wherever jenv's OpenSSL could parse the certificate.
* The directory lookup is OpenSSL's own (``by_dir``) in both; OpenSSL 3's
  stops at a ``<hash>.N`` file it cannot read, OpenSSL 4's reads on to
  ``<hash>.N+1``: with jenv's OpenSSL 4, an issuer behind an unreadable
  ``.0`` is found (:data:`BY_DIR_READS_ON`).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import pytest
from cryptography.hazmat.primitives import serialization

from support.ca_corpus import (REQUIRED_KINDS, UNABLE_TO_GET_ISSUER_CERT_LOCALLY as UNABLE_TO_GET_LOCAL_ISSUER, UNPARSEABLE,
                       Case, build_cases, make_keys, write_crls, write_store)
from support.launcher import clean_env, run_jenv
from jenv.cli import main

pytestmark = pytest.mark.slow

KEYS = make_keys()
CASES = build_cases(KEYS)
MODES = ("-CApath", "-CAfile")
PARAMS = [(case, mode) for case in CASES for mode in MODES]
IDS = [f"{case.name} [{'dir' if mode == '-CApath' else 'file'}]" for case, mode in PARAMS]

#: The first "error N at D depth lookup: MESSAGE" line of `openssl verify`'s stderr.
_ERROR = re.compile(r"^error (\d+) at (\d+) depth lookup: (.*)$", re.MULTILINE)
#: What `openssl verify` says when it cannot read the certificate to verify.
_UNREADABLE = re.compile(r"Could not read certificate|unable to load", re.IGNORECASE)
_NOT_VALID_NOW = (9, 10)  # X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED
#: Cases where OpenSSL 4's by_dir (jenv's, through pyOpenSSL) reads past an unreadable <hash>.N file that
#: OpenSSL 3's (the oracle's) stops at: the issuer behind it is found.
BY_DIR_READS_ON = frozenset({"unreadable <hash>.0 in front of the issuer at .1"})


def _jenv_openssl_major() -> int:
    from OpenSSL import SSL

    return int(SSL.OpenSSL_version(SSL.OPENSSL_VERSION).split()[1].split(b".")[0])


@dataclass(frozen=True)
class OpensslResult:
    """What `openssl verify` said: outcome "ok", an error number, or "unparseable"; depth; message."""

    outcome: Union[str, int]
    depth: int
    message: Optional[str]
    stderr: str


def openssl_run(cert: Path, option: str, store: Path, extra: Sequence[str] = ()) -> OpensslResult:
    """Run ``openssl verify`` with only ``store`` (``option`` is -CApath or -CAfile) and ``extra``
    options (-crl_check_all), and read its verdict."""
    others = ["-no-CAfile", "-no-CAstore"] if option == "-CApath" else ["-no-CApath", "-no-CAstore"]
    proc = subprocess.run(["openssl", "verify", option, str(store), *others, *extra, str(cert)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode == 0:
        assert proc.stdout.strip().endswith(": OK"), proc.stdout
        return OpensslResult("ok", 0, None, proc.stderr)
    found = _ERROR.search(proc.stderr)
    if found:
        return OpensslResult(int(found.group(1)), int(found.group(2)), found.group(3), proc.stderr)
    assert _UNREADABLE.search(proc.stderr), f"unexpected openssl output: {proc.stderr}"
    return OpensslResult(UNPARSEABLE, 0, None, proc.stderr)


@dataclass(frozen=True)
class Prepared:
    """A case's files: the certificate, the CA directory, the bundle, a HOME."""

    cert: Path
    store: Path
    bundle: Path
    home: Path

    def env(self, mode: str) -> Dict[str, str]:
        where = {"X509_CERT_DIR": str(self.store)} if mode == "-CApath" else {"X509_CERT_FILE": str(self.bundle)}
        return clean_env(self.home, X509_USER_CERT=str(self.cert), **where)

    def store_for(self, mode: str) -> Path:
        return self.store if mode == "-CApath" else self.bundle


@dataclass
class JenvResult:
    """jenv's exit code, stdout, stderr and the JSON it printed (None if none or not JSON)."""

    code: Optional[int]
    stdout: str
    stderr: str
    data: Optional[Dict[str, Any]]
    raised: Optional[str] = None
    cert_pem: bytes = b""

    def show(self) -> str:
        return (f"exit {self.code}{' raised ' + self.raised if self.raised else ''}\n"
                f"stdout: {self.stdout.strip()}\nstderr: {self.stderr.strip()}")


def jenv_run(env: Dict[str, str]) -> JenvResult:
    """``jenv cert-verify --json`` in process, stdout and stderr captured; exceptions caught and reported."""
    out, err = io.StringIO(), io.StringIO()
    code: Optional[int] = None
    raised = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["cert-verify", "--json"], env)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:  # a crash is a disagreement, not an error of this test
            raised = f"{type(exc).__name__}: {exc}"
    try:
        data = json.loads(out.getvalue()) if out.getvalue().strip() else None
    except ValueError:
        data = None
    return JenvResult(code, out.getvalue(), err.getvalue(), data, raised)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Dict[str, Any]:
    """Per-module caches: the written files of each case and openssl's answers."""
    return {"root": tmp_path_factory.mktemp("differential"), "files": {}, "openssl": {}}


def prepare(case: Case, workspace: Dict[str, Any]) -> Prepared:
    """Write ``case``'s certificate, CA directory and bundle (once per module)."""
    files = workspace["files"]
    if case.name not in files:
        files[case.name] = write_case(workspace["root"] / f"case{CASES.index(case)}", case)
    return files[case.name]


def write_case(work: Path, case: Case, crls: Sequence[bytes] = ()) -> Prepared:
    """``case``'s certificate, CA directory and bundle (with ``crls``, :func:`write_crls`) under ``work``."""
    store, bundle = write_store(work, case.store, case.links)
    write_crls(store, bundle, crls)
    cert = work / "usercert.pem"
    cert.write_bytes(case.target.pem)
    home = work / "home"
    home.mkdir()
    return Prepared(cert, store, bundle, home)


def openssl_for(case: Case, mode: str, workspace: Dict[str, Any]) -> OpensslResult:
    """openssl's verdict on ``case`` in ``mode`` (run once per module)."""
    key = (case.name, mode)
    if key not in workspace["openssl"]:
        files = prepare(case, workspace)
        workspace["openssl"][key] = openssl_run(files.cert, mode, files.store_for(mode))
    return workspace["openssl"][key]


def expected_exit(result: OpensslResult) -> int:
    """jenv's exit code for openssl's verdict."""
    if result.outcome == "ok":
        return 0
    if result.outcome == UNPARSEABLE:
        return 4
    return 5 if result.outcome in _NOT_VALID_NOW and result.depth == 0 else 6


def _refused_as_unusable(result: OpensslResult, jenv: JenvResult) -> Optional[List[str]]:
    """The second documented gap: jenv says exit 4 "not a usable certificate" for a certificate that
    cryptography cannot parse.  None when that is not what happened; else the problems with it."""
    if jenv.code != 4 or "not a usable certificate" not in jenv.stderr or result.outcome in ("ok", UNPARSEABLE):
        return None
    problems = []
    if not _cryptography_rejects(jenv.cert_pem):
        problems.append("exit 4 for a certificate cryptography parses")
    lines = jenv.stderr.splitlines()
    if len(lines) != 1 or not lines[0].startswith("jenv: "):
        problems.append("stderr is not exactly one 'jenv: ' line")
    elif result.message not in lines[0] and "OpenSSL cannot parse it" not in lines[0]:
        problems.append(f"stderr lacks openssl's message {result.message!r}")
    if jenv.stdout:
        problems.append("stdout on a refusal")
    return problems


def _cryptography_rejects(pem: bytes) -> bool:
    import warnings

    from cryptography import x509

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cert = x509.load_pem_x509_certificate(pem)
            cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc, cert.extensions
    except Exception:  # noqa: BLE001  (any refusal counts: that is the question)
        return True
    return False


def disagreements(result: OpensslResult, jenv: JenvResult) -> List[str]:
    """Every way jenv's answer differs from openssl's (an empty list: they agree)."""
    unusable = _refused_as_unusable(result, jenv)
    if unusable is not None:
        return unusable
    problems: List[str] = []
    if jenv.raised:
        problems.append(f"main() raised {jenv.raised}")
    if "Traceback" in jenv.stderr or "Traceback" in jenv.stdout:
        problems.append("a traceback was printed")
    if jenv.code != expected_exit(result):
        problems.append(f"exit code {jenv.code}, expected {expected_exit(result)}")
    lines = jenv.stderr.splitlines()
    if result.outcome == "ok":
        if jenv.stderr:
            problems.append("stderr not empty on success")
    elif len(lines) != 1 or not lines[0].startswith("jenv: "):
        problems.append("stderr is not exactly one 'jenv: ' line")
    elif result.message and result.message not in lines[0]:
        problems.append(f"stderr lacks openssl's message {result.message!r}")
    data = jenv.data
    if result.outcome == UNPARSEABLE:
        if data is not None and data.get("verified") is not False:
            problems.append("JSON does not say verified: false")
        return problems
    if data is None:
        problems.append("no JSON on stdout")
        return problems
    if data.get("verified") is not (result.outcome == "ok"):
        problems.append(f"verified is {data.get('verified')!r}, openssl says {result.outcome}")
    if result.outcome == "ok":
        if data.get("openssl_error") is not None:
            problems.append(f"openssl_error {data.get('openssl_error')!r} on success")
        return problems
    want = {"openssl_error": result.outcome, "depth": result.depth}
    for field_name, value in want.items():
        if field_name not in data:
            problems.append(f"no {field_name!r} in the JSON")
        elif data[field_name] != value:
            problems.append(f"{field_name} is {data[field_name]!r}, openssl says {value!r}")
    message = data.get("openssl_message")
    if result.message and (not isinstance(message, str) or result.message not in message):
        problems.append(f"openssl_message is {message!r}, openssl says {result.message!r}")
    return problems


# --- the corpus itself -------------------------------------------------------------------------

def test_corpus_is_big_and_covers_every_class() -> None:
    assert len(CASES) >= 150
    assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"
    kinds = {case.kind for case in CASES}
    assert REQUIRED_KINDS <= kinds, f"classes without a case: {sorted(REQUIRED_KINDS - kinds)}"
    outcomes = {case.expectation(mode)[0] for case in CASES for mode in MODES}
    # The bad cases must be there, and fail in many different ways.
    assert {"ok", UNPARSEABLE, 2, 7, 9, 10, 18, 20, 25, 34, 40, 46, 79} <= outcomes, sorted(map(str, outcomes))
    assert sum(case.expect != "ok" for case in CASES) >= len(CASES) // 2
    # Cases where directory and bundle differ (hash names, unreadable .0) exist.
    assert any(case.file_expect is not None for case in CASES)


@pytest.mark.parametrize(("case", "mode"), PARAMS, ids=IDS)
def test_openssl_gives_the_built_outcome(case: Case, mode: str, workspace) -> None:
    result = openssl_for(case, mode, workspace)
    assert (result.outcome, result.depth) == case.expectation(mode), result.stderr


@pytest.mark.parametrize(("case", "mode"), PARAMS, ids=IDS)
def test_jenv_agrees_with_openssl(case: Case, mode: str, workspace) -> None:
    result = openssl_for(case, mode, workspace)
    files = prepare(case, workspace)
    jenv = jenv_run(files.env(mode))
    jenv.cert_pem = files.cert.read_bytes()
    if case.name in BY_DIR_READS_ON and mode == "-CApath" and _jenv_openssl_major() >= 4:
        assert result.outcome == UNABLE_TO_GET_LOCAL_ISSUER, result.stderr  # OpenSSL 3 stopped
        result = OpensslResult("ok", 0, None, "")  # OpenSSL 4 read on and found the issuer
    problems = disagreements(result, jenv)
    verdict = "OK" if result.outcome == "ok" else (
        "cannot read the certificate" if result.outcome == UNPARSEABLE else
        f"error {result.outcome} at depth {result.depth}: {result.message}")
    assert not problems, (f"openssl {mode}: {verdict}\njenv disagrees: " + "; ".join(problems)
                          + "\n" + jenv.show())


# --- the real process ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["leaf from intermediate", "bad signature, no key id",
                                  "RSA chain of 3, expired at depth 0", "PEM of a truncated certificate"])
def test_real_command_in_subprocess(name: str, workspace) -> None:
    """The real `python -m jenv` process: exit code as documented, one stderr line with openssl's message."""
    case = next(c for c in CASES if c.name == name)
    result = openssl_for(case, "-CApath", workspace)
    proc = run_jenv(["cert-verify"], prepare(case, workspace).env("-CApath"))
    assert proc.returncode == expected_exit(result), proc.stderr
    if result.outcome == "ok":
        assert proc.stderr == ""
    else:
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("jenv: "), proc.stderr
        assert result.message is None or result.message in proc.stderr


def test_token_verify_takes_pem_content(workspace) -> None:
    """JALIEN_TOKEN_CERT holding the PEM itself is verified like a file."""
    case = next(c for c in CASES if c.name == "leaf from intermediate")
    files = prepare(case, workspace)
    key = case.target.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    env = clean_env(files.home, JALIEN_TOKEN_CERT=case.target.pem.decode(), JALIEN_TOKEN_KEY=key,
                    X509_CERT_DIR=str(files.store))
    result = run_jenv(["token-verify", "--json"], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verified"] is True and data["from_content"] is True
    assert data["chain"][-1] == "/C=ch/O=jenv-diff/CN=Diff Root"
