"""The two files of the login decided inside the shell (issue 22): ``~/.cache/jenv/login.<shell>``, read at
every login, and ``prompt.sh`` / ``prompt.fish``, read at the first prompt only.

The prompt file carries the login file's own check (cut from it by ``jenv hook``, so the two cannot
drift apart); like the login file it is sourced only when it is the user's own, and without it the prompt
function still shows what ``jenv prompt`` shows.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.realshell import REPO, run_script
from support.launcher import run_jenv
from test_fresh_login import OTHER_UID, _line, _prepare, _starts

from jenv.shells.hook import LOGIN_SOURCES, PROMPT_SOURCES, check_lines

PROMPT_SHELLS = ("bash", "zsh", "fish")


def _installed(env, name: str) -> Path:
    return Path(env["HOME"]) / ".cache" / "jenv" / name


@pytest.mark.parametrize("shell", ["bash", "zsh", "ksh", "fish"])
def test_the_prompt_file_carries_the_login_files_own_check(shell, login):
    """Installed by ``jenv hook``: both private, and the check's lines appear in both, unchanged."""
    env, _starts_log, _cert = login
    _prepare(env, shell)
    login_text = _installed(env, f"login.{shell}").read_text()
    prompt_path = _installed(env, PROMPT_SOURCES[shell][1])
    check = "".join(check_lines((REPO / "jenv" / "data" / "shell" / LOGIN_SOURCES[shell]).read_text()))
    assert len(check.splitlines()) > 10
    assert check in login_text and check in prompt_path.read_text()
    for path in (_installed(env, f"login.{shell}"), prompt_path):
        assert path.stat().st_mode & 0o777 == 0o600 and path.stat().st_uid == os.getuid()


def _prompt_twice(shell: str, tmp_path: Path, env) -> list:
    out = tmp_path / "segments"
    out.unlink(missing_ok=True)
    update = f'jenv_prompt_update; printf "%s\\n" "$JENV_PROMPT_SEGMENT" >> "{out}"\n'
    proc = run_script(shell, _line(shell) + "\n" + update * 2, tmp_path, env)
    assert proc.stderr == b"", proc.stderr
    return out.read_text().splitlines()


@pytest.mark.parametrize("shell", PROMPT_SHELLS)
def test_a_prompt_file_of_another_user_is_never_sourced(shell, tmp_path, login):
    """A prompt file another uid planted is not run: each prompt asks ``jenv prompt`` instead."""
    env, starts, _cert = login
    _prepare(env, shell)
    mark = tmp_path / "EXECUTED"
    prompt_file = _installed(env, PROMPT_SOURCES[shell][1])
    prompt_file.write_text(f"touch {mark}\n")
    os.chown(prompt_file, OTHER_UID, OTHER_UID)
    count = _starts(starts)
    segments = _prompt_twice(shell, tmp_path, env)
    assert not mark.exists()
    assert segments == [run_jenv(["prompt"], env).stdout] * 2 and _starts(starts) == count + 2


@pytest.mark.parametrize("shell", PROMPT_SHELLS)
@pytest.mark.parametrize("damage", ["removed", "empty"])
def test_without_a_usable_prompt_file_the_prompt_asks_jenv(shell, damage, tmp_path, login):
    """No prompt file, or one that defines nothing (the first prompt then does not loop): the segment of
    ``jenv prompt``, which that prompt runs, and the login itself still starts nothing."""
    env, starts, _cert = login
    _prepare(env, shell)
    prompt_file = _installed(env, PROMPT_SOURCES[shell][1])
    if damage == "removed":
        prompt_file.unlink()
    else:
        prompt_file.write_text("\n")
    count = _starts(starts)
    segments = _prompt_twice(shell, tmp_path, env)
    assert segments == [run_jenv(["prompt"], env).stdout] * 2 and _starts(starts) == count + 2


@pytest.mark.parametrize("shell", ["bash", "zsh", "ksh"])
@pytest.mark.parametrize("prompts", [1, 2])
def test_the_prompt_never_ends_a_set_eu_shell(shell, prompts, tmp_path, login):
    """Under set -eu, with the line no longer fresh and no jenv to ask (PATH emptied after the login), the
    prompt function (the loader at the first prompt, the loaded one after) sets an empty segment and the
    shell goes on."""
    env, _starts_log, _cert = login
    _prepare(env, shell)
    fresh = Path(env["HOME"]) / ".cache" / "jenv" / f"fresh-{os.uname().nodename}"
    script = ("set -eu\n" + _line(shell) + "\n" + "jenv_prompt_update\n" * (prompts - 1)
              + f'touch "{fresh}"\nPATH=/nonexistent\njenv_prompt_update\necho "ALIVE[$JENV_PROMPT_SEGMENT]"\n')
    proc = run_script(shell, script, tmp_path, env)
    assert proc.stdout.decode().split() == ["ALIVE[]"], (proc.stdout, proc.stderr)
