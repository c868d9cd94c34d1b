"""The quick tier's rule (support/tiers.py): a test not marked slow that starts a process fails.

These tests start processes themselves, so they are slow; the watch they open hides their own processes
from the watch of tests/conftest.py.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.tiers import marked_slow, watching

pytestmark = pytest.mark.slow

SUPPORT_PARENT = Path(__file__).resolve().parent
REPO = SUPPORT_PARENT.parent


def test_a_subprocess_is_seen():
    with watching([]) as started:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert len(started) == 1 and started[0].startswith("subprocess(") and "'-c'" in started[0]


@pytest.mark.parametrize("start", ["fork", "pty.fork"])
def test_a_fork_is_seen(start):
    with watching([]) as started:
        pid = os.fork() if start == "fork" else pty.fork()  # looked up now: the watch wraps them
        if isinstance(pid, tuple):
            pid, master = pid
            os.close(master) if pid else None
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    assert len(started) == 1 and started[0].startswith("os.fork")


def test_nothing_started_is_nothing_seen():
    """The negative twin: work in the interpreter, threads included, is not a process."""
    import threading
    with watching([]) as started:
        thread = threading.Thread(target=sum, args=(range(10),))
        thread.start()
        thread.join()
    assert started == []


def test_a_quick_test_that_starts_a_process_fails_the_run(tmp_path: Path):
    """End to end through pytest: the quick test that starts a process fails, naming it; the same test
    marked slow, and a quick test that starts none, pass."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: starts a process\n")
    (tmp_path / "test_sample.py").write_text(textwrap.dedent("""\
        import subprocess
        import pytest

        def test_quick_starts_one():
            subprocess.run(["true"], check=True)

        @pytest.mark.slow
        def test_slow_starts_one():
            subprocess.run(["true"], check=True)

        def test_quick_starts_none():
            assert sum(range(3)) == 3
        """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "support.tiers", "-p", "no:cacheprovider",
                           "-q", "--strict-markers", "-rA", str(tmp_path)], cwd=tmp_path, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(SUPPORT_PARENT)), timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "3 passed, 1 error" in proc.stdout, proc.stdout
    assert "ERROR test_sample.py::test_quick_starts_one" in proc.stdout, proc.stdout
    assert "a quick test started 1 process(es), first subprocess(['true'])" in proc.stdout, proc.stdout


@pytest.mark.parametrize(("source", "slow"), [
    ("import pytest\npytestmark = pytest.mark.slow\n", True),
    ("pytestmark = [pytest.mark.skipif(True, reason='x'), pytest.mark.slow]\n", True),
    ("pytestmark = pytest.mark.skipif(True, reason='x')\n", False),
    ("pytestmark = [pytest.mark.slow_ish]\n", False),
    ("@pytest.mark.slow\ndef test_one():\n    pass\n", False),  # one test slow: the module is still collected
    ("x = 1\n", False),
])
def test_a_module_is_skipped_by_the_quick_tier_only_when_slow_as_a_whole(source, slow):
    assert marked_slow(source) is slow


def _collected(markexpr: str):
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-m", markexpr], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return sorted(line for line in proc.stdout.splitlines() if "::" in line)


def test_the_quick_tier_leaves_out_no_quick_test():
    """``-m "not slow"`` skips whole modules unread; ``-m "(not slow)"`` (another spelling, so nothing is
    skipped) imports everything and deselects by marker: the two select the same tests."""
    quick = _collected("not slow")
    assert quick and quick == _collected("(not slow)")
    assert not any(test.startswith("tests/system/") for test in quick)
