"""Another user, for real: a command run under ``setpriv --reuid/--regid`` (the tests run as root)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Dict, Sequence

__all__ = ["SETPRIV", "run_as"]

SETPRIV = shutil.which("setpriv")


def run_as(uid: int, argv: Sequence[str], env: Dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """``argv`` as ``uid`` (group ``uid``, no supplementary groups), output captured, no stdin."""
    return subprocess.run([SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv], env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
