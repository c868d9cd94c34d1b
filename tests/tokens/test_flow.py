"""End-to-end token commands against the local JCentral service over real TLS on 127.0.0.1."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from tokenkit import run_jenv, snapshot, token_paths


def _bash(script: str, env) -> subprocess.CompletedProcess:
    jenv = f"{sys.executable} -m jenv"
    return subprocess.run(["bash", "-c", script.replace("JENV", jenv)], env=env, capture_output=True, text=True,
                          timeout=60, cwd=str(Path(__file__).parents[2]))


def test_eval_token_creates_then_reuses_without_a_request(svc, home):
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    before = svc.token_requests
    proc = _bash('eval "$(JENV token)" && printf "%s\\n%s\\n" "$JALIEN_TOKEN_CERT" "$JALIEN_TOKEN_KEY"', env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(cert_path), str(key_path)]
    assert svc.token_requests == before + 1
    for path in (cert_path, key_path):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o400
    assert key_path.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    first = snapshot(cert_path)
    again = run_jenv(["token"], env)
    assert again.returncode == 0 and again.stderr == ""
    assert svc.token_requests == before + 1  # valid files: no connection at all
    assert snapshot(cert_path) == first
