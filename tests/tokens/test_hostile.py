"""Hostile shared /tmp (issue 5 item 4): jenv refuses, names the path and the fix, and changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.tokenkit import run_in_process, run_jenv, token_paths
from support.snapshot import snapshot

pytestmark = pytest.mark.slow

OTHER_UID = 12345


def _victim(home: Path) -> Path:
    victim = home / "precious.txt"
    victim.write_text("user data\n")
    os.chmod(victim, 0o600)
    return victim


def _make(kind: str, path: Path, home: Path) -> None:
    if kind == "link to a user file":
        path.symlink_to(_victim(home))
    elif kind == "link to /dev/null":
        path.symlink_to("/dev/null")
    elif kind == "dangling link":
        path.symlink_to(home / "nowhere.pem")
    elif kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "mode 0644":
        path.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        os.chmod(path, 0o644)
    elif kind == "other owner":
        path.write_text("not yours\n")
        os.chmod(path, 0o600)
        os.chown(path, OTHER_UID, OTHER_UID)


KINDS = ["link to a user file", "link to /dev/null", "dangling link", "directory", "fifo", "mode 0644",
         "other owner"]
FIX_WORDS = {"link to a user file": "symbolic link", "link to /dev/null": "symbolic link",
             "dangling link": "symbolic link", "directory": "a directory", "fifo": "a FIFO",
             "mode 0644": "mode 0644", "other owner": f"uid {OTHER_UID}"}


def _state(directory: Path):
    return {entry.name: snapshot(entry) for entry in sorted(directory.iterdir())}


@pytest.mark.parametrize("which", ["cert", "key"])
@pytest.mark.parametrize("kind", KINDS)
def test_hostile_token_path_is_refused_and_left_alone(svc, home, kind, which):
    if kind == "other owner" and os.getuid() != 0:
        pytest.skip("needs root to create a file of another uid")
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    target = cert_path if which == "cert" else key_path
    _make(kind, target, home)
    tmp, before_home = Path(env["TMPDIR"]), _state(home)
    before, requests = _state(tmp), svc.token_requests
    # token-destroy removes the user's own 0644 file (asked for); everything else is refused
    commands = [["token"], ["token-init"]] + ([] if kind == "mode 0644" else [["token-destroy"]])
    for command in commands:
        result = run_jenv(command, env, timeout=20)  # may block: a process, bounded
        assert result.returncode == 8, (command, result.stderr)
        assert result.stdout == ""
        message = result.stderr.strip()
        assert len(message.splitlines()) == 1
        assert str(target) in message and FIX_WORDS[kind] in message
        assert "rm " in message or "TMPDIR" in message  # the fix
        after, after_home = _state(tmp), _state(home)
        if command == ["token-destroy"]:  # refuses inside its lock: the user's private lock directory may appear
            after_home.pop(".cache", None)
        assert after == before
        assert after_home == before_home
    assert svc.token_requests == requests  # refused before any network request
    if kind == "mode 0644":
        assert run_in_process(["token-destroy"], env).returncode == 0 and not target.exists()


def test_world_writable_tmpdir_without_sticky_bit_is_refused(svc, home):
    env = svc.env(home)
    tmp = Path(env["TMPDIR"])
    os.chmod(tmp, 0o777)
    requests = svc.token_requests
    for command in (["token"], ["token-init"], ["token-destroy"]):
        result = run_in_process(command, env)
        assert result.returncode == 8 and result.stdout == ""
        assert str(tmp) in result.stderr and "sticky" in result.stderr and "chmod +t" in result.stderr
        assert list(tmp.iterdir()) == []
    os.chmod(tmp, 0o1777)  # like /tmp: fine
    result = run_in_process(["token"], env)
    assert result.returncode == 0, result.stderr
    assert svc.token_requests == requests + 1


def test_a_lock_file_planted_in_the_shared_directory_blocks_nothing(svc, home):
    """Issue 11.7: the lock lives in a private directory of the user (here ~/.cache/jenv, 0700), so
    another user's file under the old lock name in the token directory no longer locks anyone out."""
    if os.getuid() != 0:
        pytest.skip("needs root to create a file of another uid")
    env = svc.env(home)
    env.pop("XDG_RUNTIME_DIR")  # the lock in ~/.cache/jenv
    planted = Path(env["TMPDIR"]) / f"jenv-token-{os.getuid()}.lock"
    planted.write_text("")
    os.chown(planted, OTHER_UID, OTHER_UID)
    result = run_in_process(["token"], env)
    assert result.returncode == 0, result.stderr
    assert token_paths(env)[0].exists()
    private = home / ".cache" / "jenv"
    assert os.stat(private).st_mode & 0o777 == 0o700
    assert [p.name for p in private.iterdir() if p.name.endswith(".lock")], "the lock is not in ~/.cache/jenv"


def test_unsafe_file_of_env_path_is_refused(svc, home):
    cert = home / "mycert.pem"
    cert.symlink_to("/dev/null")
    env = svc.env(home, JALIEN_TOKEN_CERT=str(cert), JALIEN_TOKEN_KEY=str(home / "mykey.pem"))
    result = run_in_process(["token"], env)
    assert result.returncode == 8 and str(cert) in result.stderr
    assert os.readlink(cert) == "/dev/null" and not (home / "mykey.pem").exists()


def test_user_chosen_public_certificate_is_read_but_never_replaced(svc, home):
    env = svc.env(home)
    assert run_in_process(["token"], env).returncode == 0
    default_cert, default_key = token_paths(env)
    cert, key = home / "job" / "cert.pem", home / "job" / "key.pem"
    cert.parent.mkdir()
    cert.write_bytes(default_cert.read_bytes())
    os.chmod(cert, 0o644)  # a public certificate where the user put it
    os.rename(default_key, key)
    env.update(JALIEN_TOKEN_CERT=str(cert), JALIEN_TOKEN_KEY=str(key))
    result = run_in_process(["token"], env)
    assert result.returncode == 0 and str(cert) in result.stdout
    requests = svc.token_requests
    renew = run_in_process(["token", "--min-valid", "400d"], env)  # replacing it is another matter
    assert renew.returncode == 8 and "mode 0644" in renew.stderr and renew.stdout == ""
    assert svc.token_requests == requests  # refused before asking JCentral
    os.chmod(key, 0o640)  # a key open to the group is refused wherever it is
    refused = run_in_process(["token"], env)
    assert refused.returncode == 8 and str(key) in refused.stderr
