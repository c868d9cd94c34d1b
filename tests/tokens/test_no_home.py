"""No lock-out without a HOME (issue 20 item 8): the lock falls back to a token directory that is yours alone.

Run as a real non-root user (uid 4243, ``setpriv``), since root can write
``/``, and as processes, since HOME is read at start-up.  With HOME unusable
(``/``, missing, unset with no passwd entry, read-only) and no
XDG_RUNTIME_DIR there is no ``~/.cache/jenv`` for the lock; jenv then puts
it inside the token directory when nobody else can write that directory (a
private TMPDIR), so ``jenv token`` works, as the official client does.
Where the token directory is shared (a sticky /tmp, a sticky group
directory) the lock could be pre-created by someone else, so jenv still
refuses, with one line naming the fix, and writes nothing there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterator

import pytest

from support.users import SETPRIV, give_credentials, jenv_as

VICTIM, GROUP = 4243, 4250

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.getuid() != 0, reason="needs root to become another user"),
    pytest.mark.skipif(SETPRIV is None and not os.environ.get("CI"), reason="setpriv (util-linux) is not installed"),
    pytest.mark.parametrize("svc", ["test-ca"], indirect=True),  # where the lock goes: the CA plays no part
]


@pytest.fixture
def world(svc) -> Iterator[Dict[str, object]]:
    """The victim's credentials and CA store outside any HOME, a working directory the victim may write
    (so a lock directory made relative to it would show), and an environment without HOME or TMPDIR."""
    base = Path(tempfile.mkdtemp(prefix="jenv-nohome-", dir="/tmp"))
    try:
        base.chmod(0o755)
        credentials = give_credentials(svc, base / "creds", VICTIM)
        work = base / "work"
        work.mkdir()
        os.chown(work, VICTIM, VICTIM)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "JENV_TIMEOUT": "15",
               **credentials}
        yield {"base": base, "work": work, "env": env}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _unusable_home(world, kind: str) -> Dict[str, str]:
    """The HOME part of the environment for each kind of unusable HOME."""
    if kind == "unset":
        return {}
    if kind == "/":
        return {"HOME": "/"}
    home = world["base"] / "home"
    if kind == "read-only":
        home.mkdir()
        os.chown(home, VICTIM, VICTIM)
        home.chmod(0o555)
    return {"HOME": str(home)}  # "missing": never made, and the victim cannot make it


def _directory(world, name: str, owner: int, group: int, mode: int) -> Path:
    path = world["base"] / name
    path.mkdir()
    os.chown(path, owner, group)
    path.chmod(mode)
    return path


def _jenv(world, command, env) -> subprocess.CompletedProcess:
    return jenv_as(VICTIM, command, env, cwd=str(world["work"]))


HOMES = ["/", "missing", "unset", "read-only"]


@pytest.mark.parametrize("mode", [0o700, 0o755], ids=oct)
@pytest.mark.parametrize("home", HOMES)
def test_a_private_token_directory_takes_the_lock_when_home_cannot(world, home, mode):
    tmp = _directory(world, "tmp", VICTIM, VICTIM, mode)
    env = dict(world["env"], TMPDIR=str(tmp), **_unusable_home(world, home))
    for command in (["token"], ["token-init"], ["token"]):
        proc = _jenv(world, command, env)
        assert proc.returncode == 0, (command, proc.stderr)
    assert "JALIEN_TOKEN_CERT" in proc.stdout
    names = sorted(p.name for p in tmp.iterdir())
    locks = [name for name in names if name.endswith(".lock")]
    assert names == sorted([f"tokencert_{VICTIM}.pem", f"tokenkey_{VICTIM}.pem", *locks]) and len(locks) == 1
    assert os.stat(tmp / locks[0]).st_uid == VICTIM
    assert list(world["work"].iterdir()) == []  # no "~/.cache/jenv" made relative to where jenv ran
    check = subprocess.run(["openssl", "x509", "-noout", "-pubkey", "-in", str(tmp / f"tokencert_{VICTIM}.pem")],
                           capture_output=True, text=True, check=True).stdout
    key = subprocess.run(["openssl", "pkey", "-pubout", "-in", str(tmp / f"tokenkey_{VICTIM}.pem")],
                         capture_output=True, text=True, check=True).stdout
    assert check == key


#: Token directories others can write into even though the token files there are safe (sticky): a lock
#: there could be pre-created by someone else, so they never hold it.
SHARED = {"root's sticky /tmp": (0, 0, 0o1777), "a sticky group directory": (VICTIM, GROUP, 0o1770)}


@pytest.mark.parametrize("shared", sorted(SHARED))
@pytest.mark.parametrize("home", HOMES)
def test_a_shared_token_directory_still_refuses_with_the_fix(world, home, shared):
    tmp = _directory(world, "shared", *SHARED[shared])
    env = dict(world["env"], TMPDIR=str(tmp), **_unusable_home(world, home))
    proc = _jenv(world, ["token"], env)
    assert proc.returncode == 8 and proc.stdout == "", proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jenv: no private directory for the token lock"), proc.stderr
    assert "set HOME to your home directory" in lines[0] and "TMPDIR to a private directory" in lines[0]
    assert list(tmp.iterdir()) == [] and list(world["work"].iterdir()) == []
    # The fix it names works.
    private = _directory(world, "private", VICTIM, VICTIM, 0o700)
    assert _jenv(world, ["token"], dict(env, TMPDIR=str(private))).returncode == 0
