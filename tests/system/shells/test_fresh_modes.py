"""A fresh-token line that other users could read or write (issue 22, point 3): bash, ksh93 and fish cannot
read mode bits without starting a process, so they take such a line as zsh would not (the mutation table
of test_fresh_login.py shows the outcome still equals ``jenv token``'s).  This is what bounds it: the next
jenv run that looks at the token (``jenv token``, ``jenv prompt``, the login line's fallback) removes the line
of a file, reference or directory open to others, writes it again only where it is private, and the login
after that starts jenv only while the directory stays open.
"""

from __future__ import annotations

import stat

import pytest

from support.launcher import run_jenv
from test_fresh_login import OPEN_MODES, SHELLS, _fresh, _prepare, _run_login, _starts


def _open(fresh, mode: str) -> None:
    kind, bits = mode.split()
    (fresh.parent if kind == "directory" else fresh).chmod(int(bits, 8))


@pytest.mark.parametrize("command", [["token", "--shell", "sh"], ["prompt"]])
@pytest.mark.parametrize("mode", OPEN_MODES)
def test_the_next_jenv_removes_a_line_open_to_others(mode, command, login):
    env, _starts_log, _cert = login
    _prepare(env, "bash")
    fresh = _fresh(env)
    _open(fresh, mode)
    assert run_jenv(command, env).returncode == 0
    if mode.startswith("directory"):
        assert not fresh.exists() and not fresh.with_name(fresh.name + ".cert").exists()
    else:  # written again, private
        st = fresh.lstat()
        assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o777 == 0o600


@pytest.mark.parametrize("reference", [".cert", ".key"])
def test_a_reference_open_to_others_goes_too(reference, login):
    env, _starts_log, _cert = login
    _prepare(env, "bash")
    ref = _fresh(env).with_name(_fresh(env).name + reference)
    ref.chmod(0o666)
    assert run_jenv(["prompt"], env).returncode == 0
    assert ref.lstat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", OPEN_MODES)
@pytest.mark.parametrize("shell", SHELLS)
def test_after_the_next_jenv_the_shells_see_it_again(shell, mode, tmp_path, login):
    """Login, jenv token, login: the second login starts nothing when the line could be made private
    again, and jenv once while ~/.cache/jenv stays open to others."""
    env, starts, cert = login
    _prepare(env, shell)
    _open(_fresh(env), mode)
    assert run_jenv(["token", "--shell", "sh"], env).returncode == 0
    count = _starts(starts)
    proc, found = _run_login(shell, tmp_path, env)
    assert found["JALIEN_TOKEN_CERT"] == str(cert) and proc.stderr == b""
    assert _starts(starts) == count + (1 if mode.startswith("directory") else 0)
