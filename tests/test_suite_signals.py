"""The suite started with SIGHUP, SIGINT and SIGQUIT ignored (``nohup``, a background job of a
non-interactive shell) still gives the processes it starts their default actions (support/signals.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # pytest and a shell as processes

SUPPORT_PARENT = os.path.dirname(os.path.abspath(__file__))

#: A test that sends each signal to a shell it starts and expects the shell to end by it.
SAMPLE = textwrap.dedent("""\
    import signal, subprocess
    import pytest

    @pytest.mark.parametrize("name", ["SIGHUP", "SIGINT", "SIGQUIT"])
    def test_a_child_ends_by_the_signal(name):
        signum = getattr(signal, name)
        proc = subprocess.run(["sh", "-c", f"kill -{signum} $$; exit 3"], timeout=30)
        assert proc.returncode == -signum
    """)


def _ignoring():
    for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)


@pytest.mark.parametrize(("plugin", "passed"), [(["-p", "support.signals"], True), ([], False)])
def test_a_suite_that_inherits_the_signals_ignored_gives_its_processes_the_defaults(tmp_path, plugin, passed):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    proc = subprocess.run([sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", "-q", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, preexec_fn=_ignoring, timeout=120,
                          env=dict(os.environ, PYTHONPATH=SUPPORT_PARENT))
    assert ("3 passed" in proc.stdout) is passed, proc.stdout + proc.stderr
    assert (proc.returncode == 0) is passed, proc.stdout + proc.stderr
