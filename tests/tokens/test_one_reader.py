"""One reader of the token (issue 19): every command reads the token files alike, and says the same.

* A token planted by another user (a real other uid, ``setpriv``) in a shared sticky directory, as a
  file, a link, a FIFO or a directory: every reading command refuses it with the one line and exit
  code of ``jenv token`` (``alien-token-info`` with its own exit 2, ``prompt`` with ``token?``).
* A pair has one origin: one variable without the other, two directories, content beside a path are
  refused by ``jenv token`` and ``token-init`` before any request, and nothing is written.
* ``status`` tells the truth: it says "result OK" exactly when ``jenv token`` exits 0 without asking
  JCentral, over the same states of the files.
* The remembered verdict follows the files: every way of replacing a token is seen.
* A failure is remembered: the logins right after one do not wait for JCentral again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.launcher import run_jenv, scan
from support.users import SETPRIV, run_as
from test_other_users import ATTACKER, VICTIM, world  # noqa: F401  (the shared /tmp and the victim's home)
from support.tokenkit import run_in_process, token_paths
from support.snapshot import snapshot

pytestmark = pytest.mark.slow


def _victim(world, command, **extra):  # noqa: F811
    proc = run_as(VICTIM, [sys.executable, "-m", "jenv", *command], dict(world["env"], **extra))
    scan(command, proc.stdout, proc.stderr)
    return proc


def _plant(world, kind: str) -> None:
    """The attacker puts ``kind`` at the victim's default token names in the shared directory."""
    shared = world["shared"]
    decoy = shared / "decoy.pem"
    steps = {
        "another user's file": [["sh", "-c", f"umask 0277; echo planted > {shared}/tokencert_{VICTIM}.pem; "
                                              f"echo planted > {shared}/tokenkey_{VICTIM}.pem"]],
        "a link": [["sh", "-c", f"echo x > {decoy}"], ["ln", "-s", str(decoy), str(shared / f"tokencert_{VICTIM}.pem")],
                   ["ln", "-s", str(decoy), str(shared / f"tokenkey_{VICTIM}.pem")]],
        "a FIFO": [["mkfifo", "-m", "0666", str(shared / f"tokencert_{VICTIM}.pem"),
                    str(shared / f"tokenkey_{VICTIM}.pem")]],
        "a directory": [["mkdir", str(shared / f"tokencert_{VICTIM}.pem"), str(shared / f"tokenkey_{VICTIM}.pem")]],
    }[kind]
    for argv in steps:
        assert run_as(ATTACKER, argv, world["env"]).returncode == 0, argv


READERS = [["token"], ["token", "--check"], ["whoami", "-q"], ["token-info"], ["tokenkey-match"], ["token-verify"],
           ["status"], ["export", "--to", "OUT"], ["exec", "--", "true"], ["args", "curl"], ["token-destroy"]]


@pytest.mark.skipif(os.getuid() != 0 or SETPRIV is None, reason="needs root and setpriv to be other users")
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("kind", ["another user's file", "a link", "a FIFO", "a directory"])
def test_every_reader_refuses_a_planted_token_with_one_line(world, kind):  # noqa: F811
    _plant(world, kind)
    out = world["home"] / "out"
    before = {name: snapshot(world["shared"] / name) for name in os.listdir(world["shared"])}
    first = _victim(world, ["token"])
    assert first.returncode == 8 and first.stdout == "", first.stderr
    line = first.stderr.strip()
    assert len(first.stderr.splitlines()) == 1 and "TMPDIR" in line, line  # the fix: a private TMPDIR
    for command in READERS:
        proc = _victim(world, [str(out) if word == "OUT" else word for word in command])
        assert proc.returncode == 8, (command, proc.returncode, proc.stderr)
        assert proc.stderr.splitlines()[0] == line, (command, proc.stderr)
        assert proc.stdout == "" or command == ["status"], (command, proc.stdout)
    info = _victim(world, ["alien-token-info"])
    assert info.returncode == 2 and info.stdout == "" and info.stderr.strip() == line
    prompt = _victim(world, ["prompt"])
    assert (prompt.returncode, prompt.stdout, prompt.stderr) == (0, "token?", "")
    hook = _victim(world, ["hook", "bash"])
    assert hook.returncode == 0 and "JALIEN_TOKEN" not in hook.stdout and hook.stderr.strip() == line
    assert {name: snapshot(world["shared"] / name) for name in os.listdir(world["shared"])} == before


@pytest.mark.skipif(os.getuid() != 0 or SETPRIV is None, reason="needs root and setpriv to be other users")
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_planted_file_at_the_default_name_names_the_fix(world):  # noqa: F811
    """Issue 20.12: another owner's 0400 file, which the victim cannot even open, is named with the fix
    (a private TMPDIR), not "cannot be opened: Permission denied"."""
    _plant(world, "another user's file")
    proc = _victim(world, ["token-info"])
    assert proc.returncode == 8 and "belongs to uid 4242" in proc.stderr and "Permission denied" not in proc.stderr



# --- one origin for a pair ------------------------------------------------------------------------

def _origins(env, tmp: Path):
    other = tmp / "elsewhere"
    other.mkdir(mode=0o700, exist_ok=True)
    cert, key = token_paths(env)
    return {
        "a typo in JALIEN_TOKEN_CERT": {"JALIEN_TOKEN_CERT": str(cert.parent / "tokncert.pem")},
        "JALIEN_TOKEN_KEY alone": {"JALIEN_TOKEN_KEY": str(other / "key.pem")},
        "two directories": {"JALIEN_TOKEN_CERT": str(cert), "JALIEN_TOKEN_KEY": str(other / "key.pem")},
        "content and a path": {"JALIEN_TOKEN_CERT": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                               "JALIEN_TOKEN_KEY": str(key)},
    }


@pytest.mark.parametrize("case", ["a typo in JALIEN_TOKEN_CERT", "JALIEN_TOKEN_KEY alone", "two directories",
                                  "content and a path"])
@pytest.mark.parametrize("command", [["token"], ["token-init"]])
def test_half_a_pair_is_never_written(svc, with_token, tmp_path, case, command):
    """The typo of issue 19: before, the certificate went to the typo'd path and the key over the default
    one, leaving the default pair mismatched for every other shell.  Now: exit 4, one line naming both
    variables and the fix, no request, nothing written."""
    env, before = with_token
    extra = _origins(env, tmp_path)[case]
    listing = sorted(os.listdir(Path(env["TMPDIR"])))
    requests = svc.token_requests
    res = run_in_process(command, dict(env, **extra))
    assert res.returncode == 4 and res.stdout == "", res.stderr
    assert len(res.stderr.splitlines()) == 1 and "JALIEN_TOKEN_CERT" in res.stderr and "JALIEN_TOKEN_KEY" in res.stderr
    assert "set both" in res.stderr or "both be" in res.stderr
    assert svc.token_requests == requests
    assert tuple(snapshot(path) for path in token_paths(env)) == before
    assert sorted(os.listdir(Path(env["TMPDIR"]))) == listing
    assert not (tmp_path / "elsewhere" / "key.pem").exists()


def test_both_variables_naming_the_default_files_are_one_origin(svc, with_token):
    """The negative twin: a pair set explicitly in one directory (here the default files) is fine."""
    env, _before = with_token
    cert, key = token_paths(env)
    assert run_in_process(["token", "--shell", "sh"], dict(env, JALIEN_TOKEN_CERT=str(cert))).returncode == 0
    assert run_in_process(["token", "--shell", "sh"], dict(env, JALIEN_TOKEN_CERT=str(cert),
                                                            JALIEN_TOKEN_KEY=str(key))).returncode == 0


# --- status tells the truth -----------------------------------------------------------------------

def _state(name: str, env, tmp_path: Path):
    """Put the token files (and their directory) in state ``name``; returns extra environment."""
    cert, key = token_paths(env)
    if name == "valid":
        return {}
    if name == "missing":
        cert.unlink()
        key.unlink()
        return {}
    if name == "mismatched":
        key.chmod(0o600)
        other = run_in_process(["token", "--content", "--shell", "sh"], env, content_mode=True)
        assert other.returncode == 0
        text = other.stdout.split("JALIEN_TOKEN_KEY=", 1)[1]
        key.write_text(text.split("-----END RSA PRIVATE KEY-----")[0].strip("'\n") + "-----END RSA PRIVATE KEY-----\n")
        key.chmod(0o400)
        return {}
    if name == "broken":
        cert.chmod(0o600)
        cert.write_text("garbage\n")
        cert.chmod(0o400)
        return {}
    if name == "read-only directory without a token":
        cert.unlink()
        key.unlink()
        cert.parent.chmod(0o500)
        return {}
    if name == "directory writable by everyone":
        cert.parent.chmod(0o777)
        return {}
    if name == "a FIFO for the key":
        key.unlink()
        os.mkfifo(key, 0o600)
        return {}
    if name == "no CA store and no token":
        cert.unlink()
        key.unlink()
        return {"X509_CERT_DIR": str(tmp_path / "no-ca")}
    if name == "a link for the certificate":
        target = tmp_path / "target.pem"
        shutil.copy(cert, target)
        cert.unlink()
        cert.symlink_to(target)
        return {}
    raise AssertionError(name)


STATES = ["valid", "missing", "mismatched", "broken", "read-only directory without a token",
          "directory writable by everyone", "a FIFO for the key", "no CA store and no token",
          "a link for the certificate"]


@pytest.mark.parametrize("state", STATES)
def test_status_says_ok_exactly_when_jenv_token_needs_nothing(svc, with_token, tmp_path, state):
    env, _before = with_token
    extra = _state(state, env, tmp_path)
    env = dict(env, **extra)
    status = run_jenv(["status", "--json"], env)
    report = json.loads(status.stdout)
    text = run_jenv(["status"], env).stdout.splitlines()[-1]
    requests = svc.token_requests
    token = run_jenv(["token", "--shell", "sh"], env)
    asked = svc.token_requests - requests
    needs_nothing = token.returncode == 0 and asked == 0
    assert (text == "result             OK") == needs_nothing == report["token_ready"], (state, text, token.stderr)
    if token.returncode != 0:  # jenv token failed: status named that very problem first, with its code
        assert status.returncode == token.returncode, (state, status.stderr, token.stderr)
        assert status.stderr.splitlines()[0] == token.stderr.splitlines()[0], (state, status.stderr, token.stderr)
    elif not needs_nothing:  # a new token was needed and made: status said so, without a problem
        assert status.returncode == 0 and "'jenv token' will get a new one" in text, (state, text)
    if state == "read-only directory without a token":
        Path(env["TMPDIR"]).chmod(0o700)


# --- the remembered verdict follows the files -------------------------------------------------------

def _left(env) -> str:
    return run_in_process(["prompt", "--format", "{left}"], env).stdout


def _memo(env) -> str:
    return (Path(env["XDG_RUNTIME_DIR"]) / "verdicts").read_text()


def _another_token(env, days: int):
    """The PEM text of a new token of ``days`` days (print-only, the files untouched)."""
    res = run_in_process(["token", "-v", str(days), "--json"], env, content_mode=True)
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)["results"][0]
    return found["tokencert"], found["tokenkey"]


def _rewrite(path: Path, text: str) -> None:  # alien.py: remove, then write a new file
    path.unlink()
    path.write_text(text)
    path.chmod(0o400)


def _rename_over(path: Path, text: str) -> None:  # jenv, JBox-like writers: a temporary renamed over it
    temp = path.with_name(path.name + ".new")
    temp.write_text(text)
    temp.chmod(0o400)
    os.replace(temp, path)


def _copy_keeping_time(path: Path, text: str) -> None:  # cp -p / rsync -t of a file made earlier
    source = path.with_name("source-" + path.name)
    source.write_text(text)
    source.chmod(0o400)
    old = os.stat(path)
    os.utime(source, ns=(old.st_atime_ns, old.st_mtime_ns))  # the very same mtime as the replaced file
    tool = ["cp", "-p"] if shutil.which("rsync") is None else ["rsync", "-t"]
    os.chmod(path, 0o600)
    assert subprocess.run([*tool, str(source), str(path)]).returncode == 0
    assert os.stat(path).st_mtime_ns == old.st_mtime_ns


def _in_place(path: Path, text: str) -> None:  # an editor, or "cat > file": the same inode, new bytes
    mtime = os.stat(path).st_mtime_ns
    os.chmod(path, 0o600)
    with open(path, "w") as handle:
        handle.write(text)
    os.utime(path, ns=(mtime, mtime))  # even with the old mtime back: the change time moved
    os.chmod(path, 0o400)


@pytest.mark.parametrize("replace", [_rewrite, _rename_over, _copy_keeping_time, _in_place],
                         ids=["alien.py rewrite", "rename over", "cp -p or rsync -t", "in place, mtime kept"])
def test_a_replaced_token_is_judged_again(svc, with_token, replace):
    env, _before = with_token
    assert _left(env).startswith("30d") or _left(env).startswith("31d"), _left(env)
    memo_before = _memo(env)
    cert_text, key_text = _another_token(env, 3)
    cert, key = token_paths(env)
    replace(key, key_text)
    replace(cert, cert_text)
    assert _left(env).startswith("2d 23h") or _left(env).startswith("3d"), _left(env)
    assert _memo(env) != memo_before


def test_touch_alone_is_judged_again_and_keeps_the_verdict(svc, with_token):
    env, _before = with_token
    _left(env)
    line = [entry for entry in _memo(env).splitlines() if "\ttoken\t" in entry]
    cert, _key = token_paths(env)
    time.sleep(0.01)
    os.utime(cert)
    assert _left(env)[:3] in ("30d", "31d")
    after = [entry for entry in _memo(env).splitlines() if "\ttoken\t" in entry]
    assert after != line and len(after) == 1  # the new identity replaced the old entry


@pytest.mark.parametrize("damage", ["garbage", "forged verdict, open to others", "a link", "a FIFO",
                                    "another user's file"])
def test_a_damaged_memory_is_ignored_and_replaced(svc, with_token, damage):
    """The memory is only a cache: a file that is not the user's private regular file, or not of the exact
    shape, is never believed.  Its teeth: a forged "valid until 2100", which believed would pass
    --min-valid 40d for a token of 30 days."""
    env, _before = with_token
    memo = Path(env["XDG_RUNTIME_DIR"]) / "verdicts"
    _left(env)
    lines = []
    for entry in _memo(env).splitlines():
        fields = entry.split("\t")
        if fields[1] == "token":
            fields[9] = "4102444800"  # notAfter 2100-01-01
        lines.append("\t".join(fields))
    text = "\n".join(lines) + "\n"
    memo.unlink()
    if damage == "garbage":
        memo.write_bytes(b"\x00\xff; rm -rf ~\n" * 100)
        memo.chmod(0o600)
    elif damage == "forged verdict, open to others":
        memo.write_text(text)
        memo.chmod(0o644)
    elif damage == "a link":
        (memo.parent / "elsewhere").write_text(text)
        memo.symlink_to(memo.parent / "elsewhere")
    elif damage == "a FIFO":
        os.mkfifo(memo, 0o600)
    else:
        memo.write_text(text)
        memo.chmod(0o600)
        os.chown(memo, 4242, 4242)
    res = run_in_process(["token", "--check", "--min-valid", "40d"], env)
    assert res.returncode == 5 and res.stderr == ""  # judged from the files: 30 days, not 2100
    assert _left(env)[:3] in ("30d", "31d")
    if damage in ("garbage", "forged verdict, open to others", "another user's file"):
        st = os.lstat(memo)
        assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o600  # replaced by the user's own


def test_a_home_shared_between_hosts_keeps_a_verdict_per_host(svc, with_token):
    """The memory is keyed by host name: two nodes that share HOME (AFS) never take each other's verdict
    (unshare gives the second run a host name of its own)."""
    if shutil.which("unshare") is None or os.getuid() != 0:
        pytest.skip("needs unshare and root")
    env, _before = with_token
    _left(env)
    argv = ["unshare", "--uts", "sh", "-c", f"hostname other-node && exec {sys.executable} -m jenv prompt"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout[:3] in ("30d", "31d"), proc.stderr
    hosts = {entry.split("\t")[2] for entry in _memo(env).splitlines() if entry.split("\t")[1] == "token"}
    assert hosts == {os.uname().nodename, "other-node"}


# --- a failure is remembered ------------------------------------------------------------------------

def test_logins_right_after_a_failure_do_not_wait_again(svc, home):
    """JCentral does not answer (a listener that never speaks): the first login waits the whole timeout;
    the next ones say so at once, with when jenv tries again; token-init always tries."""
    import socket

    quiet = socket.socket()
    quiet.bind(("127.0.0.1", 0))
    quiet.listen(8)
    try:
        env = svc.env(home, JENV_TIMEOUT="2", JENV_RETRY_AFTER="2m", ALIENPY_JCENTRAL_PORT=str(quiet.getsockname()[1]))
        start = time.monotonic()
        first = run_jenv(["token", "--shell", "sh"], env)
        waited = time.monotonic() - start
        assert first.returncode == 9 and first.stdout == "" and waited >= 2, first.stderr
        for _ in range(3):
            start = time.monotonic()
            again = run_jenv(["token", "--shell", "sh"], env)
            assert again.returncode == 9 and again.stdout == "", again.stderr
            assert len(again.stderr.splitlines()) == 1 and "jenv tries again in" in again.stderr
            assert time.monotonic() - start < 2  # no timeout waited: not one connection
        start = time.monotonic()
        init = run_jenv(["token-init"], env)
        assert init.returncode == 9 and time.monotonic() - start >= 2 and "tries again" not in init.stderr
        # the memory ends with JENV_RETRY_AFTER=0, and a success clears it
        env = dict(env, ALIENPY_JCENTRAL_PORT=str(svc.port))
        assert "tries again" in run_jenv(["token", "--shell", "sh"], env).stderr
        ok = run_jenv(["token", "--shell", "sh"], dict(env, JENV_RETRY_AFTER="0"))
        assert ok.returncode == 0, ok.stderr
        assert "JALIEN_TOKEN_CERT" in ok.stdout
        assert run_jenv(["token", "--shell", "sh", "--min-valid", "40d"], env).stderr.count("tries again") == 0
    finally:
        quiet.close()
