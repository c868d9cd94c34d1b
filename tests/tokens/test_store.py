"""The token store's repair and failure rules, on real files (a few in-process with failures injected)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from jenv.errors import NotFoundError
from jenv.locations import Location
from jenv.tokens.store import TokenState, TokenStore, check_token, lock_store, write_token_pair
from support.tokenkit import run_in_process, token_paths
from support.snapshot import snapshot


@pytest.fixture(scope="module")
def pairs(svc, tmp_path_factory):
    """Two different fresh tokens (PEM text) from the local service."""
    env = svc.env(tmp_path_factory.mktemp("pairs"))
    return [json.loads(run_in_process(["token", "--content", "--json"], env, content_mode=True).stdout)["results"][0]
            for _ in range(2)]


def _put(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def _store(env) -> TokenStore:
    cert_path, key_path = token_paths(env)
    return TokenStore(Location("token certificate", "default", path=str(cert_path)),
                      Location("token key", "default", path=str(key_path)), os.getuid())


def _dotfiles(env):
    return sorted(p.name for p in Path(env["TMPDIR"]).iterdir() if p.name.startswith("."))


def test_killed_between_renames_is_finished_without_a_request(svc, home, pairs):
    old, new = pairs
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    _put(cert_path, old["tokencert"])
    _put(key_path, new["tokenkey"])  # the key was renamed, then the writer died
    _put(cert_path.parent / f".{cert_path.name}.jenv-tmp", new["tokencert"])
    assert check_token(_store(env), time.time(), 600).state is TokenState.MISMATCH  # never "valid"
    requests = svc.token_requests
    result = run_in_process(["token"], env)
    assert result.returncode == 0 and "finished the interrupted token write" in result.stderr
    assert svc.token_requests == requests
    assert cert_path.read_text() == new["tokencert"] + "\n" and _dotfiles(env) == []


def test_killed_between_renames_without_new_cert_rolls_back(svc, home, pairs):
    old, new = pairs
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    _put(cert_path, old["tokencert"])
    _put(key_path, new["tokenkey"])
    _put(key_path.parent / f".{key_path.name}.jenv-old", old["tokenkey"])
    requests = svc.token_requests
    result = run_in_process(["token"], env)
    assert result.returncode == 0 and "restored the token key" in result.stderr
    assert svc.token_requests == requests
    assert key_path.read_text() == old["tokenkey"] + "\n" and _dotfiles(env) == []


def test_mismatched_pair_is_replaced(svc, home, pairs):
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    _put(cert_path, pairs[0]["tokencert"])
    _put(key_path, pairs[1]["tokenkey"])
    requests = svc.token_requests
    assert run_in_process(["token"], env).returncode == 0
    assert svc.token_requests == requests + 1
    assert run_in_process(["tokenkey-match"], env).returncode == 0


def test_leftovers_are_found_by_name_and_other_users_files_are_kept(svc, home, pairs):
    """A killed writer's files stand at fixed names and are found by lstat, not by listing the shared
    directory (issue 15); another user's file at such a name is neither removed nor able to stop the
    write, which then uses a fresh name."""
    env = svc.env(home)
    tmp = Path(env["TMPDIR"])
    mine = tmp / f".tokenkey_{os.getuid()}.pem.jenv-old"
    foreign = tmp / f".tokencert_{os.getuid()}.pem.jenv-tmp"
    for path in (mine, foreign):
        _put(path, "x")
    if os.getuid() == 0:
        os.chown(foreign, 12345, 12345)
    assert run_in_process(["token-init"], env).returncode == 0
    assert not mine.exists()
    assert foreign.exists() == (os.getuid() == 0)
    assert run_in_process(["tokenkey-match"], env).returncode == 0
    left = [p.name for p in tmp.iterdir() if p.name.startswith(".") and p != foreign]
    assert left == []


def test_recovery_lists_no_directory(svc, home, pairs, monkeypatch):
    """token-init in a token directory it may not list: recovery and the write still work (they use
    names, never os.scandir / os.listdir)."""
    import jenv.safefile.write as files

    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    _put(cert_path, pairs[0]["tokencert"])
    _put(key_path, pairs[1]["tokenkey"])
    _put(key_path.parent / f".{key_path.name}.jenv-old", pairs[0]["tokenkey"])

    def refuse(*args, **kwargs):
        raise AssertionError("the token directory was listed")

    monkeypatch.setattr(files.os, "scandir", refuse)
    monkeypatch.setattr(files.os, "listdir", refuse)
    result = run_in_process(["token"], env)
    assert result.returncode == 0 and "restored the token key" in result.stderr, result.stderr


@pytest.mark.parametrize("fail_at", ["write", "fsync", "second rename"])
def test_failure_at_any_step_keeps_the_previous_pair(svc, home, pairs, monkeypatch, fail_at):
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    _put(cert_path, pairs[0]["tokencert"])
    _put(key_path, pairs[0]["tokenkey"])
    before = (snapshot(cert_path), snapshot(key_path))
    inodes = (os.stat(cert_path).st_ino, os.stat(key_path).st_ino)
    real_replace, real_write, real_fsync = os.replace, os.write, os.fsync

    def broken(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    if fail_at == "write":
        monkeypatch.setattr(os, "write", broken)
    elif fail_at == "fsync":
        monkeypatch.setattr(os, "fsync", broken)
    else:
        monkeypatch.setattr(os, "replace", lambda src, dst: broken() if str(dst) == str(cert_path)
                            else real_replace(src, dst))
    store = _store(env)
    with pytest.raises(NotFoundError, match="No space left on device; the previous token is unchanged"):
        with lock_store(store, 1) as lock:
            write_token_pair(lock, pairs[1]["tokencert"], pairs[1]["tokenkey"])
    monkeypatch.setattr(os, "replace", real_replace)
    monkeypatch.setattr(os, "write", real_write)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert (snapshot(cert_path), snapshot(key_path)) == before
    assert (os.stat(cert_path).st_ino, os.stat(key_path).st_ino) == inodes  # the very same files
    assert _dotfiles(env) == []


@contextlib.contextmanager
def _tiny_filesystem(path: Path):
    """A 64 KiB tmpfs at ``path`` (root only: skipped where mount is not allowed), unmounted afterwards."""
    path.mkdir(mode=0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("previous", [True, False], ids=["previous token", "first token"])
@pytest.mark.slow
def test_a_full_disk_says_what_is_left_and_names_the_fix(svc, home, tmp_path, previous):
    """A real full filesystem as TMPDIR: the message says whether a previous token is unchanged or no
    token was written, and names the fixes (free space, another TMPDIR); nothing half-written is left."""
    with _tiny_filesystem(tmp_path / "small") as small:
        env = svc.env(home, TMPDIR=str(small))
        cert_path, key_path = token_paths(env)
        if previous:
            assert run_in_process(["token-init"], env).returncode == 0
        before = (snapshot(cert_path), snapshot(key_path))
        filler = os.open(small / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        with contextlib.suppress(OSError):
            while True:
                os.write(filler, b"\0" * 4096)
        os.close(filler)
        result = run_in_process(["token-init"], env)
        assert result.returncode == 3 and result.stderr.count("\n") == 1, result.stderr
        what = "the previous token is unchanged" if previous else "no token was written"
        assert f"No space left on device; {what}: free some space there (df -h {small}), or set TMPDIR " \
               "to a private directory on another filesystem" in result.stderr, result.stderr
        assert (snapshot(cert_path), snapshot(key_path)) == before
        assert sorted(p.name for p in small.iterdir()) == (["filler", cert_path.name, key_path.name] if previous
                                                           else ["filler"])
