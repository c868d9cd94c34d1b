"""The official client (alienpy's alien.py) and jenv share the token files in both directions."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from support.tokenkit import run_jenv, token_paths

ALIEN = shutil.which("alien.py")
pytestmark = pytest.mark.skipif(ALIEN is None, reason="alienpy (alien.py) is not installed")

#: alienpy's own token writer (wb_api.token), fed a JCentral answer without a network connection.
ALIEN_WRITER = textwrap.dedent("""
    import json, sys
    from alienpy import wb_api
    from alienpy.data_structs import RET
    answer = {"results": [json.load(open(sys.argv[1]))]}
    wb_api.SendMsg = lambda wb, cmd, args=None, opts='': RET(0, '', '', answer)
    sys.exit(wb_api.token(object(), []))
""")


def alien(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([ALIEN, *args], env=env, capture_output=True, text=True, timeout=60)


def test_alien_py_reads_what_jenv_writes(svc, home):
    env = svc.env(home)
    assert run_jenv(["token-init"], env).returncode == 0
    info = alien(["token-info"], env)
    assert info.returncode == 0, info.stderr
    assert "DN >>> C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe" in info.stdout
    match = alien(["tokenkey-match"], env)
    assert match.returncode == 0 and "match" in match.stdout, match.stdout + match.stderr
    # the oracle can fail: a key of another token does not match
    other = json.loads(run_jenv(["token", "--content", "--json"], env, content_mode=True).stdout)["results"][0]
    foreign = home / "foreign-key.pem"
    foreign.write_text(other["tokenkey"])
    mismatch = alien(["tokenkey-match"], dict(env, JALIEN_TOKEN_KEY=str(foreign)))
    assert mismatch.returncode != 0 and "DO NOT match" in mismatch.stdout + mismatch.stderr


def test_jenv_reads_and_replaces_what_alien_py_writes(svc, home):
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    assert run_jenv(["token-init"], env).returncode == 0  # alien.py has to replace jenv's 0400 files
    answer = home / "answer.json"
    fresh = run_jenv(["token", "--content", "--json"], env, content_mode=True).stdout
    answer.write_text(json.dumps(json.loads(fresh)["results"][0]))
    written = subprocess.run([sys.executable, "-c", ALIEN_WRITER, str(answer)], env=env, capture_output=True,
                             text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    pair = json.loads(answer.read_text())
    assert key_path.read_text() == pair["tokenkey"] + "\n"  # alien.py's format: content plus a newline
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o400
    requests = svc.token_requests
    result = run_jenv(["token"], env)
    assert result.returncode == 0 and str(cert_path) in result.stdout, result.stderr
    assert svc.token_requests == requests  # alien.py's token is used as is
    assert run_jenv(["tokenkey-match"], env).returncode == 0
    assert run_jenv(["token-init"], env).returncode == 0  # and jenv replaces alien.py's files
    assert key_path.read_text() != pair["tokenkey"] + "\n"
    assert alien(["tokenkey-match"], env).returncode == 0
