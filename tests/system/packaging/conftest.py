"""Fixtures for the packaging tests: the checkout as a clean clone would have it, the package index
reachable (else a skip naming why), and the wheel and sdist that ``python -m build`` makes of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

#: The checkout under test.
REPO = Path(__file__).resolve().parents[3]


def clean_copy(dest: Path) -> Path:
    """The files a clone of this checkout holds once its changes are committed (tracked and new files,
    nothing that .gitignore names: no .venv, build/, *.egg-info), copied to ``dest``."""
    names = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        source, target = REPO / name, dest / name
        if not os.path.lexists(source):
            continue  # deleted in the work tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
    return dest


@pytest.fixture(name="clean_copy")
def clean_copy_fixture():
    """:func:`clean_copy`, for the tests."""
    return clean_copy


@pytest.fixture(scope="session")
def package_index(tmp_path_factory) -> None:
    """Skip unless pip reaches the package index on its own (no local wheel directory or mirror): the
    build and the installs below download setuptools and jenv's dependencies from it."""
    probe = subprocess.run([sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--quiet",
                            "--dest", str(tmp_path_factory.mktemp("probe")), "setuptools>=77"],
                           capture_output=True, text=True, timeout=300)
    if probe.returncode != 0:
        pytest.skip("the package index is unreachable (pip download setuptools failed): "
                    + (probe.stderr.strip().splitlines() or ["no message"])[-1])


@pytest.fixture(scope="session")
def dists(tmp_path_factory, package_index) -> Dict[str, Path]:
    """{"wheel": ..., "sdist": ...}: what ``python -m build`` makes of a clean copy of the checkout."""
    source = clean_copy(tmp_path_factory.mktemp("clone"))
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}
