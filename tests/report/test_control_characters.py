"""No terminal control sequence from a certificate reaches the terminal (issue 20.9).

A subject or issuer may hold any character: ESC (colour, cursor moves, window titles), BEL, CR
(overwrite the line), a newline (a fake extra line), DEL and the C1 controls (CSI, 0x9B, is ESC [ on
many terminals).  ``openssl x509 -nameopt compat`` prints them as ``\\x1B``; every report command of
jenv does the same in its text, and its JSON stays valid and gives the exact characters back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import unicodedata
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from support.offline_helpers import UID, clean_env, run_in_process, write_pair
from support.pki import TestCA, now

pytestmark = pytest.mark.slow

#: Every kind of control character, around ordinary text: ESC sequences, BEL, CR, LF, TAB, DEL, C1 CSI.
HOSTILE = "a\x1b[2J\x1b]0;title\x07b\rc\nd\te\x7ff\x9b31mg\x00h"
ESCAPED = "a\\x1B[2J\\x1B]0;title\\x07b\\x0Dc\\x0Ad\\x09e\\x7Ff\\xC2\\x9B31mg\\x00h"  # as openssl compat


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory) -> Dict[str, str]:
    """A user certificate, a token and a CA store whose names all carry HOSTILE."""
    home = tmp_path_factory.mktemp("ctl") / "home"
    ca = TestCA(f"/C=ch/O=jenv-test/CN=CA {HOSTILE}", not_after=now() + dt.timedelta(days=10))  # listed as expiring
    user = ca.issue(f"/C=ch/O=jenv-test/OU=Users/CN=Jane {HOSTILE}")
    token = ca.issue(f"/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU={HOSTILE}", key_kind="ec",
                     not_after=now() + dt.timedelta(hours=30))
    env = clean_env(home)
    globus = home / ".globus"
    globus.mkdir()
    pair = write_pair(user, globus, "user")
    os.chmod(pair["key"], 0o400)
    tmp = Path(env["TMPDIR"])
    token_files = write_pair(token, tmp, "token")
    os.rename(token_files["cert"], tmp / f"tokencert_{UID}.pem")
    os.rename(token_files["key"], tmp / f"tokenkey_{UID}.pem")
    os.chmod(tmp / f"tokencert_{UID}.pem", 0o400)
    os.chmod(tmp / f"tokenkey_{UID}.pem", 0o400)
    env.update(X509_USER_CERT=str(pair["cert"]), X509_USER_KEY=str(pair["key"]),
               X509_CERT_DIR=str(ca.write_dir(home / "cas")))
    return env


def _controls(text: str) -> str:
    """The control characters in ``text`` other than the newlines that end lines."""
    return "".join(c for c in text if unicodedata.category(c) == "Cc" and c != "\n")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


REPORTS = [["cert-info"], ["token-info"], ["status"], ["whoami"], ["alien-token-info"], ["cert-verify"],
           ["token-verify"], ["ca-info"], ["alien-cert-info"]]


@pytest.mark.parametrize("argv", REPORTS, ids=[" ".join(a) for a in REPORTS])
def test_text_reports_show_control_characters_as_openssl_does(hostile_env, argv):
    result = run_in_process(argv, hostile_env, front="docopt")
    assert result.returncode != 1, result.stderr  # no internal error
    assert _controls(result.stdout) == "" and _controls(result.stderr) == "", (result.stdout, result.stderr)
    # Shown, escaped, not dropped (the alien-* commands spell DNs as alienpy does, RFC 4514 escapes included).
    alienpy = argv[0].startswith("alien-")
    assert (ESCAPED[:-5].replace(";", "\\;") if alienpy else ESCAPED) in result.stdout


JSON_REPORTS = [argv for argv in REPORTS if not argv[0].startswith("alien-")]  # alienpy's formats have no JSON


@pytest.mark.parametrize("argv", JSON_REPORTS, ids=[" ".join(a) for a in JSON_REPORTS])
def test_json_reports_stay_valid_and_give_the_exact_name_back(hostile_env, argv):
    result = run_in_process(argv + ["--json"], hostile_env, front="docopt")
    assert result.returncode != 1, result.stderr
    assert _controls(result.stdout) == "" and _controls(result.stderr) == "", (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert any(HOSTILE in text for text in _strings(data)), data


def test_openssl_is_the_oracle_for_the_escaped_form(hostile_env):
    """The expected text above is what openssl prints for the same certificate (-nameopt compat)."""
    import subprocess

    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "compat", "-in",
                          hostile_env["X509_USER_CERT"]], capture_output=True, check=True).stdout.decode()
    assert ESCAPED in out


def test_cert_import_shows_the_subject_escaped(tmp_path):
    """cert-import prints the subject of what it wrote (a process: it reads the passphrases from a terminal)."""
    from test_cert_import import cert_import, export_p12

    leaf = TestCA().issue(f"/C=ch/O=jenv-test/OU=Users/CN=Jane {HOSTILE}")
    p12 = export_p12(leaf, tmp_path / "hostile.p12")
    run = cert_import(clean_env(tmp_path / "home"), str(p12), "--dir", str(tmp_path / "globus"))
    assert run.returncode == 0, run.stderr
    assert _controls(run.stdout) == "" and _controls(run.stderr) == "", (run.stdout, run.stderr)
    assert ESCAPED in run.stdout
