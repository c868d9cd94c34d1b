"""The agent's rules, in-process: when it renews, how it backs off, how its secret is kept and wiped,
what its service files say."""

from __future__ import annotations

import mmap
import os

import pytest

from jenv.tokens.agent import NO_TOKEN_RETRY, VALID_TOKEN_RETRY, jitter_for, renew_at, retry_delay
from jenv.tokens.agentstart import launchd_plist, systemd_unit
from jenv.tokens.secretmem import LockedSecret, forget_bytes

DAY = 86400.0


@pytest.mark.parametrize("lifetime", [20.0, 60.0, 3600.0, DAY, 2 * DAY])
def test_renewal_at_two_thirds_never_later_than_min_valid(lifetime):
    start = 1_000_000.0
    for min_valid in (2.0, 600.0):
        for jitter in (0.0, lifetime * 0.05):
            at = renew_at(start, start + lifetime, min_valid, jitter)
            assert start + lifetime * 2 / 3 - 1e-6 <= at <= start + lifetime * 2 / 3 + jitter + 1e-6
            if min_valid < lifetime / 3:
                assert at <= start + lifetime - min_valid
    # A token shorter than --min-valid is still renewed at two thirds (not at once, again and again).
    assert renew_at(start, start + 30, 600, 0) == start + 20


def test_jitter_is_a_few_percent_at_most_five_minutes():
    assert jitter_for(60, lambda low, high: high) == pytest.approx(3.0)
    assert jitter_for(2 * DAY, lambda low, high: high) == 300.0
    assert jitter_for(-5, lambda low, high: high) == 0.0


def test_backoff_with_a_valid_token_and_without():
    now = 1000.0
    # Valid token for a day: 30 s doubling to 10 min.
    delays = [retry_delay(n, now, now + DAY) for n in range(1, 12)]
    assert delays[0] == VALID_TOKEN_RETRY[0] and delays[1] == 2 * VALID_TOKEN_RETRY[0]
    assert max(delays) == VALID_TOKEN_RETRY[1] and delays == sorted(delays)
    # Never later than a quarter of what is left (and at least a second).
    assert retry_delay(5, now, now + 100) == 25.0
    assert retry_delay(5, now, now + 2) == 1.0
    # No valid token: within seconds, doubling to a few minutes.
    empty = [retry_delay(n, now, None) for n in range(1, 12)]
    assert empty[:4] == [2.0, 4.0, 8.0, 16.0] and max(empty) == NO_TOKEN_RETRY[1] <= 300
    assert retry_delay(3, now, now - 5) == 8.0  # an expired token is no valid token


def test_locked_secret_lends_copies_and_wipes_them():
    secret = LockedSecret(b"correct horse")
    with secret.lent() as give:
        first, second = give(), give()
        assert first == second == bytearray(b"correct horse") and first is not second
    assert first == bytearray(13) and second == bytearray(13)  # zeroed when the block ended
    with pytest.raises(RuntimeError):
        with secret.lent() as give:
            kept = give()
            raise RuntimeError("a failed renewal")
    assert kept == bytearray(13)
    secret.wipe()
    secret.wipe()  # idempotent
    with secret.lent() as give, pytest.raises(ValueError):
        give()


def _locked_kib() -> int:
    line = next(line for line in open("/proc/self/status") if line.startswith("VmLck:"))
    return int(line.split()[1])


def test_locked_secret_pages_are_locked_while_it_lives():
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    before = _locked_kib()
    secret = LockedSecret(b"x" * (mmap.PAGESIZE + 1))  # longer than a page: two pages
    try:
        if os.geteuid() == 0 or soft == resource.RLIM_INFINITY or soft >= before * 1024 + 2 * mmap.PAGESIZE:
            assert secret.locked and not secret.lock_problem
            assert _locked_kib() - before >= 2 * mmap.PAGESIZE // 1024
        else:
            assert not secret.locked and "mlock" in secret.lock_problem
    finally:
        secret.wipe()
    assert _locked_kib() == before  # unmapped with the wipe


def test_forget_bytes_overwrites_the_buffer():
    data = bytes(bytearray(b"a passphrase"))  # a fresh object, not a shared constant
    forget_bytes(data)
    assert data == bytes(12)
    single = b"z"
    forget_bytes(single)  # shared singletons are left alone
    assert single == b"z"


def test_service_files_quote_what_they_carry():
    env = {"TMPDIR": '/tmp/a "b" %h\\c', "X509_USER_CERT": "/c.pem", "UNRELATED": "x"}
    argv = ["/opt/py thon/bin/python", "-m", "jenv", "agent", "start", "--foreground", "--stay"]
    unit = systemd_unit(env, argv)
    assert 'ExecStart="/opt/py thon/bin/python" "-m" "jenv"' in unit
    assert 'Environment="TMPDIR=/tmp/a \\"b\\" %%h\\\\c"' in unit
    assert 'Environment="X509_USER_CERT=/c.pem"' in unit and "UNRELATED" not in unit
    assert "RestartPreventExitStatus=11 2" in unit and "WantedBy=default.target" in unit
    plist = launchd_plist(env, argv)
    assert "<string>/tmp/a \"b\" %h\\c</string>" in plist and "<key>TMPDIR</key>" in plist
    from jenv.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        systemd_unit({"TMPDIR": "/tmp/a\nExecStart=/bin/evil"}, argv)
