"""`jenv exec --for <duration>` and `jenv export --for <duration>` (issue 25.5): a command that needs the
token for a known time is refused before it starts (exit 13, one `jenv:` line naming the fix) when
neither the token nor anything that renews it lasts that long, and the token is left as it was.

Processes, because exec runs a command.  Without an agent here (tests/tokens/agent/test_exec_renew_agent.py
has the cases with one): the token decides, and ``--renew`` needs a user key that is not encrypted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest

from jenv.errors import ExitCode
from support.launcher import run_jenv
from support.service import encrypted_user_key

pytestmark = pytest.mark.slow  # jenv, agents or commands as processes

MARK = "import sys; open(sys.argv[1], 'w').write('ran')"


def token_state(env: Dict[str, str]) -> Tuple[bytes, bytes, int, int]:
    """The token files' bytes and mtimes: what "untouched" means."""
    tmp = Path(env["TMPDIR"])
    cert, key = tmp / f"tokencert_{os.getuid()}.pem", tmp / f"tokenkey_{os.getuid()}.pem"
    return cert.read_bytes(), key.read_bytes(), cert.stat().st_mtime_ns, key.stat().st_mtime_ns


def test_a_token_that_lasts_long_enough_runs_the_command(env, tmp_path):
    mark = tmp_path / "mark"
    result = run_jenv(["exec", "--for", "1h", "--", sys.executable, "-c", MARK, str(mark)], env)
    assert result.returncode == 0 and mark.read_text() == "ran", result.stderr
    exported = run_jenv(["export", "--to", str(tmp_path / "out"), "--for", "2h"], env)
    assert exported.returncode == 0 and "JALIEN_TOKEN_CERT" in exported.stdout, exported.stderr


@pytest.fixture
def day_token(env) -> Dict[str, str]:
    """``env`` with a token of one day (token-init -v 1)."""
    result = run_jenv(["token-init", "-v", "1"], env)
    assert result.returncode == 0, result.stderr
    return env


@pytest.mark.parametrize("command", ["exec", "export"])
def test_longer_than_the_token_is_refused_before_anything_and_the_token_is_untouched(day_token, svc, tmp_path,
                                                                                      command):
    before, requests = token_state(day_token), svc.token_requests
    mark, out = tmp_path / "mark", tmp_path / "out"
    argv = ["exec", "--for", "2d", "--", sys.executable, "-c", MARK, str(mark)] if command == "exec" else \
        ["export", "--to", str(out), "--for", "2d"]
    result = run_jenv(argv, day_token)
    assert result.returncode == ExitCode.NOT_COVERED == 13, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("jenv: --for 2d"), result.stderr
    assert "'jenv token-init -v 3'" in result.stderr  # a token that covers two days from now
    if command == "exec":
        assert "'jenv agent start'" in result.stderr and not mark.exists()
    else:
        assert "never renewed" in result.stderr and not out.exists()
    assert result.stdout == ""
    assert token_state(day_token) == before and svc.token_requests == requests
    # the positive twin: the same token covers a day less
    shorter = run_jenv([argv[0], *[a if a != "2d" else "20h" for a in argv[1:]]], day_token)
    assert shorter.returncode == 0, shorter.stderr


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_no_token_at_all_is_judged_once_the_new_one_is_in_hand(env, tmp_path):
    """With no valid token, exec and export get one first (as without --for): the new token decides."""
    assert run_jenv(["token-destroy"], env).returncode == 0
    mark = tmp_path / "mark"
    assert run_jenv(["exec", "--for", "1d", "--", sys.executable, "-c", MARK, str(mark)], env).returncode == 0
    assert mark.read_text() == "ran"
    assert run_jenv(["token-destroy"], env).returncode == 0
    mark.unlink()
    result = run_jenv(["exec", "--for", "400d", "--", sys.executable, "-c", MARK, str(mark)], env)
    assert result.returncode == 13 and result.stderr.startswith("jenv: --for 400d: the new token is valid for"), \
        result.stderr
    assert result.stderr.count("\n") == 1 and not mark.exists()


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_renew_with_an_encrypted_key_and_no_agent_is_refused(env, svc, home, tmp_path):
    """Nothing can renew the copy (the key needs its passphrase, no agent runs): refused, whatever --for."""
    locked = dict(env, X509_USER_KEY=str(encrypted_user_key(svc.user_files("jdoe")[1], home / "userkey.pem",
                                                           b"a passphrase", 0o400)))
    before, mark = token_state(env), tmp_path / "mark"
    for extra in ([], ["--for", "10m"]):
        result = run_jenv(["exec", "--renew", *extra, "--", sys.executable, "-c", MARK, str(mark)], locked)
        assert result.returncode == 13 and result.stderr.count("\n") == 1, result.stderr
        assert "no jenv agent runs for you" in result.stderr and "'jenv agent start'" in result.stderr
        assert not mark.exists() and token_state(env) == before
    # the twin: the unencrypted key renews the copy
    assert run_jenv(["exec", "--renew", "--for", "10m", "--", sys.executable, "-c", MARK, str(mark)],
                    env).returncode == 0
    assert mark.read_text() == "ran"


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("argv", [["exec", "--for", "soon", "--", "true"], ["exec", "--scrub", "--renew", "--", "true"],
                                  ["export", "--to", "x", "--for", "-1h"]])
def test_bad_options_are_usage_errors(env, argv):
    result = run_jenv(argv, env)
    assert result.returncode == 2, result.stderr
