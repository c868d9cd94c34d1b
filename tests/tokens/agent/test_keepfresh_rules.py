"""The rules of ``exec --renew``'s private copy and of ``--for``, in-process (jenv.tokens.keepfresh): how a
copy's generations are swapped and removed, what a failed renewal says and when it is tried again, the
role a renewal asks for, and the fix each refusal names."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest

from jenv.context import Context
from jenv.errors import NotCoveredError
from jenv.locations import Location, Locations
from jenv.tokens.keepfresh import FreshCopy, Keeper, Renewer, _longer_token, _spelled, fresh_copy, renewal_role
from jenv.tokens.memo import Verdict


def _pairs(n: int):
    return [(f"-----BEGIN CERTIFICATE-----\ncert {i}\n-----END CERTIFICATE-----",
             f"-----BEGIN PRIVATE KEY-----\nkey {i}\n-----END PRIVATE KEY-----") for i in range(n)]


def _read(copy: FreshCopy):
    return Path(copy.cert).read_text(), Path(copy.key).read_text()


def test_each_pair_is_swapped_in_whole_and_the_one_before_stays_until_the_next(tmp_path):
    pairs = _pairs(4)
    with fresh_copy(*pairs[0], {"TMPDIR": str(tmp_path)}) as copy:
        directory = Path(copy.directory)
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700 and directory.parent == tmp_path
        for number, pair in enumerate(pairs[1:], start=2):
            assert copy.install(*pair)
            assert _read(copy) == tuple(text + "\n" for text in pair)
            assert os.readlink(directory / "current") == f"gen-{number}"
            assert sorted(p.name for p in directory.iterdir()) == ["current", f"gen-{number - 1}", f"gen-{number}"]
            for path in (copy.cert, copy.key):
                st = os.lstat(path)
                assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o400
    assert not directory.exists()
    assert not copy.install(*pairs[0]) and not directory.exists()  # a renewal after the end makes nothing


def test_a_pair_that_cannot_be_written_leaves_the_current_one(tmp_path):
    first, second = _pairs(2)
    with fresh_copy(*first, {"TMPDIR": str(tmp_path)}) as copy:
        (Path(copy.directory) / "gen-2").write_text("in the way")  # the next generation's name is taken
        with pytest.raises(OSError):
            copy.install(*second)
        assert _read(copy) == (first[0] + "\n", first[1] + "\n")
        assert sorted(p.name for p in Path(copy.directory).iterdir()) == ["current", "gen-1", "gen-2"]


def _verdict(**fields) -> Verdict:
    return Verdict(**{"pair": "usable", "token_type": "user", "user": "jdoe", "role": "jdoe", **fields})


def test_a_renewal_asks_for_the_role_the_command_started_with():
    assert renewal_role(_verdict()) is None
    assert renewal_role(_verdict(role="alicepr")) == "alicepr"
    for kind in ("job", "host", ""):
        with pytest.raises(NotCoveredError):
            renewal_role(_verdict(token_type=kind))


def test_durations_and_fixes_as_the_messages_say_them():
    assert [_spelled(s) for s in (600, 7200, 2 * 86400, 90061, 0)] == ["10m", "2h", "2d", "1d 1h 01m", "0s"]
    assert "'jenv token-init -v 1'" in _longer_token(3600)
    assert "'jenv token-init -v 3'" in _longer_token(2 * 86400)  # a token made now covers two days from now
    assert _longer_token(31 * 86400) == ""  # more than JCentral gives a user token


def test_a_failed_renewal_is_one_line_and_is_tried_again_with_the_backoff(tmp_path):
    err = io.StringIO()
    ctx = Context({"HOME": str(tmp_path), "TMPDIR": str(tmp_path), "JENV_TIMEOUT": "2"}, os.getuid(),
                  str(tmp_path), stderr=err)
    missing = Location("user certificate", "test", path=str(tmp_path / "nowhere.pem"))
    locs = Locations(user_cert=missing, user_key=missing._replace(what="user key"), token_cert=missing,
                     token_key=missing)
    now = time.time()
    with fresh_copy(*_pairs(1)[0], ctx.environ) as copy:
        keeper = Keeper(ctx, locs, copy, Renewer("key", "test"), None, now - 100, now + 3600, 600)
        keeper.renew_once()
        keeper.renew_once()
        assert _read(copy)[0].startswith("-----BEGIN CERTIFICATE-----\ncert 0")  # the copy stays
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("jenv: exec --renew: the command's token was not renewed (")
                                   for line in lines), lines
    assert "it stays valid until" in lines[0] and "next try in 60s" in lines[1]  # 30 s, then 60 s
    assert keeper.failures == 2 and keeper.next_try > time.time() + 50
    expired = Keeper(ctx, locs, copy, Renewer("key", "test"), None, now - 100, now - 1, 600)
    expired.renew_once()
    assert "it has expired" in err.getvalue().splitlines()[-1] and expired.next_try <= time.time() + 2
