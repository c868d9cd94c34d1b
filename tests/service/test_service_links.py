"""`jenv serve` and `jenv sandbox` never write through a link or into a directory someone else controls.

The attacker is a real other user (``setpriv``, uid 4242) who plants symbolic links and directories
in a shared sticky directory like /tmp; jenv runs as the victim (the test's own user).  Each
refusal is one line and exit 8, before the service starts, and the file or directory the link
points to is untouched; the positive twins show the same places work when nobody planted anything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from support.users import SETPRIV, run_as

ATTACKER = 4242
REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv")]


@pytest.fixture
def shared() -> Iterator[Path]:
    """A world-writable sticky directory, like /tmp, that the attacker can reach."""
    path = Path(tempfile.mkdtemp(prefix="jenv-shared-"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    precious = tmp_path / "precious.txt"
    precious.write_text("the victim's own file\n")
    return precious


def plant(argv: list) -> None:
    proc = run_as(ATTACKER, argv, {"PATH": os.environ["PATH"]})
    assert proc.returncode == 0, proc.stderr


def assert_one_line_refusal(result, words: str) -> None:
    assert result.returncode == 8, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("jenv: "), result.stderr
    assert words in result.stderr, result.stderr


@contextlib.contextmanager
def serving(env, directory: Path, ready: Path, *extra: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, "-m", "jenv", "serve", "--dir", str(directory), "--ready-file",
                             str(ready), *extra], env=env, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


@pytest.mark.parametrize("how", ["--log", "JENV_SERVE_LOG"])
def test_serve_does_not_log_through_a_planted_link(root, home, tmp_path, shared, victim, how):
    log = shared / "serve.log"
    plant(["ln", "-s", str(victim), str(log)])
    env = root.clean_env(home)
    args = ["serve", "--dir", str(tmp_path / "svc")]
    if how == "--log":
        args += ["--log", str(log)]
    else:
        env["JENV_SERVE_LOG"] = str(log)
    result = root.run_jenv(args, env, timeout=60)
    assert_one_line_refusal(result, str(log))
    assert "symbolic link" in result.stderr
    assert victim.read_text() == "the victim's own file\n"


def test_serve_does_not_log_into_a_file_of_another_user_or_a_fifo(root, home, tmp_path, shared):
    theirs, fifo = shared / "theirs.log", shared / "fifo.log"
    plant(["sh", "-c", f"umask 0; : > '{theirs}'"])
    os.mkfifo(fifo)
    env = root.clean_env(home)
    for log, words in ((theirs, "belongs to uid 4242"), (fifo, "not a regular file")):
        result = root.run_jenv(["serve", "--dir", str(tmp_path / "svc"), "--log", str(log)], env, timeout=60)
        assert_one_line_refusal(result, words)
    assert theirs.read_bytes() == b""


def test_serve_logs_into_a_new_file_in_a_shared_directory(root, home, tmp_path, shared):
    """The positive twin: a log in /tmp works, private (0600) from its creation, and appends on reuse."""
    log = shared / "mine.log"
    env = root.clean_env(home)
    for _ in range(2):
        ready = tmp_path / "ready"
        with contextlib.suppress(FileNotFoundError):
            ready.unlink()
        with serving(env, tmp_path / "svc", ready, "--log", str(log)) as proc:
            assert ready.exists(), proc.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and log.stat().st_uid == os.geteuid()


def test_the_ready_file_replaces_a_link_it_finds_instead_of_writing_through_it(root, home, tmp_path, victim):
    ready = tmp_path / "ready"
    os.symlink(victim, ready)
    with serving(root.clean_env(home), tmp_path / "svc", ready) as proc:
        deadline = time.monotonic() + 30
        while ready.is_symlink() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert not ready.is_symlink() and int(ready.read_text()) > 0
    assert victim.read_text() == "the victim's own file\n"


def test_a_ready_file_another_user_planted_is_refused_before_serving(root, home, tmp_path, shared, victim):
    """In a sticky /tmp jenv could not replace another user's link (nor should it write through it): one
    line and exit 8, before the service starts."""
    ready = shared / "ready"
    plant(["ln", "-s", str(victim), str(ready)])
    result = root.run_jenv(["serve", "--dir", str(tmp_path / "svc"), "--ready-file", str(ready)],
                           root.clean_env(home), timeout=60)
    assert_one_line_refusal(result, "belongs to uid 4242")
    assert victim.read_text() == "the victim's own file\n" and ready.is_symlink()


@pytest.mark.parametrize("command", ["serve", "sandbox"])
@pytest.mark.parametrize("planted", ["link to the attacker's directory", "link to the victim's directory",
                                     "directory of the attacker", "inside a directory anyone can write"])
def test_a_service_directory_someone_else_controls_is_refused(root, home, tmp_path, shared, command, planted):
    attacker_dir = shared / "attacker"
    plant(["mkdir", "-m", "0777", str(attacker_dir)])
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    directory = shared / "sb"
    if planted == "link to the attacker's directory":
        plant(["ln", "-s", str(attacker_dir), str(directory)])
    elif planted == "link to the victim's directory":
        plant(["ln", "-s", str(mine), str(directory)])
    elif planted == "directory of the attacker":
        plant(["mkdir", "-m", "0777", str(directory)])
    else:
        directory = attacker_dir / "sb"
    args = [command, "--dir", str(directory)] + (["--", "true"] if command == "sandbox" else [])
    result = root.run_jenv(args, root.clean_env(home), timeout=60)
    assert_one_line_refusal(result, str(directory))
    assert list(attacker_dir.iterdir()) == [] and list(mine.iterdir()) == []


def test_a_new_service_directory_in_a_shared_sticky_directory_is_private(root, home, shared):
    """The positive twin: a directory jenv creates itself in /tmp is fine, and 0700."""
    directory = shared / "fresh"
    result = root.run_jenv(["sandbox", "--dir", str(directory), "--", "true"], root.clean_env(home), timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(directory.lstat().st_mode) == 0o700 and not directory.is_symlink()
    again = root.run_jenv(["sandbox", "--dir", str(directory), "--", "true"], root.clean_env(home), timeout=60)
    assert again.returncode == 0, again.stderr
