"""The notice before the user certificate ends: `jenv token` says so on stderr, at most once a day while
more than 7 days are left, at every login after that; status and cert-info always show it.

Every token ends with the user certificate (JCentral caps notAfter at the requester's certificate:
src/main/java/alien/api/token/GetTokenCertificate.java in FYP-Jalien/jalien-march-18), so the notice
is the only warning a user gets before logins stop working.  `jenv token` runs in-process with a test
clock; its token is valid throughout, so these runs never leave the fast path.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import time
from pathlib import Path

import pytest

from support.offline_helpers import UID, clean_env, run_in_process
from jenv.tokens.expiry import STATE_FILE, expiry_message, user_cert_not_after, warn_user_cert_expiry
from support.pki import TestCA, now

DAY = 86400


def _home(tmp_path: Path, root_ca: TestCA, days_left: float, token_hours: float = 72):
    """A home whose user certificate ends in ``days_left`` days, and a valid token in TMPDIR."""
    env = clean_env(tmp_path / "home")
    user = root_ca.issue("/C=ch/O=jenv-test/OU=Users/CN=Jane Doe", not_before=now() - dt.timedelta(days=300),
                         not_after=now() + dt.timedelta(days=days_left))
    user.write(Path(env["HOME"]) / ".globus")
    token = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", not_after=now() + dt.timedelta(hours=token_hours))
    tmp = Path(env["TMPDIR"])
    for path, data in ((tmp / f"tokencert_{UID}.pem", token.cert_pem),
                       (tmp / f"tokenkey_{UID}.pem", token.key_pem(fmt="traditional"))):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    return env


def _login(env, at: float):
    return run_in_process(["token", "--shell", "bash"], env, clock=lambda: at)


def test_once_a_day_while_more_than_a_week_is_left(tmp_path, root_ca):
    env = _home(tmp_path, root_ca, days_left=12.2)
    start = time.time()
    first = _login(env, start)
    assert first.returncode == 0
    assert first.stdout.startswith("export JALIEN_TOKEN_CERT=") and "expires" not in first.stdout  # shell code only
    lines = first.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jenv: your user certificate ")
    assert " expires in 12d 4h " in lines[0] and "https://ca.cern.ch" in lines[0] and "jenv cert-import" in lines[0]
    assert _login(env, start + 3600).stderr == ""  # the same day: silent
    assert _login(env, start + 23 * 3600).stderr == ""
    assert _login(env, start + 25 * 3600).stderr.count("expires in 11d") == 1  # the next day: once more
    state = Path(env["HOME"]) / ".cache" / "jenv"
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / STATE_FILE).st_mode) == 0o600
    assert sorted(os.listdir(state)) == [STATE_FILE]  # no temporary left behind


def test_at_every_login_in_the_last_week_and_after_the_end(tmp_path, root_ca):
    env = _home(tmp_path, root_ca, days_left=5)
    start = time.time()
    for offset in (0, 60, 120):
        res = _login(env, start + offset)
        assert res.returncode == 0 and res.stderr.count("\n") == 1 and "expires in 4d 23h" in res.stderr
    gone = _home(tmp_path / "gone", root_ca, days_left=-1, token_hours=20)  # a token made before the end
    res = _login(gone, time.time())
    assert res.returncode == 0 and "expired 1d 0h ago" in res.stderr and "no new token" in res.stderr


def test_silent_when_more_than_30_days_are_left(tmp_path, root_ca):
    env = _home(tmp_path, root_ca, days_left=31)
    res = _login(env, time.time())
    assert res.returncode == 0 and res.stderr == ""
    assert not (Path(env["HOME"]) / ".cache" / "jenv" / STATE_FILE).exists()
    assert _login(env, time.time() + 2 * DAY).stderr.count("expires in 28d") == 1  # its twin, two days on


def test_xdg_cache_home_is_where_the_memory_lives(tmp_path, root_ca):
    env = _home(tmp_path, root_ca, days_left=20)
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    start = time.time()
    assert _login(env, start).stderr != ""
    assert (tmp_path / "xdg" / "jenv" / STATE_FILE).exists()
    assert not (Path(env["HOME"]) / ".cache").exists()
    assert _login(env, start + 60).stderr == ""
    env["XDG_CACHE_HOME"] = "relative/cache"  # not absolute: ignored, as the XDG rule says
    assert _login(env, start + 120).stderr != ""
    assert (Path(env["HOME"]) / ".cache" / "jenv" / STATE_FILE).exists()


@pytest.mark.parametrize("breakage", ["a file", "not private", "someone's state"])
def test_a_broken_cache_only_costs_the_memory(tmp_path, root_ca, breakage):
    """No login breaks over the cache: the notice is shown every time instead of once a day."""
    env = _home(tmp_path, root_ca, days_left=20)
    cache = tmp_path / "cache"
    env["XDG_CACHE_HOME"] = str(cache)
    if breakage == "a file":
        cache.write_text("not a directory")
    else:
        (cache / "jenv").mkdir(parents=True, mode=0o755)
        os.chmod(cache / "jenv", 0o755)  # a directory others may write into is no private memory
        if breakage == "someone's state":  # a planted "already told today" must not silence the notice
            not_after = user_cert_not_after(str(Path(env["HOME"]) / ".globus" / "usercert.pem"), os.getuid(), ())
            (cache / "jenv" / STATE_FILE).write_text(f"{int(time.time())} {not_after}\n")
            os.chmod(cache / "jenv" / STATE_FILE, 0o644)
    start = time.time()
    for offset in (0, 60):
        res = _login(env, start + offset)
        assert res.returncode == 0 and res.stdout.startswith("export ") and res.stderr.count("expires in") == 1


def test_the_function_takes_everything_it_needs(tmp_path, root_ca):
    """warn_user_cert_expiry(environ, home, now, err): importable, for a rewritten fast path."""
    env = _home(tmp_path, root_ca, days_left=3)
    said = []
    line = warn_user_cert_expiry(env, env["HOME"], time.time(), said.append)
    assert said == [line] and "expires in 2d 23h" in line
    missing = warn_user_cert_expiry({"X509_USER_CERT": str(tmp_path / "none.pem")}, env["HOME"], time.time(),
                                    said.append)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    broken = warn_user_cert_expiry({"X509_USER_CERT": str(garbage)}, env["HOME"], time.time(), said.append)
    assert missing is None and broken is None and len(said) == 1  # other commands report those
    assert expiry_message(int(time.time()) + 40 * DAY, time.time(), "x") is None


def test_status_and_cert_info_always_show_it(tmp_path, root_ca):
    env = _home(tmp_path, root_ca, days_left=20)
    start = time.time()
    assert _login(env, start).stderr != ""  # the once-a-day notice is used up...
    for _ in range(2):  # ...but cert-info and status say it every time
        info = run_in_process(["cert-info"], env, clock=lambda: start + 60)
        assert info.returncode == 0 and info.stderr.count("expires in 19d 23h") == 1
        status = run_in_process(["status"], env, clock=lambda: start + 60)
        assert status.returncode == 0 and "expires in 19d 23h" in status.stdout
    data = json.loads(run_in_process(["status", "--json"], env).stdout)
    assert "expires in 19d 23h" in data["user_cert"]["expiry_notice"]
    far = _home(tmp_path / "far", root_ca, days_left=200)
    assert run_in_process(["cert-info"], far).stderr == ""
    assert json.loads(run_in_process(["status", "--json"], far).stdout)["user_cert"]["expiry_notice"] is None


def test_a_failing_notice_never_fails_the_login(tmp_path, root_ca):
    """The exports are printed before the notice: whatever goes wrong in it, jenv token still exits 0
    (the hook evaluates the exports only then).  JENV_DEBUG=1 shows the failure instead."""
    env = _home(tmp_path, root_ca, days_left=3)

    def broken(_line: str) -> None:
        raise RuntimeError("the error writer broke")

    assert warn_user_cert_expiry(env, env["HOME"], time.time(), broken) is None
    with pytest.raises(RuntimeError):
        warn_user_cert_expiry(dict(env, JENV_DEBUG="1"), env["HOME"], time.time(), broken)
