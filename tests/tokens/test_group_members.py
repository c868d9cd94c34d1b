"""A directory a group member can write is no place for jenv's files (issue 20 item 4), with a real member.

The victim (uid 4243) owns a directory whose group is 4250; the attacker
(uid 4242) is a real member of group 4250 (``setpriv --regid/--groups``).
Without the sticky bit the attacker can rename a file of his over any of the
victim's there (shown first, so the world of the test is the real threat),
which is how a member swapped a victim's exported pair.  jenv refuses such a
directory everywhere it writes, before writing anything, with one line
naming the directory and the fix, and the fix works: the token directory,
``export --to``, ``shims --dir`` and ``cert-import --dir``, and the places
jenv makes for itself there (the CA store under ``ca-fetch <dir>``'s parent,
the temporary copies of a token given as PEM content for ``exec``).  With
the sticky bit the token files and their copies are safe there (as in /tmp),
but the shims (which go on PATH) and the user certificate need a directory
nobody else can write at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterator, List, NamedTuple, Tuple

import pytest

from support.users import SETPRIV, give_credentials, jenv_as, run_as

VICTIM, ATTACKER, GROUP = 4243, 4242, 4250

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.getuid() != 0, reason="needs root to become other users"),
    pytest.mark.skipif(SETPRIV is None and not os.environ.get("CI"), reason="setpriv (util-linux) is not installed"),
    pytest.mark.parametrize("svc", ["test-ca"], indirect=True),  # file ownership only: the CA plays no part
]

#: Modes others can write without the sticky bit: the group (with and without read for others), everyone.
OPEN_MODES = [0o770, 0o775, 0o777]
#: The same, sticky: safe for files that only need to stay the victim's, not for what must be private.
STICKY_MODES = [0o1770, 0o1777]


@pytest.fixture
def world(svc) -> Iterator[Dict[str, object]]:
    """The victim's home (credentials, CA store, a private TMPDIR), a .p12 of the victim, and the directory
    ``shared`` the victim owns and group 4250 shares (its mode is the test's)."""
    base = Path(tempfile.mkdtemp(prefix="jenv-group-", dir="/tmp"))
    try:
        base.chmod(0o755)
        home = base / "victim"
        credentials = give_credentials(svc, home, VICTIM)
        (home / "tmp").mkdir(mode=0o700)
        p12 = home / "my.p12"
        subprocess.run(["openssl", "pkcs12", "-export", "-in", credentials["X509_USER_CERT"], "-inkey",
                        credentials["X509_USER_KEY"], "-out", str(p12), "-passout", "pass:secret"],
                       check=True, capture_output=True)
        for path in (home / "tmp", p12):
            os.chown(path, VICTIM, VICTIM)
        home.chmod(0o700)
        shared = base / "shared"
        shared.mkdir()
        os.chown(shared, VICTIM, GROUP)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home / "tmp"), "LANG": "C.UTF-8",
               "JENV_TIMEOUT": "15", **credentials}
        yield {"base": base, "shared": shared, "home": home, "env": env}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _victim(world, command, **extra) -> subprocess.CompletedProcess:
    return jenv_as(VICTIM, command, dict(world["env"], **extra))


def _refusal(proc: subprocess.CompletedProcess) -> str:
    """The one line of a refusal (exit 8, nothing on stdout)."""
    assert proc.returncode == 8 and proc.stdout == "", proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


class Place(NamedTuple):
    """A place jenv writes into a directory ``d`` the user names: the command and environment for ``d``,
    the files it leaves there, and the exit status that shows the directory was taken."""

    run: Callable[[Dict[str, object], str], Tuple[List[str], Dict[str, str]]]
    leaves: Tuple[str, ...] = ()
    #: 0: written.  cert-import (no terminal here) goes on to ask the PKCS#12 password (11), and ca-fetch
    #: to download (9: nothing listens), each only after every check of the directory.
    accepted: int = 0


def _token_content(world) -> Dict[str, str]:
    """The victim's valid token as PEM content in JALIEN_TOKEN_CERT/KEY (made in the private TMPDIR)."""
    assert _victim(world, ["token-init"]).returncode == 0
    tmp = world["home"] / "tmp"
    return {"JALIEN_TOKEN_CERT": (tmp / f"tokencert_{VICTIM}.pem").read_text(),
            "JALIEN_TOKEN_KEY": (tmp / f"tokenkey_{VICTIM}.pem").read_text()}


PLACES = {
    "TMPDIR": Place(lambda w, d: (["token-init"], {"TMPDIR": d}), ("tokencert_4243.pem", "tokenkey_4243.pem")),
    "export --to": Place(lambda w, d: (["export", "--to", d], {}), ("tokencert_4243.pem", "tokenkey_4243.pem")),
    "shims --dir": Place(lambda w, d: (["shims", "--dir", d], {}), ("alien-token-info",)),
    "cert-import --dir": Place(lambda w, d: (["cert-import", str(w["home"] / "my.p12"), "--dir", d], {}),
                               accepted=11),
    "ca-fetch <dir>/certificates": Place(lambda w, d: (["ca-fetch", "--url", "https://127.0.0.1:1/ca.tar.gz",
                                                        os.path.join(d, "certificates")], {}), accepted=9),
    "TMPDIR of exec with PEM content": Place(lambda w, d: (["exec", "--", "true"],
                                                           dict(_token_content(w), TMPDIR=d))),
}
#: Where the sticky bit is enough (the files only have to stay the victim's) and where it is not.
SHARED_OK = {"TMPDIR", "export --to", "ca-fetch <dir>/certificates", "TMPDIR of exec with PEM content"}


def _run_at(world, place: str) -> subprocess.CompletedProcess:
    command, extra = PLACES[place].run(world, str(world["shared"]))
    return _victim(world, command, **extra)


def _taken(world, place: str, proc: subprocess.CompletedProcess) -> None:
    """jenv took the directory, and left there what it writes, the victim's."""
    assert proc.returncode == PLACES[place].accepted, proc.stderr
    assert all(os.stat(world["shared"] / name).st_uid == VICTIM for name in PLACES[place].leaves)


def test_a_group_member_can_rename_over_the_victims_files_without_the_sticky_bit(world):
    """The threat itself, so the refusals below are about a real one; and the sticky bit stops it."""
    shared = world["shared"]
    for mode, swapped in ((0o770, True), (0o1770, False)):
        shared.chmod(mode)
        victims = shared / f"victim-{mode:o}"
        victims.write_text("the victim's\n")
        os.chown(victims, VICTIM, VICTIM)
        victims.chmod(0o400)
        script = f"echo the attacker\\'s > {shared}/planted && mv -f {shared}/planted {victims}"
        proc = run_as(ATTACKER, ["sh", "-c", script], world["env"], group=GROUP)
        assert (proc.returncode == 0) is swapped, proc.stderr
        assert (victims.read_text() == "the attacker's\n") is swapped


@pytest.mark.parametrize("mode", OPEN_MODES, ids=oct)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_directory_others_can_write_is_refused_before_anything_is_written(world, place, mode):
    shared = world["shared"]
    shared.chmod(mode)
    line = _refusal(_run_at(world, place))
    assert line.startswith(f"jenv: directory {shared} ")
    classes = ("g" if mode & 0o020 else "") + ("o" if mode & 0o002 else "")
    assert f"chmod {classes}-w {shared}" in line
    assert ("its group (gid 4250)" if mode & 0o002 == 0 else "everyone") in line
    assert list(shared.iterdir()) == []
    # The fix the line names works: the group cannot write any more.
    shared.chmod(mode & ~0o022)
    _taken(world, place, _run_at(world, place))


@pytest.mark.parametrize("mode", STICKY_MODES, ids=oct)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_sticky_shared_directory_serves_the_token_but_not_what_must_be_private(world, place, mode):
    shared = world["shared"]
    shared.chmod(mode)
    proc = _run_at(world, place)
    if place in SHARED_OK:
        _taken(world, place, proc)
        return
    line = _refusal(proc)
    assert str(shared) in line and "sticky bit does not stop that" in line
    assert "give --dir a directory of your own" in line
    assert list(shared.iterdir()) == []


def test_the_login_check_refuses_a_group_writable_token_directory(world):
    """``jenv token`` (the login form) and ``token-destroy`` take the same directory rule as ``token-init``."""
    shared = world["shared"]
    shared.chmod(0o750)
    assert _victim(world, ["token-init"], TMPDIR=str(shared)).returncode == 0
    before = {p.name: p.read_bytes() for p in shared.iterdir()}
    shared.chmod(0o770)
    for command in (["token"], ["token-destroy"]):
        assert f"chmod g-w {shared}" in _refusal(_victim(world, command, TMPDIR=str(shared)))
    assert {p.name: p.read_bytes() for p in shared.iterdir()} == before
