"""Another user on a shared /tmp cannot lock you out (issue 11.7), tried with real throwaway users.

The victim (uid 4243) and the attacker (uid 4242) are real processes under
``setpriv --reuid/--regid``; the shared directory is root's and sticky, like
/tmp.  Before, the attacker's empty ``jenv-token-4243.lock`` there blocked the
victim's every renewal for good; now the lock lives in the victim's own
``~/.cache/jenv`` (0700).  What the attacker can still take, a token file name
in the shared directory, is refused with the exact fix, and a token directory
the attacker owns is refused outright.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Dict, Iterator

import pytest

from support.launcher import scan
from support.users import SETPRIV, run_as as _as, shared_tmp

VICTIM, ATTACKER = 4243, 4242

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.getuid() != 0, reason="needs root to become other users"),
    pytest.mark.skipif(SETPRIV is None and not os.environ.get("CI"), reason="setpriv (util-linux) is not installed"),
    pytest.mark.parametrize("svc", ["test-ca"], indirect=True),  # file ownership only: the CA plays no part
]


@pytest.fixture
def world(svc) -> Iterator[Dict[str, object]]:
    """A root-owned sticky shared directory, and a victim home with credentials and the CA store."""
    with shared_tmp("jenv-users-") as (base, shared):
        home = base / "victim"
        (home / ".globus").mkdir(parents=True)
        cert, key = svc.user_files("jdoe")
        shutil.copy(cert, home / ".globus" / "usercert.pem")
        shutil.copy(key, home / ".globus" / "userkey.pem")
        shutil.copytree(svc.ca_dir, home / "certificates", symlinks=True)
        for path in [home, *home.rglob("*")]:
            os.lchown(path, VICTIM, VICTIM)
        home.chmod(0o700)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(shared),
               "LANG": "C.UTF-8", "JENV_TIMEOUT": "15", "X509_CERT_DIR": str(home / "certificates"),
               "ALIENPY_JCENTRAL": svc.host, "ALIENPY_JCENTRAL_PORT": str(svc.port)}
        yield {"base": base, "shared": shared, "home": home, "env": env}


def _victim(world, command, **extra) -> subprocess.CompletedProcess:
    proc = _as(VICTIM, [sys.executable, "-m", "jenv", *command], dict(world["env"], **extra))
    scan(command, proc.stdout, proc.stderr)
    return proc


def test_a_planted_lock_does_not_lock_the_victim_out(world):
    planted = world["shared"] / f"jenv-token-{VICTIM}.lock"
    assert _as(ATTACKER, ["touch", str(planted)], world["env"]).returncode == 0
    assert os.stat(planted).st_uid == ATTACKER
    for command in (["token-init"], ["token", "--min-valid", "400d"]):
        proc = _victim(world, command)
        assert proc.returncode == 0, (command, proc.stderr)
    cert = world["shared"] / f"tokencert_{VICTIM}.pem"
    assert os.stat(cert).st_uid == VICTIM and os.stat(cert).st_mode & 0o777 == 0o400
    lock_dir = world["home"] / ".cache" / "jenv"
    assert os.stat(lock_dir).st_uid == VICTIM and os.stat(lock_dir).st_mode & 0o777 == 0o700


def test_a_planted_token_file_is_refused_with_the_fix(world):
    planted = world["shared"] / f"tokencert_{VICTIM}.pem"
    assert _as(ATTACKER, ["sh", "-c", f"echo junk > {planted}"], world["env"]).returncode == 0
    proc = _victim(world, ["token"])
    assert proc.returncode == 8 and proc.stdout == "", proc.stderr
    assert "belongs to uid 4242" in proc.stderr and "set JENV_PRIVATE_TMP to 1" in proc.stderr
    assert planted.read_text() == "junk\n"  # never read, replaced or removed
    # The fix works: a private TMPDIR of the victim's own.
    private = world["home"] / "tmp"
    assert _as(VICTIM, ["mkdir", "-m", "700", str(private)], world["env"]).returncode == 0
    assert _victim(world, ["token"], TMPDIR=str(private)).returncode == 0


def test_a_token_directory_of_another_user_is_refused(world):
    theirs = world["base"] / "attacker-tmp"
    theirs.mkdir()
    theirs.chmod(0o1777)
    os.chown(theirs, ATTACKER, ATTACKER)
    proc = _victim(world, ["token"], TMPDIR=str(theirs))
    assert proc.returncode == 8, proc.stderr
    assert "belongs to uid 4242" in proc.stderr and list(theirs.iterdir()) == []
