"""The certificate's life against the local service: an imported .p12 makes tokens (for jenv and for
alien.py), and a token cut short by the user certificate's end is said to be so.

JCentral caps a token's notAfter at the requester's certificate (src/main/java/alien/api/token/
GetTokenCertificate.java in FYP-Jalien/jalien-march-18: "Restricting the validity ... beyond requester's
identity expiration time"); the local service does the same.  Prompts are typed on a pseudo-terminal.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.launcher import run_on_pty
from support.tokenkit import run_jenv, token_paths

pytestmark = pytest.mark.slow

ALIEN = shutil.which("alien.py")
NEW = b"imported key passphrase"


def _p12_of(svc, user: str, out: Path) -> Path:
    """The service user's credential as the CA hands it out: a legacy (RC2/3DES) PKCS#12 file."""
    cert, key = svc.world.user_files(user)
    subprocess.run(["openssl", "pkcs12", "-export", "-legacy", "-in", cert, "-inkey", key, "-out", str(out),
                    "-passout", "pass:from the CA"], check=True, capture_output=True)
    return out


def _without_user_variables(env):
    return {name: value for name, value in env.items() if name not in ("X509_USER_CERT", "X509_USER_KEY")}


def test_an_imported_p12_makes_tokens_for_jenv_and_alien_py(svc, home):
    env = _without_user_variables(svc.env(home))  # ~/.globus, as after the tutorial
    p12 = _p12_of(svc, "jdoe", home / "myCertificate.p12")
    imported = run_on_pty([sys.executable, "-m", "jenv", "cert-import", str(p12)], env,
                          [b"from the CA", NEW, NEW], prompt=b": ", capture=True)
    assert imported.returncode == 0, imported.stderr
    before = svc.token_requests
    made = run_on_pty([sys.executable, "-m", "jenv", "token-init"], env, [NEW], capture=True)
    assert made.returncode == 0, made.stderr
    assert svc.token_requests == before + 1
    assert token_paths(env)[0].exists()
    who = run_jenv(["whoami", "-q"], env)
    assert who.returncode == 0 and who.stdout == "jdoe\n"
    if ALIEN is None:
        pytest.skip("alienpy (alien.py) is not installed")
    info = subprocess.run([ALIEN, "cert-info"], env=env, capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and "CN=Jane Doe" in info.stdout, info.stdout + info.stderr
    # alien.py's own key check (pyOpenSSL) opens the encrypted key with the new passphrase
    match = run_on_pty([ALIEN, "certkey-match"], env, [NEW], prompt=b"pass phrase", capture=True, scan=False)
    assert match.returncode == 0 and "match" in match.stdout and "NOT" not in match.stdout, match.stderr
    wrong = run_on_pty([ALIEN, "certkey-match"], env, [b"not it"], prompt=b"pass phrase", capture=True, scan=False)
    assert "Could not load key" in wrong.stdout + wrong.stderr  # the oracle can say no


def test_a_token_shortened_by_the_user_certificate_is_said_to_be(svc, home):
    dn, _roles, email = "/C=ch/O=jenv test/OU=Users/CN=Jane Doe", None, "jane.doe@example.org"
    short = svc.world.authority.issue_user(dn, days=10, email=email)
    cert, key = home / "short-cert.pem", home / "short-key.pem"
    short.write(str(cert), str(key))
    env = svc.env(home, X509_USER_CERT=str(cert), X509_USER_KEY=str(key))
    made = run_jenv(["token-init"], env)
    assert made.returncode == 0, made.stderr
    lines = [line for line in made.stderr.splitlines() if "not the 31 days asked for" in line]
    # issue_user backdates the certificate by an hour: it ends 9d 23h minus a moment from now
    assert len(lines) == 1 and "ends with your user certificate" in lines[0], made.stderr
    assert re.search(r"valid for 9d 22h only", lines[0]), lines[0]
    # the twins: asking for less than is left, or a certificate with a year left, gives no such line
    assert "days asked for" not in run_jenv(["token-init", "-v", "5"], env).stderr
    assert "days asked for" not in run_jenv(["token-init"], svc.env(home)).stderr
    # and jenv token on a fresh token says nothing about the token, only the certificate's notice
    token = run_jenv(["token"], env)
    assert token.returncode == 0 and token.stderr.count("\n") == 1 and "expires in 9d 22h" in token.stderr
