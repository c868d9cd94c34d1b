"""Another user, for real: a command run under ``setpriv --reuid/--regid`` (the tests run as root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

from support.launcher import scan

__all__ = ["SETPRIV", "run_as", "jenv_as", "give_credentials", "shared_tmp"]

SETPRIV = shutil.which("setpriv")


def run_as(uid: int, argv: Sequence[str], env: Dict[str, str], timeout: float = 60,
           group: Optional[int] = None, cwd: Optional[str] = None) -> subprocess.CompletedProcess:
    """``argv`` as ``uid``, output captured, no stdin: in group ``uid`` with no supplementary groups, or
    (``group``) a real member of ``group``, which is then its group and its only supplementary one; in
    ``cwd`` when given."""
    groups = [f"--regid={uid}", "--clear-groups"] if group is None else [f"--regid={group}", f"--groups={group}"]
    return subprocess.run([SETPRIV, f"--reuid={uid}", *groups, *argv], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def jenv_as(uid: int, command: Sequence[str], env: Dict[str, str], cwd: Optional[str] = None) -> subprocess.CompletedProcess:
    """``jenv <command>`` as ``uid`` (see :func:`run_as`), through the launcher's scan."""
    proc = run_as(uid, [sys.executable, "-m", "jenv", *command], env, cwd=cwd)
    scan(command, proc.stdout, proc.stderr)
    return proc


def give_credentials(service, directory: Path, uid: int) -> Dict[str, str]:
    """jdoe's user certificate and key and the service's CA store, copied into ``directory`` (made) and
    owned by ``uid``; returns the variables that name them and the service as JCentral."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = service.user_files("jdoe")
    shutil.copy(cert, directory / "usercert.pem")
    shutil.copy(key, directory / "userkey.pem")
    shutil.copytree(service.ca_dir, directory / "certificates", symlinks=True)
    for path in [directory, *directory.rglob("*")]:
        os.lchown(path, uid, uid)
    return {"X509_USER_CERT": str(directory / "usercert.pem"), "X509_USER_KEY": str(directory / "userkey.pem"),
            "X509_CERT_DIR": str(directory / "certificates"), "ALIENPY_JCENTRAL": service.host,
            "ALIENPY_JCENTRAL_PORT": str(service.port)}


@contextlib.contextmanager
def shared_tmp(prefix: str) -> Iterator[Tuple[Path, Path]]:
    """(base, shared): a root-owned 0755 directory under /tmp (other users can reach it, unlike pytest's
    0700 tmp_path) holding ``shared``, world-writable and sticky like /tmp; removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        base.chmod(0o755)
        shared = base / "shared"
        shared.mkdir()
        shared.chmod(0o1777)
        yield base, shared
    finally:
        shutil.rmtree(base, ignore_errors=True)
