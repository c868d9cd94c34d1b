"""Everything a user reads is true: every command block of README.md, CONTRIBUTING.md and docs/*.md runs.

Each document gets a fresh HOME and a sandbox (``jenv sandbox --dir``: a throwaway CA, user and local
JCentral), and its command blocks run in document order, each block as one script in its own shell
(a ``fish`` block in fish, a ``tcsh`` block in tcsh, ...) inside the sandbox, so a block's lines share
the sandbox's service as a reader's session would. A block whose lines are themselves ``jenv sandbox``
commands runs as it is. After every line the script checks its status, and every jenv run that fails
is recorded by the ``jenv`` on PATH: ``eval "$(jenv token)"`` succeeds even when jenv fails, and such a
failure must not pass unseen. The lines that cannot run here are listed, with the reason, in
support/docblocks.py (tests/core/test_docs.py keeps that list honest).

jenv runs as a process here: the blocks are shell scripts, and the sandbox serves over TLS.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.docblocks import COMMAND_LANGUAGES, Block, command_blocks, documents, relative, runnable

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]

#: After each line: stop the block at the first failing line, naming it.
CHECKS = {
    "sh": '__doc_status=$?; if [ "$__doc_status" -ne 0 ]; then echo "docs: line {n} failed with $__doc_status" >&2; '
          'exit 1; fi',
    "fish": 'if test $status -ne 0; echo "docs: line {n} failed" >&2; exit 1; end',
    "tcsh": 'if ($status != 0) then\necho "docs: line {n} failed"\nexit 1\nendif',
}

#: Words of a line that print a token's key on stdout, as asked (content mode).
CONTENT_WORDS = ("--content", "jenv user ", "token -t ")


#: The first line of a script: the reader's PATH again. (The sandbox puts the jenv that made it first on
#: PATH; here that is the test environment's, beside alienpy's commands, where `jenv shims` would rightly
#: refuse, and without the jenv that records failures.)
PATHS = {"sh": "PATH={path}; export PATH", "fish": "set -gx PATH {fish_path}", "tcsh": "setenv PATH {path}"}


def script(block: Block, path: str) -> str:
    shell = COMMAND_LANGUAGES[block.language]
    check = CHECKS.get(shell, CHECKS["sh"])
    prelude = PATHS.get(shell, PATHS["sh"]).format(path=path, fish_path=" ".join(path.split(":")))
    return prelude + "\n" + "".join(f"{line}\n{check.format(n=n)}\n" for n, line in enumerate(runnable(block), 1))


def argv(block: Block, path: Path) -> list:
    shell = COMMAND_LANGUAGES[block.language]
    return [shell, "-f", str(path)] if shell == "tcsh" else [shell, str(path)]


@pytest.fixture
def reader(root, home, tmp_path):
    """A reader's session: its own HOME (~/.local/bin on PATH, for the shims), a working directory, and a
    ``jenv`` on PATH that records every failing run in ``failures``."""
    bin_dir, work, failures = tmp_path / "bin", tmp_path / "work", tmp_path / "failures"
    bin_dir.mkdir()
    work.mkdir()
    failures.touch()
    (bin_dir / "jenv").write_text(f'#!/bin/sh\n"{sys.executable}" -m jenv "$@"\ns=$?\n'
                                  f'[ "$s" -eq 0 ] || printf "%s: jenv %s\\n" "$s" "$*" >> "{failures}"\nexit "$s"\n')
    (bin_dir / "jenv").chmod(0o755)
    # No .venv/bin on PATH: alienpy's commands there would rightly make `jenv shims` refuse.
    env = root.clean_env(home, PATH=f"{bin_dir}:{home}/.local/bin:/usr/local/bin:/usr/bin:/bin",
                         PYTHONPATH=str(REPO))
    yield env, work, failures
    subprocess.run([sys.executable, "-m", "jenv", "agent", "stop"], env=env, capture_output=True, timeout=30)


@pytest.mark.parametrize("path", [path for path in documents() if any(runnable(block) for block in command_blocks()
                                                                     if block.document == relative(path))],
                         ids=relative)
def test_every_command_block_runs_in_a_sandbox(root, reader, tmp_path, path):
    env, work, failures = reader
    box = tmp_path / "box"
    ran = 0
    for block in [block for block in command_blocks() if block.document == relative(path) and runnable(block)]:
        lines = runnable(block)
        file = tmp_path / f"block-{block.line}.{block.language}"
        file.write_text(script(block, env["PATH"]))
        alone = all(line.startswith("jenv sandbox ") for line in lines)
        command = argv(block, file) if alone else [sys.executable, "-m", "jenv", "sandbox", "--dir", str(box), "--",
                                                   *argv(block, file)]
        proc = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        root.scan(command, proc.stdout, proc.stderr, content_mode=any(word in line for line in lines
                                                                      for word in CONTENT_WORDS))
        where = f"{block.document}:{block.line} ({block.language})"
        assert proc.returncode == 0, (where, lines, proc.stderr)
        assert failures.read_text() == "", (where, failures.read_text(), proc.stderr)
        ran += len(lines)
    assert ran > 0


def test_the_examples_users_copy_most_are_among_those_run():
    """The lines the old README tests ran (the Tokens block, the sandbox examples) are still run."""
    lines = {line for block in command_blocks() for line in runnable(block)}
    assert {'eval "$(jenv user alicepr)"', "jenv token-init jdoe", "jenv token --content", "jenv token -t jobagent",
            "jenv sandbox -- jenv user alicepr", 'eval "$(jenv hook sh)"', "jenv doctor"} <= lines
    for kind in ("-t job ", "-t host", "--token-seconds"):
        assert any(kind in line and line.startswith("jenv sandbox ") for line in lines), kind
