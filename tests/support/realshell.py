"""Run snippets in the real shells and read the environment back, byte for byte.

After virtualenv's ActivationTester and direnv's test/direnv-test-common.sh: a
script evaluates jenv's output the way a login file does, then a small python
program dumps the named variables as hex, so nothing is lost to a shell's own
printing.  A missing shell is skipped locally and fails under CI (env CI set).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import pytest

from support.launcher import scan

__all__ = ["REPO", "SHELLS", "jenv_cli", "require_shell", "shell_argv", "run_script", "dump_command", "read_dump",
           "MISSING"]

#: The checkout under test (its shell/ and completions/ directories, PYTHONPATH for jenv).
REPO = Path(__file__).resolve().parents[2]

#: The shells run by these tests (csh is tcsh on Debian, checked under both names).
SHELLS = ("bash", "zsh", "ksh", "dash", "sh", "fish", "tcsh", "csh")

#: Marker printed by the dump program for an unset variable.
MISSING = None

_DUMP = r"""
import json, os, sys
out = {name: (os.environb[name.encode()].hex() if name.encode() in os.environb else None)
       for name in sys.argv[2:]}
with open(sys.argv[1], "w") as fh:
    json.dump(out, fh)
"""


def require_shell(name: str) -> str:
    """Path of shell ``name``; skip the test when missing, fail instead when CI is set."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"shell {name} is not installed (CI must have every shell)")
        pytest.skip(f"shell {name} is not installed")
    return path


def shell_argv(name: str, script: Path) -> List[str]:
    """Run ``script`` in shell ``name`` without reading the user's startup files."""
    path = require_shell(name)
    flags = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "fish": ["--no-config"],
             "tcsh": ["-f"], "csh": ["-f"]}.get(name, [])
    return [path, *flags, str(script)]


def run_script(name: str, text: str, tmp: Path, env: Mapping[str, str],
               timeout: float = 30) -> subprocess.CompletedProcess:
    """Write ``text`` to a file in ``tmp`` and run it in shell ``name``."""
    script = tmp / f"script.{name}"
    script.write_text(text, encoding="utf-8")
    return subprocess.run(shell_argv(name, script), env=dict(env), capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd=str(tmp))


def dump_command(tmp: Path, names: Sequence[str], out: str = "dump.json") -> str:
    """A command line (same in every shell) that dumps ``names`` from the environment."""
    prog = tmp / "dump.py"
    prog.write_text(_DUMP, encoding="utf-8")
    return " ".join([sys.executable, str(prog), str(tmp / out), *names])


def read_dump(tmp: Path, out: str = "dump.json") -> Dict[str, Optional[bytes]]:
    """Variables written by :func:`dump_command`: bytes, or None when unset."""
    data = json.loads((tmp / out).read_text())
    return {k: (bytes.fromhex(v) if v is not None else None) for k, v in data.items()}


def jenv_cli(args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """``python -m jenv ARGS`` from this checkout, text output; asserts no traceback."""
    proc = subprocess.run([sys.executable, "-m", "jenv", *args], env=dict(env), text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=str(REPO))
    scan(args, proc.stdout, proc.stderr)
    return proc
