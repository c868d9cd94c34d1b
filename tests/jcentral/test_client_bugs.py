"""A bug in jenv is reported as one (issue 23 item 4), never as "cannot connect to JCentral".

A fault is injected into a function the JCentral client calls in each phase of a connection (TCP, the TLS
handshake, the WebSocket upgrade): the run ends with exit 1 and one line saying it is a bug in jenv and to
rerun with JENV_DEBUG=1; with JENV_DEBUG=1 the traceback is shown.  The twin: the same failure as the
network makes it (an OSError) is still one NetworkError line, exit 9.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

import jenv.jcentral.client as client
from jenv.errors import ExitCode
from support.launcher import run_in_process
from support.service import running

#: (what to replace, in which phase): each is called while connecting to JCentral.
PHASES = {
    "tcp": (socket, "create_connection"),
    "tls": (client, "_open_tls"),
    "upgrade": (client._WebSocket, "upgrade"),
}


@pytest.fixture(scope="module")
def jcentral(pki):
    with running(pki) as service:
        yield service


def _raising(exc: BaseException):
    def fault(*args, **kwargs):
        raise exc
    return fault


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_programming_error_is_reported_as_a_bug(jcentral, home, monkeypatch, phase):
    owner, name = PHASES[phase]
    monkeypatch.setattr(owner, name, _raising(TypeError(f"injected in {phase}")))
    result = run_in_process(["token-init"], jcentral.env(home))
    assert result.returncode == ExitCode.ERROR == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines == [f"jenv: internal error (a bug in jenv): TypeError: injected in {phase}; rerun with "
                     "JENV_DEBUG=1 to see the traceback, and report it"], result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("phase", list(PHASES))
def test_with_jenv_debug_the_bug_keeps_its_traceback(jcentral, home, monkeypatch, phase):
    owner, name = PHASES[phase]
    monkeypatch.setattr(owner, name, _raising(TypeError(f"injected in {phase}")))
    with pytest.raises(TypeError, match=f"injected in {phase}") as caught:
        run_in_process(["token-init"], jcentral.env(home, JENV_DEBUG="1"))
    assert any(entry.name == "fault" for entry in caught.traceback)


@pytest.mark.parametrize("phase", list(PHASES))
def test_the_same_phase_failing_as_networks_do_is_still_a_network_error(jcentral, home, monkeypatch, phase):
    owner, name = PHASES[phase]
    monkeypatch.setattr(owner, name, _raising(ConnectionResetError(104, "Connection reset by peer")))
    result = run_in_process(["token-init"], jcentral.env(home))
    assert result.returncode == ExitCode.NETWORK == 9, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "bug" not in result.stderr


@pytest.mark.slow  # a fresh interpreter
def test_jenv_debug_shows_the_traceback_of_a_real_process(jcentral, home):
    """As a process (``python -m jenv``, with the fault put in place first): the traceback reaches stderr
    with JENV_DEBUG=1, and only then."""
    program = textwrap.dedent("""
        import sys
        import jenv.jcentral.client as client

        def fault(*args, **kwargs):
            raise TypeError("injected")

        client._open_tls = fault
        sys.argv = ["jenv", "token-init"]
        from jenv.login import run_and_exit
        run_and_exit()
        """)
    for debug, traceback in (("", False), ("1", True)):
        env = jcentral.env(home, JENV_DEBUG=debug) if debug else jcentral.env(home)
        proc = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 1, proc.stderr
        assert ("Traceback (most recent call last)" in proc.stderr) is traceback, proc.stderr
        assert ("in fault" in proc.stderr) is traceback
        assert "TypeError" in proc.stderr and "cannot connect" not in proc.stderr
