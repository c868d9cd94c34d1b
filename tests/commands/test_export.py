"""`jenv export --to <dir>`: the token for batch jobs on other nodes and for containers.

What the users run: the printed exports in a job-like ``env -i sh`` that then uses the token, an
env file as apptainer reads it (shell assignments), paths as seen under a container's mount point.
The directory meets the token files' rules, tried with a real other user (``setpriv``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict

import pytest

from support.launcher import run_jenv, scan
from support.users import SETPRIV, run_as

pytestmark = pytest.mark.slow

UID = os.getuid()
COPIES = (f"tokencert_{UID}.pem", f"tokenkey_{UID}.pem")
JENV = f"{sys.executable} -m jenv"


def job(script: str, **extra: str) -> subprocess.CompletedProcess:
    """``script`` in a job-like environment: nothing inherited but PATH (and ``extra``)."""
    return subprocess.run(["env", "-i", f"PATH={os.environ['PATH']}", *(f"{k}={v}" for k, v in extra.items()),
                           "sh", "-c", script], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_exports_work_in_a_job_with_an_empty_environment(env, tmp_path):
    target = tmp_path / "shared" / "jenv-token"
    result = run_jenv(["export", "--to", str(target), "--shell", "sh"], env)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert sorted(os.listdir(target)) == sorted(COPIES)
    for name in COPIES:
        assert stat.S_IMODE(os.stat(target / name).st_mode) == 0o400
    token_cert = Path(env["TMPDIR"]) / COPIES[0]
    assert (target / COPIES[0]).read_bytes() == token_cert.read_bytes()
    info = job(f"{result.stdout}\n{JENV} token-info --json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["source"] == "from JALIEN_TOKEN_CERT"
    assert json.loads(info.stdout)["path"] == str(target / COPIES[0])
    assert job(f"{result.stdout}\n{JENV} tokenkey-match").returncode == 0
    # the negative twin: the same job without the exports has no token
    assert job(f"{JENV} token-info", TMPDIR=str(tmp_path)).returncode == 3


def test_export_makes_the_token_first(env, svc, tmp_path):
    assert run_jenv(["token-destroy"], env).returncode == 0
    requests = svc.token_requests
    result = run_jenv(["export", "--to", str(tmp_path / "out"), "--shell", "bash"], env)
    assert result.returncode == 0, result.stderr
    assert svc.token_requests == requests + 1
    assert (tmp_path / "out" / COPIES[0]).read_bytes() == (Path(env["TMPDIR"]) / COPIES[0]).read_bytes()
    again = run_jenv(["export", "--to", str(tmp_path / "out"), "--shell", "bash"], env)
    assert again.returncode == 0 and svc.token_requests == requests + 1  # a valid token is copied as it is


def test_env_file_form_and_container_paths(env, tmp_path):
    target = tmp_path / "out"
    result = run_jenv(["export", "--to", str(target), "--as", "/grid/token", "--shell", "env"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"JALIEN_TOKEN_CERT=/grid/token/{COPIES[0]}\nJALIEN_TOKEN_KEY=/grid/token/{COPIES[1]}\n"
    assert sorted(os.listdir(target)) == sorted(COPIES)
    # Read the way apptainer reads --env-file (shell assignments), with the directory "mounted" there.
    env_file = tmp_path / "token.env"
    plain = run_jenv(["export", "--to", str(target), "--shell", "env"], env)
    env_file.write_text(plain.stdout)
    info = job(f"set -a; . {env_file}; set +a; {JENV} token-info")
    assert info.returncode == 0, info.stderr
    # docker reads NAME=value literally: every line is exactly that
    assert all(line.split("=", 1)[1] == str(target / name) for line, name in zip(plain.stdout.splitlines(), COPIES))


def test_bad_as_and_unwritable_forms_fail_before_any_copy(env, tmp_path):
    target = tmp_path / "out"
    relative = run_jenv(["export", "--to", str(target), "--as", "grid"], env)
    assert relative.returncode == 2 and relative.stdout == "" and not target.exists()
    spaced = run_jenv(["export", "--to", str(tmp_path / "a b"), "--shell", "env"], env)
    assert spaced.returncode == 4 and spaced.stdout == "" and not (tmp_path / "a b").exists()
    assert spaced.stderr.startswith("jenv: ") and spaced.stderr.count("\n") == 1


def test_world_writable_directory_without_sticky_bit_is_refused(env, svc, tmp_path):
    target = tmp_path / "open"
    target.mkdir()
    target.chmod(0o777)
    assert run_jenv(["token-destroy"], env).returncode == 0
    requests = svc.token_requests
    result = run_jenv(["export", "--to", str(target)], env)
    assert result.returncode == 8 and result.stdout == "" and "chmod +t" in result.stderr
    assert "a directory of your own" in result.stderr and result.stderr.count("\n") == 1
    assert list(target.iterdir()) == []
    assert svc.token_requests == requests  # refused before any token work


def test_a_link_at_a_copy_name_is_refused_and_left_alone(env, tmp_path):
    target = tmp_path / "out"
    target.mkdir(mode=0o700)
    bait = tmp_path / "bait"
    bait.write_text("not yours\n")
    (target / COPIES[1]).symlink_to(bait)
    result = run_jenv(["export", "--to", str(target)], env)
    assert result.returncode == 8 and result.stdout == "" and "symbolic link" in result.stderr
    assert bait.read_text() == "not yours\n" and (target / COPIES[1]).is_symlink()
    assert not (target / COPIES[0]).exists()


VICTIM, ATTACKER = 4243, 4242


@pytest.mark.skipif(os.getuid() != 0 or SETPRIV is None, reason="needs root and setpriv to become other users")
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_directory_of_another_user_is_refused(env, tmp_path):
    base = Path(tempfile.mkdtemp(prefix="jenv-export-", dir="/tmp"))
    try:
        base.chmod(0o755)
        theirs = base / "attacker"
        theirs.mkdir()
        theirs.chmod(0o1777)  # sticky: only the owner rule can refuse it
        os.chown(theirs, ATTACKER, ATTACKER)
        token = Path(env["TMPDIR"])
        victim_env: Dict[str, str] = {"PATH": os.environ["PATH"], "HOME": str(base), "LANG": "C.UTF-8",
                                      "JALIEN_TOKEN_CERT": (token / COPIES[0]).read_text(),
                                      "JALIEN_TOKEN_KEY": (token / COPIES[1]).read_text(),
                                      "XDG_RUNTIME_DIR": ""}
        argv = [sys.executable, "-m", "jenv", "export", "--to", str(theirs), "--shell", "sh"]
        proc = run_as(VICTIM, argv, dict(victim_env, HOME=str(base / "victim")))
        scan(argv, proc.stdout, proc.stderr)
        assert proc.returncode == 8 and proc.stdout == "", proc.stderr
        assert "belongs to uid 4242" in proc.stderr and list(theirs.iterdir()) == []
        # the positive twin: a directory of the victim's own
        (base / "victim").mkdir()
        os.chown(base / "victim", VICTIM, VICTIM)
        argv[-3] = str(base / "victim" / "jobs")
        proc = run_as(VICTIM, argv, dict(victim_env, HOME=str(base / "victim")))
        assert proc.returncode == 0, proc.stderr
        copy = base / "victim" / "jobs" / f"tokencert_{VICTIM}.pem"
        assert os.stat(copy).st_uid == VICTIM and stat.S_IMODE(os.stat(copy).st_mode) == 0o400
    finally:
        shutil.rmtree(base, ignore_errors=True)


PASSPHRASE = b"export passphrase"


def _encrypted_user(svc, home) -> Dict[str, str]:
    """jdoe with an encrypted key and no token yet."""
    cert, key = home / "usercert.pem", home / "userkey.pem"
    svc.world.creds["jdoe"].write(str(cert), str(key), passphrase=PASSPHRASE)
    return svc.env(home, X509_USER_CERT=str(cert), X509_USER_KEY=str(key))


def test_a_passphrase_is_asked_only_at_a_terminal(svc, home, tmp_path):
    from support.launcher import run_on_pty

    env = _encrypted_user(svc, home)
    target = tmp_path / "out"
    detached = subprocess.run([sys.executable, "-m", "jenv", "export", "--to", str(target)], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, start_new_session=True,
                              timeout=30)
    scan(detached.args, detached.stdout, detached.stderr)
    assert detached.returncode == 11 and detached.stdout == "" and "no terminal" in detached.stderr
    assert not target.exists()
    at_terminal = run_on_pty([sys.executable, "-m", "jenv", "export", "--to", str(target), "--shell", "sh"], env,
                             [PASSPHRASE])
    assert at_terminal.returncode == 0, at_terminal.output
    assert at_terminal.output.count("Passphrase for") == 1 and PASSPHRASE.decode() not in at_terminal.output
    assert sorted(os.listdir(target)) == sorted(COPIES)


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("shell", ["bash", "zsh", "ksh", "dash", "fish", "tcsh"])
def test_the_exports_work_in_each_real_shell(env, tmp_path, shell):
    """The file a job script sources, in the job's own shell: the token is found through the copies."""
    from support.realshell import run_script

    target = tmp_path / "out dir"  # a space: the quoting is each shell's own
    exports = run_jenv(["export", "--to", str(target), "--shell", shell], env)
    assert exports.returncode == 0, exports.stderr
    (tmp_path / "token.env").write_text(exports.stdout)
    source = "." if shell in ("dash", "ksh", "bash", "zsh") else "source"
    info = run_script(shell, f"{source} '{tmp_path / 'token.env'}'\n{JENV} token-info --json\n", tmp_path,
                      {"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["path"] == str(target / COPIES[0])


@pytest.mark.parametrize("form", [["--json"], ["--shell", "json"], ["-json"]], ids=" ".join)
def test_json_is_the_one_shape_of_token_exports(env, tmp_path, form):
    """Issue 15.5: token exports have one JSON shape, the reference documentation's (as jenv token
    --json); the variables form is --shell json-vars."""
    target = tmp_path / "out"
    result = run_jenv(["export", "--to", str(target), *form], env)
    assert result.returncode == 0, result.stderr
    token = run_jenv(["token", "--json"], env)
    assert json.loads(result.stdout) == {"schema": "jenv.token/1",
                                         "results": [{"tokencert": str(target / COPIES[0]),
                                                      "tokenkey": str(target / COPIES[1])}]}
    assert json.loads(result.stdout).keys() == json.loads(token.stdout).keys()
    variables = run_jenv(["export", "--to", str(target), "--shell", "json-vars"], env)
    assert json.loads(variables.stdout) == {"JALIEN_TOKEN_CERT": str(target / COPIES[0]),
                                            "JALIEN_TOKEN_KEY": str(target / COPIES[1])}
