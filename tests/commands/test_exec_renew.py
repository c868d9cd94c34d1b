"""`jenv exec --renew -- <command>` with an unencrypted user key (issue 25.5): the command gets a private
copy of the token, jenv stays its parent (status and signals passed on), and the copy goes when it ends.

The renewals themselves, over five token lifetimes, are tests/tokens/agent/test_exec_renew_agent.py's.  A
process per test, because signals are sent to jenv while its command runs.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.launcher import scan

pytestmark = pytest.mark.slow  # jenv, agents or commands as processes

#: The command: records where its token is (paths, real paths, modes) and what jenv's own check says of it,
#: creates the ready file, then waits for a signal (argv: report, ready, signal number or 0) and exits
#: 64 + the signal it got, or 7 when told to wait for none.
PROBE = """
import json, os, signal, stat, subprocess, sys
report, ready, signum = sys.argv[1], sys.argv[2], int(sys.argv[3])
if signum:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
paths = [os.environ["JALIEN_TOKEN_CERT"], os.environ["JALIEN_TOKEN_KEY"]]
check = subprocess.run([sys.executable, "-m", "jenv", "tokenkey-match"], capture_output=True, text=True)
seen = {"paths": paths, "real": [os.path.realpath(p) for p in paths],
        "modes": [stat.S_IMODE(os.stat(p).st_mode) for p in paths],
        "dirs": [stat.S_IMODE(os.stat(os.path.dirname(os.path.realpath(p))).st_mode) for p in paths],
        "check": check.returncode}
json.dump(seen, open(report, "w"))
os.rename(report, ready)
if not signum:
    sys.exit(7)
got = signal.sigtimedwait({signum}, 120)
sys.exit(64 + got.si_signo if got else 1)
"""


def _renewed(env, code: str, tmp_path: Path, *extra: str):
    """``jenv exec --renew`` running ``code`` (argv: report, ready, ``extra``), once the command has made
    the ready file: (the process, the ready file)."""
    report, ready = tmp_path / "report", tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "jenv", "exec", "--renew", "--", sys.executable, "-c", code,
                             str(report), str(ready), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    for _tick in range(3000):  # a minute at most
        if ready.exists():
            return proc, ready
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"the command did not start: {proc.communicate()}")


def _start(env, tmp_path: Path, signum: int = 0):
    proc, ready = _renewed(env, PROBE, tmp_path, str(int(signum)))
    return proc, json.loads(ready.read_text())


def _gone(seen) -> bool:
    """The copy's files, its generation directory and the link it was reached through are all gone."""
    return not any(os.path.lexists(p) for p in [*seen["paths"], *seen["real"], os.path.dirname(seen["paths"][0])])


def test_the_command_gets_a_private_copy_that_goes_with_it(env, tmp_path):
    proc, seen = _start(env, tmp_path)
    out, err = proc.communicate(timeout=60)
    scan(["exec", "--renew"], out, err)
    assert proc.returncode == 7 and err == "", err  # the command's status
    token_dir = Path(env["TMPDIR"])
    assert all(not p.startswith(str(token_dir / "token")) for p in seen["paths"])  # not the token files
    assert seen["modes"] == [0o400, 0o400] and seen["dirs"] == [0o700, 0o700]
    assert os.path.dirname(seen["real"][0]) == os.path.dirname(seen["real"][1])  # one pair, one generation
    assert seen["check"] == 0  # jenv's own rules accept the copy, and its key fits
    assert _gone(seen)
    assert (token_dir / f"tokencert_{os.getuid()}.pem").exists()  # the token files are not the copy


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1], ids=lambda s: s.name)
def test_signals_reach_the_command_and_the_copy_goes(env, tmp_path, signum):
    proc, seen = _start(env, tmp_path, signum)
    assert stat.S_ISLNK(os.lstat(os.path.dirname(seen["paths"][0])).st_mode)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    scan(["exec", "--renew"], out, err)
    assert proc.returncode == 64 + signum, err
    assert _gone(seen)


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_command_ended_by_a_signal_ends_jenv_by_it(env, tmp_path):
    plain = ("import os, sys, time; open(sys.argv[1], 'w').write(os.environ['JALIEN_TOKEN_CERT']); "
             "os.rename(sys.argv[1], sys.argv[2]); time.sleep(120)")
    proc, ready = _renewed(env, plain, tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    scan(["exec", "--renew"], out, err)
    assert proc.returncode == -signal.SIGTERM and err == ""
    assert not os.path.lexists(os.path.dirname(os.path.dirname(ready.read_text())))
