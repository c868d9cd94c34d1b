"""Helpers shared by the token tests (tests/tokens/, tests/system/crash/, tests/system/alienpy/)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

from support.launcher import SCANNED, clean_env, leaked_key_material, run_in_process, run_jenv  # noqa: F401

__all__ = ["clean_env", "run_jenv", "token_paths", "assert_no_key_printed", "traced_jenv"]


def traced_jenv(tracer: subprocess.Popen, wait: float = 30.0) -> Optional[int]:
    """The pid of the jenv that ``strace`` runs, or None when there is none (yet) within ``wait`` seconds.

    strace's first child may be a short-lived helper of its own, or still strace before its exec: a
    child counts only once its command line is ``python -m jenv``.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            children = Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read_text().split()
        except OSError:
            children = []
        for child in children:
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[1:3] == [b"-m", b"jenv"]:
                return int(child)
        if time.monotonic() >= deadline or tracer.poll() is not None:
            return None
        time.sleep(0.005)


def token_paths(env: Dict[str, str]) -> Tuple[Path, Path]:
    """The default token files for this process's uid under env TMPDIR."""
    tmp = Path(env["TMPDIR"])
    uid = os.getuid()
    return tmp / f"tokencert_{uid}.pem", tmp / f"tokenkey_{uid}.pem"


def assert_no_key_printed(*outputs: str) -> None:
    """The secrets scan of ``run_jenv`` for jenv output a test captured another way (bash, pty, Popen)."""
    SCANNED["runs"] += 1
    for text in outputs:
        assert not leaked_key_material(text), f"key material in jenv output: {text[:200]!r}"
