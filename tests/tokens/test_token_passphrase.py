"""An encrypted user key inside eval "$(jenv token)": the passphrase is asked on the terminal."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import launcher as jenvtest
from support.launcher import scan
from tokenkit import run_jenv, token_paths

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = b"correct horse battery"


def _encrypted_env(svc, home):
    from support.service import encrypted_user_key

    encrypted = encrypted_user_key(svc.user_files("jdoe")[1], home / "userkey.pem", PASSPHRASE)
    return svc.env(home, X509_USER_KEY=str(encrypted), PYTHONPATH=str(REPO))


def _bash_on_pty(script: str, env, answer: bytes, timeout: float = 30) -> str:
    """What the terminal showed while bash ran ``script`` on it (``answer`` typed at the prompt), scanned."""
    return jenvtest.run_on_pty(["/bin/bash", "-c", script], env, [answer], timeout=timeout).output


def test_eval_prompts_on_the_terminal(svc, home):
    env = _encrypted_env(svc, home)
    cert_path, _ = token_paths(env)
    out = _bash_on_pty(f'eval "$({sys.executable} -m jenv token)"; echo "CERT=$JALIEN_TOKEN_CERT"', env,
                       PASSPHRASE)
    assert out.count("Passphrase for") == 1 and PASSPHRASE.decode() not in out
    assert f"CERT={cert_path}" in out, out


def test_wrong_passphrase_and_no_terminal(svc, home):
    env = _encrypted_env(svc, home)
    out = _bash_on_pty(f'{sys.executable} -m jenv token; echo "rc=$?"', env, b"wrong")
    assert "wrong passphrase" in out and "rc=11" in out and "export" not in out, out
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "jenv", "token"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, start_new_session=True, timeout=30)
    scan(proc.args, proc.stdout, proc.stderr)
    assert proc.returncode == 11 and proc.stdout == "" and "no terminal" in proc.stderr
    assert time.monotonic() - start < 10
    assert not token_paths(env)[0].exists()
    assert run_jenv(["token-destroy"], env).returncode == 0


def test_login_hook_at_a_terminal_asks_and_exports(svc, home, tmp_path):
    """Through the bash login hook (timeout --foreground at a terminal): asked once, token exported."""
    env = _encrypted_env(svc, home)
    wrapper = tmp_path / "jenv"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m jenv "$@"\n')
    wrapper.chmod(0o755)
    env["JENV_BIN"] = str(wrapper)
    cert_path, _ = token_paths(env)
    out = _bash_on_pty(f'. "{REPO}/shell/jenv.sh"; echo "CERT=$JALIEN_TOKEN_CERT"', env, PASSPHRASE)
    assert out.count("Passphrase for") == 1 and PASSPHRASE.decode() not in out
    assert f"CERT={cert_path}" in out, out


def _echo_on(fd: int) -> bool:
    import termios

    return bool(termios.tcgetattr(fd)[3] & termios.ECHO)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_at_the_prompt_restores_the_terminal(svc, home, signum):
    """Issue 11.2: the hook's time limit (SIGTERM), a closed terminal (SIGHUP) or Ctrl-C (SIGINT) at the
    passphrase prompt: jenv ends, and the terminal has echo on again (before, SIGTERM left it off)."""
    import fcntl
    import pty
    import select
    import termios

    env = _encrypted_env(svc, home)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "jenv", "token-init"], env=env, stdin=slave, stdout=slave,
                                stderr=slave, start_new_session=True,
                                preexec_fn=lambda: fcntl.ioctl(slave, termios.TIOCSCTTY, 0))
        seen, deadline = b"", time.monotonic() + 30
        while b"Passphrase for" not in seen:
            assert time.monotonic() < deadline, seen
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
        time.sleep(0.2)  # inside the read, echo off
        assert not _echo_on(slave)
        os.kill(proc.pid, signum)
        returncode = proc.wait(timeout=30)
        assert _echo_on(slave), "the terminal was left with echo off"
        assert returncode == (130 if signum == signal.SIGINT else -signum)
    finally:
        os.close(master)
        os.close(slave)
    assert not token_paths(env)[0].exists()


#: The line each shell's login file gets (README "Shell setup").
LOGIN_LINES = {
    "bash": 'eval "$(jenv hook bash)"',
    "zsh": 'eval "$(jenv hook zsh)"',
    "ksh": 'eval "$(jenv hook ksh)"',
    "dash": 'eval "$(jenv hook sh)"',
    "fish": "jenv hook fish | source",
    "tcsh": 'eval "`jenv hook tcsh`"',
}


def _login_shell(shell: str, svc, home, tmp_path, then: str, hook_timeout: str):
    """(argv, env): ``shell`` running its login line, then ``then``, with an encrypted user key, no token,
    and a `jenv` on PATH that runs this checkout."""
    if shutil.which(shell) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{shell} is not installed")
        pytest.skip(f"{shell} is not installed")
    env = _encrypted_env(svc, home)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "jenv"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m jenv "$@"\n')
    wrapper.chmod(0o755)
    env.update(PATH=f"{bin_dir}:{env['PATH']}", JENV_HOOK_TIMEOUT=hook_timeout,
               XDG_DATA_HOME=str(home / ".local/share"), HISTFILE=str(home / ".history"))
    script = f"{LOGIN_LINES[shell]}; {then}"
    argv = {"fish": ["fish", "--no-config", "-i", "-c", script],
            "tcsh": ["tcsh", "-f", "-c", script]}.get(shell, [shell, "-c", script])
    return argv, env


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("shell", sorted(LOGIN_LINES))
def test_every_documented_login_line_prompts_at_the_terminal(svc, home, tmp_path, shell):
    """Issue 11.1: each shell runs its documented hook line on a pseudo-terminal, with an encrypted key
    and no token; the passphrase typed at the prompt gives a token, and it shows up on no screen and in
    no history file (fish's `jenv hook fish | source` used to leave jenv stopped in the background,
    the passphrase echoed and then run as a command)."""
    argv, env = _login_shell(shell, svc, home, tmp_path, 'echo "CERT=$JALIEN_TOKEN_CERT"', "30")
    result = jenvtest.run_on_pty(argv, env, [PASSPHRASE], timeout=60)
    cert_path, _ = token_paths(env)
    assert result.output.count("Passphrase for") == 1, result.output
    assert f"CERT={cert_path}" in result.output, result.output
    assert PASSPHRASE.decode() not in result.output
    for path in home.rglob("*"):
        if path.is_file() and "history" in path.name:
            assert PASSPHRASE not in path.read_bytes(), path


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("shell", sorted(LOGIN_LINES))
def test_the_hook_time_limit_at_the_prompt_leaves_echo_on_in_every_shell(svc, home, tmp_path, shell):
    """Issue 11.2 through the real hooks: nobody answers the prompt, the hook's time limit (SIGTERM from
    timeout) ends jenv, and `stty -a` run by the same shell afterwards shows echo on."""
    check = "stty -a | tr ' ' '\\n' | grep -x -e echo -e -echo"
    argv, env = _login_shell(shell, svc, home, tmp_path, check, "3")
    result = jenvtest.run_on_pty(argv, env, [], timeout=60)  # no answer: the time limit ends the prompt
    assert "Passphrase for" in result.output and "JENV_HOOK_TIMEOUT sets the limit" in result.output, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "echo" in lines and "-echo" not in lines, result.output
