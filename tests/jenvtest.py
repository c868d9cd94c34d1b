"""Helpers every test directory uses: run the real ``jenv`` and scan what it prints.

A module of its own (not conftest.py) so that ``from jenvtest import run_jenv``
means the same thing in every directory: pytest imports each directory's
conftest.py under the one name "conftest".
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

__all__ = ["HOSTILE", "Result", "SCANNED", "KEY_MARKERS", "leaked_key_material", "clean_env", "run_jenv"]

#: A hostile string for quoting tests (after virtualenv's special_char_name).
HOSTILE = "'\";&&e-$ èрт🚒♞中片-j `x` \\ ! % * \t"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def clean_env(home: Path, **extra: str) -> Dict[str, str]:
    """A minimal environment with HOME and TMPDIR pointing into a test directory."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o700)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmp),
           "LANG": "C.UTF-8", "JENV_TIMEOUT": "15"}
    env.update(extra)
    return env


#: Every run_jenv call of the session, scanned for key material (see pytest_sessionfinish).
SCANNED = {"runs": 0, "content_runs": 0}

#: Text that only private-key material produces (PEM armour of any key format).
KEY_MARKERS = ("PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED")


def leaked_key_material(text: str) -> bool:
    return any(marker in text for marker in KEY_MARKERS)


def run_jenv(args: Sequence[str], env: Dict[str, str], input: Optional[str] = None,
             timeout: float = 60, content_mode: bool = False) -> Result:
    """Run the real command (``python -m jenv``) in a subprocess.

    Every run is checked: no traceback on stderr, and no private-key material
    on stdout or stderr unless the test says the user asked for content
    (``content_mode``: ``--content``, ``user <role>``); even then stderr must
    stay clean.
    """
    proc = subprocess.run([sys.executable, "-m", "jenv", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    SCANNED["runs"] += 1
    assert not leaked_key_material(proc.stderr), f"key material on stderr of jenv {args}"
    if content_mode:
        SCANNED["content_runs"] += 1
    else:
        assert not leaked_key_material(proc.stdout), f"key material on stdout of jenv {args}"
    return Result(proc.returncode, proc.stdout, proc.stderr)
