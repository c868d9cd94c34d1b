"""Shell detection from inside the real shells: the shell that evaluates the output wins.

jenv runs as ``python -m jenv`` (or a console script, also python), so the
process chain is shell -> (command substitution) -> python; shellingham must
walk past python, and $SHELL (deliberately wrong here) must not be used.
"""

from __future__ import annotations

import sys

import pytest

from support.realshell import run_script

PROBE = ("import os\nfrom jenv.shells import pick_shell\n"
         "c = pick_shell(None, os.environ)\nprint(c.name + '/' + c.how)\n")

#: Each shell captures the probe's output the way a login file captures jenv's.
CAPTURE = {
    "posix": 'x="$({probe})"; echo "$x"',
    "fish": "set x ({probe}); echo $x",
    "csh": 'set x = "`{probe}`"; echo "$x"',
}


@pytest.mark.parametrize("shell, family", [
    ("bash", "posix"), ("zsh", "posix"), ("ksh", "posix"), ("dash", "posix"),
    ("fish", "fish"), ("tcsh", "csh"),
])
def test_detects_the_calling_shell_not_dollar_shell(shell, family, tmp_path, shell_env):
    env = dict(shell_env, SHELL="/bin/definitely-not-" + shell)
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    command = f"{sys.executable} {probe}"
    proc = run_script(shell, CAPTURE[family].format(probe=command) + "\n", tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == f"{shell}/from the parent process"

