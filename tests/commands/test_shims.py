"""`jenv shims`: O2's token check (``LD_PRELOAD= alien-token-info &> /dev/null``) with jenv alone.

The shims run under bash with the shim directory on PATH, exactly as O2's CCDB API runs the check
(AliceO2 CCDB/src/CcdbApi.cxx: ``system("LD_PRELOAD= alien-token-info &> /dev/null")``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from support.launcher import run_jenv

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("svc", ["test-ca"], indirect=True)]  # the files and PATH matter here

O2_CHECK = "LD_PRELOAD= alien-token-info &> /dev/null"
NAMES = ("alien-token-info", "alien-token-init", "alien-token-destroy", "alien-cert-info")
SYSTEM_PATH = "/usr/bin:/bin"  # no alienpy there (it lives in the venv's bin)


def o2_check(env: Dict[str, str], shim_dir: Path, cwd: Path = None) -> int:
    environ = dict(env, PATH=f"{shim_dir}:{SYSTEM_PATH}")
    return subprocess.run(["bash", "-c", O2_CHECK], env=environ, cwd=cwd, timeout=60,
                          stdin=subprocess.DEVNULL).returncode


def write_shims(env: Dict[str, str], shim_dir: Path, *extra: str):
    return run_jenv(["shims", "--dir", str(shim_dir), *extra], dict(env, PATH=SYSTEM_PATH))


def test_o2s_token_check_passes_with_a_token_and_fails_without(env, tmp_path):
    shim_dir = tmp_path / "bin"
    result = write_shims(env, shim_dir)
    assert result.returncode == 0, result.stderr
    assert str(shim_dir) in result.stderr and result.stdout == ""
    assert sorted(os.listdir(shim_dir)) == sorted(NAMES)
    assert o2_check(env, shim_dir) == 0
    assert run_jenv(["token-destroy"], env).returncode == 0
    assert o2_check(env, shim_dir) != 0


def test_shims_print_what_the_jenv_commands_print(env, tmp_path):
    shim_dir = tmp_path / "bin"
    assert write_shims(env, shim_dir).returncode == 0
    environ = dict(env, PATH=f"{shim_dir}:{SYSTEM_PATH}")
    for name in ("alien-token-info", "alien-cert-info"):
        shim = subprocess.run([name], env=environ, capture_output=True, text=True, timeout=60)
        direct = run_jenv([name], env)
        assert (shim.returncode, shim.stdout) == (direct.returncode, direct.stdout) == (0, direct.stdout)
        assert shim.stdout.startswith("DN >>> ")
    destroyed = subprocess.run(["alien-token-destroy"], env=environ, capture_output=True, text=True, timeout=60)
    assert destroyed.stdout == "Token was destroyed! Re-connect for token re-creation.\n"
    init = subprocess.run(["alien-token-init"], env=environ, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert init.returncode == 0, init.stderr
    assert o2_check(env, shim_dir) == 0


def test_a_shim_is_not_fooled_by_the_working_directory_or_pythonpath(env, tmp_path):
    """O2's environments set PYTHONPATH, and a job runs in any directory: neither may replace jenv."""
    shim_dir = tmp_path / "bin"
    assert write_shims(env, shim_dir).returncode == 0
    decoy = tmp_path / "decoy"
    (decoy / "jenv").mkdir(parents=True)
    (decoy / "jenv" / "__init__.py").write_text("raise SystemExit(0)\n")  # would pass the check with no token
    assert run_jenv(["token-destroy"], env).returncode == 0
    assert o2_check(dict(env, PYTHONPATH=str(decoy)), shim_dir, cwd=decoy) != 0
    # the negative twin: plain python in that directory does import the decoy
    fooled = subprocess.run([sys.executable, "-c", "import jenv"], cwd=decoy, env=dict(env, PYTHONPATH=str(decoy)))
    assert fooled.returncode == 0


def test_shims_refuse_to_shadow_alienpy_on_path(env, tmp_path):
    alienpy_bin = Path(sys.executable).parent
    if shutil.which("alien-token-info", path=str(alienpy_bin)) is None:
        pytest.skip("alienpy is not installed")
    shim_dir = tmp_path / "bin"
    result = run_jenv(["shims", "--dir", str(shim_dir)], dict(env, PATH=f"{alienpy_bin}:{SYSTEM_PATH}"))
    assert result.returncode == 8 and result.stderr.count("\n") == 1
    assert str(alienpy_bin / "alien-token-info") in result.stderr and "--force" in result.stderr
    assert not shim_dir.exists()
    forced = run_jenv(["shims", "--dir", str(shim_dir), "--force"], dict(env, PATH=f"{alienpy_bin}:{SYSTEM_PATH}"))
    assert forced.returncode == 0 and sorted(os.listdir(shim_dir)) == sorted(NAMES)


def test_shims_replace_only_their_own_files_and_remove_only_those(env, tmp_path):
    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    foreign = shim_dir / "alien-cert-info"
    foreign.write_text("#!/bin/sh\necho mine\n")
    refused = write_shims(env, shim_dir)
    assert refused.returncode == 8 and str(foreign) in refused.stderr
    assert sorted(os.listdir(shim_dir)) == ["alien-cert-info"]  # nothing written
    assert write_shims(env, shim_dir, "--force").returncode == 0
    assert "jenv shim" in foreign.read_text()
    assert write_shims(env, shim_dir).returncode == 0  # its own files are replaced without --force
    link = shim_dir / "alien-token-init"
    link.unlink()
    link.symlink_to("/bin/true")
    assert write_shims(env, shim_dir).returncode == 8  # a link it did not make is not its file
    removed = write_shims(env, shim_dir, "--remove")
    assert removed.returncode == 0 and str(link) in removed.stderr
    assert os.listdir(shim_dir) == ["alien-token-init"] and link.is_symlink()


def test_a_directory_anyone_can_write_is_refused_naming_the_shims(env, tmp_path):
    """What others could replace there is the shims (and so what O2 runs as alien-token-info), not a token."""
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    result = write_shims(env, open_dir)
    assert result.returncode == 8 and result.stderr.count("\n") == 1, result.stderr
    assert "anyone could put files there beside the shims, and so what runs as alien-token-info" in result.stderr
    assert "your token" not in result.stderr and "give --dir a directory of your own" in result.stderr
    assert list(open_dir.iterdir()) == []
    os.chmod(open_dir, 0o700)  # the positive twin: the same directory, private
    assert write_shims(env, open_dir).returncode == 0 and (open_dir / "alien-token-info").exists()
