"""Concurrency (issue 5 item 2): many login shells at once share one token request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tokenkit import assert_no_key_printed, token_paths


# File handling and locking only, where the CA plays no part: once, with the suite's test CA (the
# serial-0 twin runs every token test that reads, verifies or receives a certificate).
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_twenty_concurrent_token_runs_share_one_token(svc, home):
    env = svc.env(home, JENV_TIMEOUT="10")
    before = svc.token_requests
    procs = [subprocess.Popen([sys.executable, "-m", "jenv", "token", "--shell", "bash"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for _ in range(20)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for out, err in outputs:
        assert_no_key_printed(out, err)
    assert [proc.returncode for proc in procs] == [0] * 20, [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1 and "JALIEN_TOKEN_CERT" in outputs[0][0]
    requests = svc.token_requests - before
    assert 1 <= requests <= 3, requests
    cert_path, key_path = token_paths(env)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    leftovers = [p.name for p in Path(env["TMPDIR"]).iterdir()
                 if p.name not in (cert_path.name, key_path.name, f"jenv-token-{os.getuid()}.lock")]
    assert leftovers == []
