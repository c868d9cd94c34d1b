"""An encrypted user key inside eval "$(jenv token)": the passphrase is asked on the terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import launcher as jenvtest
from support.launcher import scan
from support.realshell import require_shell
from support.tokenkit import run_jenv, token_paths

pytestmark = pytest.mark.slow

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
    out = jenvtest.run_on_pty(["/bin/bash", "-c", f'{sys.executable} -m jenv token; echo "rc=$?"'], env,
                              [b"wrong"] * 3).output
    assert "wrong passphrase" in out and "rc=11" in out and "export" not in out, out
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "jenv", "token"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, start_new_session=True, timeout=30)
    scan(proc.args, proc.stdout, proc.stderr)
    assert proc.returncode == 11 and proc.stdout == "" and "no terminal" in proc.stderr
    assert time.monotonic() - start < 10
    assert not token_paths(env)[0].exists()
    assert run_jenv(["token-destroy"], env).returncode == 0


@pytest.mark.parametrize("typos", [0, 1, 2])
def test_a_typo_is_not_the_end(svc, home, typos):
    """Issue 20.15: three tries at the terminal, as ssh and openssl give: after one or two wrong (or empty)
    passphrases the prompt comes again, and the right one then gives the token."""
    env = _encrypted_env(svc, home)
    wrong = [b"wrong", b""][:typos]
    run = jenvtest.run_on_pty([sys.executable, "-m", "jenv", "token-init"], env, [*wrong, PASSPHRASE], capture=True)
    assert run.returncode == 0, run.stderr
    assert run.output.count("Passphrase for") == typos + 1 and run.output.count("try again") == typos, run.output
    assert "wrong" not in run.stderr and token_paths(env)[0].exists()


def test_three_wrong_passphrases_are_one_line_and_write_nothing(svc, home):
    env = _encrypted_env(svc, home)
    requests = svc.token_requests
    run = jenvtest.run_on_pty([sys.executable, "-m", "jenv", "token-init"], env, [b"wrong", b"", b"wrong again"],
                              capture=True)
    assert run.returncode == 11 and run.stdout == ""
    assert run.stderr.splitlines() == [f"jenv: wrong passphrase for user key {home / 'userkey.pem'}"], run.stderr
    assert run.output.count("Passphrase for") == 3 and run.output.count("try again") == 2, run.output
    assert not token_paths(env)[0].exists() and svc.token_requests == requests


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


class PromptOnPty:
    """``argv`` on a fresh pseudo-terminal (its controlling terminal) with an encrypted key to unlock: wait for
    what it shows, send signals to the jenv in it, type, read the terminal's modes.  A process per test:
    the signals and the terminal modes are the point."""

    def __init__(self, argv, env):
        import fcntl
        import pty
        import termios

        self.master, self.slave = pty.openpty()
        slave = self.slave
        self.proc = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                     preexec_fn=lambda: fcntl.ioctl(slave, termios.TIOCSCTTY, 0))
        self.seen = b""

    def wait_for(self, text: bytes, count: int = 1) -> None:
        import select

        deadline = time.monotonic() + 60
        while self.seen.count(text) < count:
            assert time.monotonic() < deadline and self.proc.poll() is None, self.seen
            if select.select([self.master], [], [], 0.2)[0]:
                self.seen += os.read(self.master, 4096)

    def jenv(self) -> int:
        """The pid of the jenv process in the session (the process itself, or a shell's child)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            todo = [self.proc.pid]
            while todo:
                pid = todo.pop()
                try:
                    if b"jenv" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3]:
                        return pid
                    todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
                except OSError:
                    continue
            time.sleep(0.02)
        raise AssertionError("no jenv process")

    def echo_on(self) -> bool:
        return _echo_on(self.slave)

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def finish(self) -> "tuple[int, str]":
        """(exit status, what the terminal showed) once the process ended; scanned like every run."""
        import select

        deadline = time.monotonic() + 60
        while self.proc.poll() is None or select.select([self.master], [], [], 0.1)[0]:
            assert time.monotonic() < deadline, self.seen
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    break
        output = self.seen.decode(errors="replace")
        scan(["token-init"], "", output)
        return self.proc.returncode, output

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


def _state(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    return ""


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


#: The signals that end jenv at the prompt by their default action (issue 20.5: SIGQUIT, Ctrl-\\, left echo off).
ENDING = [signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGALRM, signal.SIGUSR1,
          signal.SIGUSR2, signal.SIGXCPU, signal.SIGVTALRM, signal.SIGPROF, signal.SIGRTMIN]


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("signum", ENDING, ids=lambda s: signal.Signals(s).name)
def test_a_signal_at_the_prompt_restores_the_terminal(svc, home, signum):
    """Issues 11.2 and 20.5: the hook's time limit (SIGTERM), a closed terminal (SIGHUP), Ctrl-C, Ctrl-\\
    (SIGQUIT), a batch system's or a user's SIGUSR1, SIGALRM, SIGXCPU & co. at the passphrase prompt:
    jenv ends by that signal, and the terminal has echo on again (before, SIGQUIT and the rest left it off)."""
    env = _encrypted_env(svc, home)
    run = PromptOnPty([sys.executable, "-m", "jenv", "token-init"], env)
    try:
        run.wait_for(b"Passphrase for")
        _wait_until(lambda: not run.echo_on(), "echo never went off")
        os.kill(run.proc.pid, signum)
        returncode, output = run.finish()
        assert run.echo_on(), "the terminal was left with echo off"
        assert returncode == (130 if signum == signal.SIGINT else -signum), output
    finally:
        run.close()
    assert not token_paths(env)[0].exists()


#: What the shell runs: jenv, then its status and the terminal's echo setting, as the user would see them.
_THEN_STTY = "; echo \"rc=$?\"; stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo"
PROMPT_SHELLS = ["bash", "dash", "ksh", "zsh"]


def _in_shell(shell: str) -> "list[str]":
    return [require_shell(shell), "-c", f"{sys.executable} -m jenv token-init" + _THEN_STTY]


def _echo_lines(output: str) -> "list[str]":
    return [line.strip() for line in output.splitlines() if line.strip() in ("echo", "-echo")]


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("shell", PROMPT_SHELLS)
@pytest.mark.parametrize("signum", ENDING[:8], ids=lambda s: signal.Signals(s).name)
def test_a_signal_at_the_prompt_leaves_echo_on_in_every_shell(svc, home, shell, signum):
    """Issue 20.5 as users met it: Ctrl-\\ (SIGQUIT) and the others at the prompt of a jenv run by bash, dash
    and ksh left the shell's terminal with echo off (zsh puts the modes back itself); `stty -a` run by the
    same shell afterwards shows echo on."""
    env = _encrypted_env(svc, home)
    run = PromptOnPty(_in_shell(shell), env)
    try:
        run.wait_for(b"Passphrase for")
        _wait_until(lambda: not run.echo_on(), "echo never went off")
        os.kill(run.jenv(), signum)
        returncode, output = run.finish()
    finally:
        run.close()
    assert "rc=0" not in output and "rc=" in output, output
    assert _echo_lines(output) == ["echo"], output
    assert not token_paths(env)[0].exists()


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("shell", PROMPT_SHELLS)
def test_sigxfsz_at_the_prompt_leaves_it_working(svc, home, shell):
    """SIGXFSZ, the one signal of the list that Python ignores, does not end the prompt: the passphrase typed
    afterwards gives a token, and echo is on at the end."""
    env = _encrypted_env(svc, home)
    run = PromptOnPty(_in_shell(shell), env)
    try:
        run.wait_for(b"Passphrase for")
        _wait_until(lambda: not run.echo_on(), "echo never went off")
        os.kill(run.jenv(), signal.SIGXFSZ)
        run.type(PASSPHRASE + b"\n")
        returncode, output = run.finish()
    finally:
        run.close()
    assert returncode == 0 and "rc=0" in output, output
    assert _echo_lines(output) == ["echo"] and PASSPHRASE.decode() not in output, output
    assert token_paths(env)[0].exists()


#: Each shell with job control, running a script: jenv at its prompt, the echo setting while it is stopped
#: (Ctrl-Z), then `fg`, then the echo setting at the end.
JOB_CONTROL = {"bash": ["bash", "--norc", "-m", "-c"], "dash": ["dash", "-m", "-c"], "ksh": ["ksh", "-i", "-c"],
               "zsh": ["zsh", "-f", "-i", "-c"]}


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("shell", PROMPT_SHELLS)
def test_ctrl_z_at_the_prompt_then_fg_in_every_shell(svc, home, shell):
    """Ctrl-Z at the prompt of a jenv run by a shell with job control: while jenv is stopped the shell's
    `stty` shows echo on (Python's own getpass leaves it off); `fg` brings the prompt back, and the
    passphrase typed there gives the token, never shown."""
    require_shell(shell)
    env = dict(_encrypted_env(svc, home), HISTFILE=str(home / ".history"), ENV="/dev/null")
    script = (f"{sys.executable} -m jenv token-init{_THEN_STTY}; fg; echo \"rc=$?\"; "
              "stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo")
    run = PromptOnPty([*JOB_CONTROL[shell], script], env)
    try:
        run.wait_for(b"Passphrase for")
        _wait_until(lambda: not run.echo_on(), "echo never went off")
        run.type(b"\x1a")  # Ctrl-Z
        run.wait_for(b"Passphrase for", 2)  # after fg
        _wait_until(lambda: not run.echo_on(), "echo did not go off again after fg")
        run.type(PASSPHRASE + b"\n")
        _returncode, output = run.finish()
    finally:
        run.close()
    assert _echo_lines(output) and set(_echo_lines(output)) == {"echo"}, output
    assert PASSPHRASE.decode() not in output and token_paths(env)[0].exists(), output


#: A job-control shell in a few lines: jenv in a process group of its own, in the foreground of the terminal,
#: its parent in another group of the session (a stop signal to an orphaned group would be discarded).
JOB = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    os.tcsetpgrp(0, os.getpgrp())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execv(sys.executable, [sys.executable, "-m", "jenv", "token-init"])
status = os.waitpid(pid, 0)[1]
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_sigtstp_at_the_prompt_gives_echo_back_until_sigcont(svc, home):
    """SIGTSTP (Ctrl-Z) then SIGCONT (fg) at the prompt, as readpassphrase does for ssh: while jenv is stopped
    the terminal has echo on; once it continues echo is off again and the prompt is shown again; the
    passphrase typed then gives a token, and echo is on at the end."""
    env = _encrypted_env(svc, home)
    run = PromptOnPty([sys.executable, "-c", JOB], env)
    try:
        run.wait_for(b"Passphrase for")
        _wait_until(lambda: not run.echo_on(), "echo never went off")
        jenv = run.jenv()
        os.kill(jenv, signal.SIGTSTP)
        _wait_until(lambda: _state(jenv) == "T", "SIGTSTP did not stop jenv")
        assert run.echo_on(), "echo is off while jenv is stopped"
        os.kill(jenv, signal.SIGCONT)
        run.wait_for(b"Passphrase for", 2)
        _wait_until(lambda: not run.echo_on(), "echo did not go off again after SIGCONT")
        run.type(PASSPHRASE + b"\n")
        returncode, output = run.finish()
        echo_at_the_end = run.echo_on()
    finally:
        run.close()
    assert returncode == 0 and echo_at_the_end and PASSPHRASE.decode() not in output, output
    assert token_paths(env)[0].exists()


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
    require_shell(shell)
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
