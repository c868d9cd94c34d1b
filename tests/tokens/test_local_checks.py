"""What can be known offline is found before anything is asked or any connection is made (issue 11.6, 11.8).

A FIFO in the CA store would hang OpenSSL inside the TLS handshake (it opens
``<hash>.N`` files itself, lazily); an empty CA directory made jenv connect and
blame the server ("not trusted").  Both are refused at once, with the lines
``ca-info`` gives, within the time of a local check.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tokenkit import run_jenv


def _ca_copy(svc, tmp_path: Path) -> Path:
    copy = tmp_path / "cas"
    shutil.copytree(svc.ca_dir, copy, symlinks=True)
    return copy


@pytest.mark.parametrize("command", [["token"], ["token-init"]])
def test_a_fifo_in_the_ca_directory_never_hangs(svc, home, tmp_path, command):
    cas = _ca_copy(svc, tmp_path)
    os.mkfifo(cas / "0badf1f0.0")
    start = time.monotonic()
    result = run_jenv(command, svc.env(home, X509_CERT_DIR=str(cas)), timeout=30)
    assert result.returncode == 8, result.stderr
    assert "0badf1f0.0 is not a regular file" in result.stderr and len(result.stderr.splitlines()) == 1
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("command", [["token"], ["token-init"]])
def test_a_fifo_as_the_ca_bundle_never_hangs(svc, home, tmp_path, command):
    fifo = tmp_path / "bundle.pem"
    os.mkfifo(fifo)
    start = time.monotonic()
    result = run_jenv(command, svc.env(home, X509_CERT_DIR="", X509_CERT_FILE=str(fifo)), timeout=30)
    assert result.returncode == 8 and "is not a regular file" in result.stderr, result.stderr
    assert time.monotonic() - start < 10


def test_an_empty_ca_directory_is_named_before_connecting(svc, home, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    before = svc.token_requests
    result = run_jenv(["token-init"], svc.env(home, X509_CERT_DIR=str(empty)))
    assert result.returncode == 4, result.stderr
    assert "holds no <hash>.0 certificate files" in result.stderr and "not trusted" not in result.stderr
    assert svc.token_requests == before
