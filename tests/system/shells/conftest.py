"""Fixtures for the shell tests: a clean environment for real shells."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict

import pytest

from support.realshell import REPO


@pytest.fixture
def shell_env(tmp_path: Path) -> Dict[str, str]:
    """PATH, HOME, TMPDIR (in tmp_path), a UTF-8 locale and PYTHONPATH to this checkout."""
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    os.chmod(home / "tmp", 0o700)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "TMPDIR": str(home / "tmp"), "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)}


@pytest.fixture
def login(tmp_path, shell_env, root_ca):
    """(env, starts log, token cert path): valid token files, and ``jenv`` on PATH logging each start."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    starts = tmp_path / "starts"
    wrapper = bin_dir / "jenv"
    wrapper.write_text(f'#!/bin/sh\necho start >> "{starts}"\n'
                       f'PYTHONPATH="{REPO}" exec "{sys.executable}" -m jenv "$@"\n')
    wrapper.chmod(0o755)
    tmp = Path(shell_env["TMPDIR"])
    cert, key = tmp / f"tokencert_{os.getuid()}.pem", tmp / f"tokenkey_{os.getuid()}.pem"
    leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe")
    cert.write_bytes(leaf.cert_pem)
    key.write_bytes(leaf.key_pem(fmt="traditional"))
    cert.chmod(0o400)
    key.chmod(0o400)
    env = dict(shell_env, PATH=f"{bin_dir}:{shell_env['PATH']}", ALIENPY_JCENTRAL="127.0.0.1",
               ALIENPY_JCENTRAL_PORT="1", X509_USER_CERT=str(tmp_path / "no-usercert.pem"))
    return env, starts, cert
