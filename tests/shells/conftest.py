"""Fixtures for the shell tests: a clean environment for real shells."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict

import pytest

from realshell import REPO


@pytest.fixture
def shell_env(tmp_path: Path) -> Dict[str, str]:
    """PATH, HOME, TMPDIR (in tmp_path), a UTF-8 locale and PYTHONPATH to this checkout."""
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    os.chmod(home / "tmp", 0o700)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "TMPDIR": str(home / "tmp"), "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)}
