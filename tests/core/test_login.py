"""The two entrances agree: jenv.login (the login forms, parsed by hand) and jenv.cli (docopt).

Issue 15.1: the login forms run without docopt and friends (test_architecture.py blocks those
imports); here the fast entrance must say exactly what the docopt one says, for every state of the
token files, and must hand every other spelling to docopt untouched.
"""

from __future__ import annotations

import os
import shlex

import pytest
from hypothesis import given, settings, strategies as st

from jenv.durations import parse_duration
from jenv.lite.timefmt import format_duration
from jenv.errors import ExitCode, UsageError
from jenv.login import parse_fast
from jenv.lite.record import record
from jenv.shells.posix import posix_quote
from support.launcher import clean_env, run_in_process


@pytest.mark.parametrize("argv, command, args", [
    (["token"], "token", {}),
    (["token", "--shell", "bash"], "token", {"--shell": "bash"}),
    (["token", "--shell=zsh", "--min-valid", "2h"], "token", {"--shell": "zsh", "--min-valid": "2h"}),
    (["--shell", "fish", "token"], "token", {"--shell": "fish"}),
    (["-json", "token"], "token", {"--json": True}),
    (["token", "-json"], "token", {"--json": True}),
    (["token", "--check", "--min-valid=1d"], "token", {"--check": True, "--min-valid": "1d"}),
    (["prompt", "--format", "[{left}]"], "prompt", {"--format": "[{left}]"}),
    (["hook", "bash"], "hook", {"<shell>": "bash"}),
    (["hook"], "hook", {}),
    (["whoami", "-q"], "whoami", {"-q": True}),
])
def test_the_login_forms_are_parsed_by_hand(argv, command, args):
    parsed = parse_fast(argv)
    assert parsed is not None and parsed[0] == command
    assert {k: v for k, v in parsed[1].items() if v is not None} == args


@pytest.mark.parametrize("argv", [
    [], ["-h"], ["token", "-h"], ["token", "--help"], ["token", "-u", "alicepr"], ["token", "--content"],
    ["token", "--shell"], ["token", "--min-valid"], ["token", "--min-valid", "1h", "--min-valid", "2h"],
    ["token", "--bogus"], ["token", "extra"], ["hook", "bash", "zsh"], ["hook", "--file"], ["token-info"],
    ["tokn"], ["--version"], ["token", "--check", "--json"], ["user", "alicepr"], ["token", "-v", "2"],
    ["status"], ["status", "-json"],
])
def test_every_other_spelling_goes_to_docopt(argv):
    assert parse_fast(argv) is None


def _token_env(tmp_path, root_ca, state: str):
    """An environment whose token files are in ``state``; JCentral unreachable (port 1)."""
    env = clean_env(tmp_path / "home", ALIENPY_JCENTRAL="127.0.0.1", ALIENPY_JCENTRAL_PORT="1",
                    JENV_TIMEOUT="2", X509_USER_CERT=str(tmp_path / "none.pem"), SHELL="/bin/bash")
    tmp = tmp_path / "home" / "tmp"
    cert, key = tmp / f"tokencert_{os.getuid()}.pem", tmp / f"tokenkey_{os.getuid()}.pem"
    if state == "missing":
        return env
    days = {"valid": 30, "expiring": 0.003, "expired": -1}.get(state, 30)
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", not_before=now - dt.timedelta(days=2),
                         not_after=now + dt.timedelta(days=days))
    other = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe")
    cert.write_bytes(leaf.cert_pem)
    key.write_bytes((other if state == "mismatch" else leaf).key_pem(fmt="traditional"))
    cert.chmod(0o644 if state == "open" else 0o400)
    key.chmod(0o400)
    if state == "garbage":
        cert.chmod(0o600)
        cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    return env


STATES = ["valid", "expiring", "expired", "missing", "mismatch", "open", "garbage"]
FORMS = [["token", "--shell", "bash"], ["token", "--shell=tcsh"], ["--shell", "fish", "token"],
         ["token", "--check"], ["token", "--check", "--min-valid", "40d"], ["prompt"],
         ["prompt", "--format", "<{state}> {left}", "--warn", "60d"], ["token", "--shell", "pwsh"],
         ["token", "--min-valid", "soon"], ["prompt", "--format", "{nope}"], ["status"], ["--json", "status"],
         ["alien-token-info"], ["whoami"], ["whoami", "-q"], ["whoami", "--json"], ["-json", "whoami", "-q"]]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("argv", FORMS, ids=" ".join)
def test_both_entrances_say_the_same(tmp_path, root_ca, state, argv):
    """Same exit code, stdout and stderr from jenv.login and jenv.cli, for every token state
    (a renewal fails the same way in both: JCentral is unreachable)."""
    env = _token_env(tmp_path, root_ca, state)
    import time

    moment = time.time()  # one clock for both runs (status prints the time to the second)
    fast = run_in_process(argv, env, front="fast", clock=lambda: moment)
    full = run_in_process(argv, env, front="docopt", clock=lambda: moment)
    assert (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr)
    if state == "valid" and argv[0] == "token" and "--check" not in argv and "pwsh" not in argv \
            and "soon" not in argv:
        assert fast.returncode == 0 and "JALIEN_TOKEN_CERT" in fast.stdout  # the case is not all failures


@pytest.mark.parametrize("state, code", [("valid", 0), ("expiring", 5), ("expired", 5), ("missing", 3),
                                         ("mismatch", 7), ("garbage", 4), ("open", 8)])
def test_token_check_exit_codes(tmp_path, root_ca, state, code):
    """token --check prints nothing on stdout and exits 0 / 5 / 3 (issue 15.3); an unusable pair is 7 or 4,
    an unsafe file is 8 with its one line."""
    res = run_in_process(["token", "--check"], _token_env(tmp_path, root_ca, state))
    assert res.returncode == code and res.stdout == ""
    assert (res.stderr == "") == (code != 8)


@pytest.mark.parametrize("state, shown", [("valid", "29d 23h"), ("expired", "expired"), ("missing", "no token"),
                                          ("expiring", "expiring"), ("mismatch", "token?"), ("open", "token?")])
def test_prompt_segments(tmp_path, root_ca, state, shown):
    res = run_in_process(["prompt"], _token_env(tmp_path, root_ca, state))
    assert res.returncode == 0 and res.stderr == "" and "\n" not in res.stdout
    assert res.stdout.startswith(shown)


def test_prompt_marks_a_token_with_little_time_left(tmp_path, root_ca):
    env = _token_env(tmp_path, root_ca, "valid")
    assert run_in_process(["prompt", "--warn", "40d"], env).stdout.startswith("!29d")
    assert run_in_process(["prompt", "--format", "grid:{left}", "--warn", "1h"], env).stdout.startswith("grid:29d")


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_posix_quote_is_shlex_quote(value):
    assert posix_quote(value) == shlex.quote(value)


def test_records_behave_like_named_tuples():
    Point = record("Point", "x y z", (0,))
    p = Point(1, y=2)
    assert p == (1, 2, 0) and p.x == 1 and p.z == 0 and repr(p) == "Point(x=1, y=2, z=0)"
    assert p._replace(z=5) == Point(1, 2, 5) and p._asdict() == {"x": 1, "y": 2, "z": 0}
    a, b, c = p
    assert (a, b, c) == (1, 2, 0)
    for bad in (lambda: Point(1), lambda: Point(1, 2, 3, 4), lambda: Point(1, 2, w=3), lambda: Point(1, 2, x=1)):
        with pytest.raises(TypeError):
            bad()
    with pytest.raises(AttributeError):
        p.x = 3  # type: ignore[misc]


def test_exit_codes_are_ints_with_names():
    assert ExitCode(5) is ExitCode.NOT_VALID_NOW and ExitCode.USAGE == 2 and ExitCode.USAGE.name == "USAGE"
    assert [int(code) for code in ExitCode][:3] == [0, 1, 2] and len(ExitCode) == len(set(ExitCode))
    with pytest.raises(ValueError):
        ExitCode(99)


@pytest.mark.parametrize("seconds, text", [(0, "0m 00s"), (45, "0m 45s"), (600, "10m 00s"), (3600, "1h 00m"),
                                           (86399, "23h 59m"), (2678399, "30d 23h 59m"), (86400 * 400, "400d 0h 00m"),
                                           (-90, "-1m 30s"), (599.9, "9m 59s"), (-0.5, "0m 00s")])
def test_human_durations(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text, seconds", [("600", 600), ("10m", 600), ("2 hours", 7200), ("1d", 86400)])
def test_durations_in(text, seconds):
    assert parse_duration(text) == seconds
    with pytest.raises(UsageError):
        parse_duration(text + "x")
