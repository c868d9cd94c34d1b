"""Key content never lands on a terminal (issue 20.14): a command that prints a token's private key for
``eval`` refuses a terminal as stdout (typed without ``eval``) with one line saying how to use it, exit 2,
before JCentral is asked; with stdout a pipe, as ``eval "$(...)"`` has it, it works.

A pseudo-terminal per case (run_on_pty): what is at stake is what the screen shows.
"""

from __future__ import annotations

import os
import sys

import pytest

from support.launcher import leaked_key_material, run_jenv, run_on_pty
from support.tokenkit import token_paths

pytestmark = pytest.mark.slow

#: Every way to ask for content: the role change, --content, each token option, and `jenv token` when the
#: variables already hold content; with the line each one should suggest.
CONTENT_COMMANDS = {
    "user": (["user", "alicepr"], 'eval "$(jenv user alicepr)"'),
    "user --shell fish": (["user", "alicepr", "--shell", "fish"], "jenv user alicepr --shell fish | source"),
    "user --json": (["user", "alicepr", "--json"], "jenv user alicepr --json | ..."),
    "token --content": (["token", "--content"], 'eval "$(jenv token --content)"'),
    "token -u": (["token", "-u", "alicepr"], 'eval "$(jenv token -u alicepr)"'),
    "token -v": (["token", "-v", "1"], 'eval "$(jenv token -v 1)"'),
    "token -t": (["token", "-t", "user"], 'eval "$(jenv token -t user)"'),
    "token -jobid": (["token", "-t", "job", "-u", "admin1", "-jobid", "42"],
                     'eval "$(jenv token -u admin1 -t job --jobid 42)"'),
    "token -hostname": (["token", "-t", "host", "-hostname", "node1.example.org", "-f"],
                        'eval "$(jenv token -t host --hostname node1.example.org -f)"'),
    "token with content in the variables": (["token"], 'eval "$(jenv token)"'),
}


#: Job and host tokens: JCentral gives them to an admin.
ADMIN_CASES = ("token -jobid", "token -hostname")


def _env(svc, home, case: str):
    env = svc.env(home, user="admin1" if case in ADMIN_CASES else "jdoe")
    assert run_jenv(["token-init"], env).returncode == 0
    if case == "token with content in the variables":
        cert, key = token_paths(env)
        env.update(JALIEN_TOKEN_CERT=cert.read_text(), JALIEN_TOKEN_KEY=key.read_text())
    return env


@pytest.mark.parametrize("case", sorted(CONTENT_COMMANDS))
def test_key_content_is_refused_on_a_terminal(svc, home, case):
    argv, suggested = CONTENT_COMMANDS[case]
    env = _env(svc, home, case)
    requests = svc.token_requests
    result = run_on_pty([sys.executable, "-m", "jenv", *argv], env)  # stdout, stderr and stdin: the terminal
    assert result.returncode == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("jenv: ") and suggested in lines[0], result.output
    assert not leaked_key_material(result.output) and "CERTIFICATE-----" not in result.output
    assert svc.token_requests == requests  # refused before JCentral was asked


@pytest.mark.parametrize("case", sorted(CONTENT_COMMANDS))
def test_the_same_command_into_a_pipe_prints_the_content(svc, home, case):
    """The positive twin: stdout a pipe (what eval "$(...)" gives it)."""
    argv, _suggested = CONTENT_COMMANDS[case]
    result = run_jenv(argv, _env(svc, home, case), content_mode=True)
    assert result.returncode == 0, result.stderr
    assert leaked_key_material(result.stdout)


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_the_suggested_line_works_at_the_terminal(svc, home):
    """What the message says to type, typed at a terminal: the token is in the shell, and the screen shows
    no key; exporting paths at a terminal (token files) stays allowed."""
    env = svc.env(home)
    jenv = f"{sys.executable} -m jenv"
    script = (f'eval "$({jenv} user alicepr)" && case "$JALIEN_TOKEN_KEY" in -----BEGIN*) echo ROLE-KEY-SET;; esac; '
              f'unset JALIEN_TOKEN_CERT JALIEN_TOKEN_KEY; {jenv} token; echo "rc=$?"')
    result = run_on_pty(["bash", "-c", script], env)
    assert "ROLE-KEY-SET" in result.output and "rc=0" in result.output, result.output
    cert_path, _key = token_paths(env)
    assert f"JALIEN_TOKEN_CERT={cert_path}" in result.output.replace("'", "") or str(cert_path) in result.output
    assert not leaked_key_material(result.output) and os.path.exists(cert_path)


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_the_login_hook_typed_at_a_terminal_shows_no_key(svc, home):
    """`jenv hook bash` typed by hand with content in the variables: the token step refuses the terminal
    (one line), the rest of the hook is printed; through eval it exports the content as before."""
    env = _env(svc, home, "token with content in the variables")
    result = run_on_pty([sys.executable, "-m", "jenv", "hook", "bash"], env)
    assert not leaked_key_material(result.output) and "CERTIFICATE-----" not in result.output
    assert 'eval "$(jenv token)"' in result.output, result.output
    piped = run_jenv(["hook", "bash"], env, content_mode=True)
    assert piped.returncode == 0 and leaked_key_material(piped.stdout), piped.stderr
