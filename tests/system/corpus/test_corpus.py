"""Bad input across every command: one clear stderr line, the documented exit code, nothing lost.

For every case of corpus_cases.CASES: the exit code is the one jenv/errors.py
documents for that failure; stderr is exactly one line "jenv: <message>"
(for commands that legitimately report more, such as status, the last line)
matching the case's pattern, with no traceback and no control characters
other than the newline; stdout stays empty; nothing prints key material; the
token files in TMPDIR are byte for byte and mode for mode what they were
(only the token lock file may appear); and no side effect happened before
the error (``absent``).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from support import launcher as jenvtest
from support.corpus_cases import CASES, Case
from support.corpus_lab import Lab, run

LOCK_FILE = re.compile(r"^jenv-token-\d+\.lock$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _param(case: Case):
    marks = [pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_input(case: Case, tmp_path, world):
    lab = Lab(tmp_path, world, jenvtest.clean_env, expired=case.expired)
    env = dict(lab.env)
    for name, value in case.env(lab).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    before = lab.state()
    out = run(list(case.argv), env, cwd=tmp_path, runner=case.runner)
    jenvtest.SCANNED["runs"] += 1
    assert "Traceback" not in out.stderr, out.stderr
    assert not jenvtest.leaked_key_material(out.stdout + out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == case.code, f"exit {out.returncode}, stderr: {out.stderr}"
    assert lines, "nothing on stderr"
    if case.lines:
        assert len(lines) == case.lines, f"expected {case.lines} stderr line(s): {out.stderr}"
    assert out.stdout == "" or case.stdout, f"stdout on failure: {out.stdout!r}"
    assert lines[-1].startswith("jenv: "), lines[-1]
    assert re.search(case.pattern, lines[-1][6:]), f"{case.pattern!r} not in {lines[-1]!r}"
    assert not CONTROL.search(out.stderr), f"control characters on stderr: {out.stderr!r}"
    after = lab.state()
    assert {k: v for k, v in after.items() if not LOCK_FILE.match(k)} == before, "TMPDIR changed"
    if case.absent:
        assert not (tmp_path / case.absent).exists(), f"{case.absent} was created before the error"


def test_the_corpus_covers_every_command():
    """At least 40 cases, and each command (or alias) is exercised by at least one of them."""
    from jenv.cli import COMMANDS

    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
    used = Counter(case.argv[0] for case in CASES)
    missing = set(COMMANDS) - set(used)
    assert not missing, f"commands without a bad-input case: {sorted(missing)}"


def test_huge_file_is_refused_without_reading_it(tmp_path, world):
    """100 MB (sparse) as the user certificate: refused by its size in well under a second of work."""
    lab = Lab(tmp_path, world, jenvtest.clean_env)
    path = lab.file("huge.pem", b"")
    with open(path, "r+b") as handle:
        handle.truncate(100 << 20)
    env = dict(lab.env, X509_USER_CERT=path)
    floor = run(["--version"], env, cwd=tmp_path)
    out = run(["cert-info"], env, cwd=tmp_path)
    assert out.returncode == 4 and "too large" in out.stderr
    # Reading 100 MB and parsing it would take seconds; refusing by size costs what --version costs.
    assert out.seconds < floor.seconds + 1.0, (out.seconds, floor.seconds)
