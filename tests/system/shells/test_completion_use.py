"""Completion as a user meets it (issue 26.5): no word offered twice (bash), ``jenv exec -- <TAB>``
completing the command and then the command's own arguments (bash, zsh, fish), and zsh completing
jenv after the documented login line in a zsh that never ran ``compinit``.

Real shells throughout: bash drives the completion function through COMP_WORDS/COMP_CWORD (with
and without the bash-completion package's ``_command_offset``), fish answers ``complete -C``, and
zsh is an interactive shell on a pseudo-terminal started with no startup file but the test's own
(``ZDOTDIR``), where TAB is typed and every ``compadd`` is recorded.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Dict, List, Sequence

import pytest

from jenv.cli import COMMANDS

from support.realshell import require_shell
from test_completions import COMPLETIONS, bash_complete, fish_complete, usage_options, zsh_complete

#: The bash-completion package's main file (Debian's path), which defines ``_command_offset``.
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def bash_complete_many(lines: Sequence[Sequence[str]], prelude: str = "") -> List[List[str]]:
    """COMPREPLY for each command line (last word = the one completed), all in one bash."""
    script = prelude + f"source {COMPLETIONS / 'jenv.bash'}\n"
    for words in lines:
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        script += (f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=()\n"
                   f"COMP_LINE={' '.join(words)!r}; COMP_POINT=${{#COMP_LINE}}\n"
                   "_jenv_complete jenv \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
                   "printf '%s\\n' \"${COMPREPLY[@]}\" '@@'\n")
    out = subprocess.run([require_shell("bash"), "--norc", "--noprofile", "-c", script],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    replies = out.stdout.split("@@\n")[:-1]
    return [[w for w in reply.splitlines() if w] for reply in replies]


def option_values(command: str) -> Dict[str, str]:
    """Each option of a command's usage -> a value to put after it ('' for a flag)."""
    module_name, func = COMMANDS[command].split(":")
    doc = getattr(__import__(module_name, fromlist=[func]), func).__doc__ or ""
    valued = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)(?:=| )<", doc))
    valued_names = {name.lstrip("-") for name in valued}
    return {name: ("x" if name.lstrip("-") in valued_names else "") for name in usage_options(command)}


class TestBashNoRepeats:
    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_an_option_on_the_line_is_not_offered_again(self, command):
        values = option_values(command)
        lines = []
        for option, value in sorted(values.items()):
            lines.append(["jenv", command, option, *([value] if value else []), "-"])
        for (option, value), offered in zip(sorted(values.items()), bash_complete_many(lines)):
            names = {w.lstrip("-") for w in offered}
            assert option.lstrip("-") not in names, (command, option, offered)
            assert names, (command, option)  # the other options are still offered

    def test_global_options_and_values_once(self):
        assert "--json" not in bash_complete("jenv", "--json", "-")
        # a value given: no second one, the options instead (each once)
        assert bash_complete("jenv", "hook", "bash", "") == ["--file", "--help"]
        assert bash_complete("jenv", "hook", "bash", "--file", "") == ["--help"]
        assert bash_complete("jenv", "completion", "zsh", "") == ["--help"]
        assert "status" not in bash_complete("jenv", "agent", "start", "")
        assert bash_complete("jenv", "args", "curl", "") == ["--config", "--min-valid", "--json", "--help"]
        assert bash_complete("jenv", "user", "jdoe", "") == ["token-init"]
        assert "token-init" not in bash_complete("jenv", "user", "jdoe", "token-init", "")
        assert bash_complete("jenv", "--json", "token", "--json", "--with-ca", "--w") == []


class TestExecCommand:
    """``jenv exec -- <TAB>`` (and ``jenv sandbox -- <TAB>``) completes a command, then its arguments."""

    @pytest.mark.parametrize("prefix", [["jenv", "exec", "--"], ["jenv", "exec", "--min-valid", "5m", "--"],
                                        ["jenv", "exec", "--scrub", "--"], ["jenv", "sandbox", "--"],
                                        ["jenv", "sandbox", "--user", "bob", "--"]])
    def test_bash_offers_commands(self, prefix):
        offered = bash_complete(*prefix, "ech")
        assert "echo" in offered and all(not w.startswith("-") for w in offered), offered

    def test_bash_offers_files_after_the_command(self, tmp_path):
        (tmp_path / "some-input.txt").write_text("")
        offered = bash_complete("jenv", "exec", "--", "cat", str(tmp_path / "some-"))
        assert offered == [str(tmp_path / "some-input.txt")]

    def test_bash_hands_over_to_the_commands_own_completion(self):
        if not BASH_COMPLETION.exists():
            if os.environ.get("CI"):
                pytest.fail("the bash-completion package is not installed (CI installs it)")
            pytest.skip("the bash-completion package is not installed")
        prelude = f"source {BASH_COMPLETION}\n"
        nested, = bash_complete_many([["jenv", "exec", "--", "jenv", "token-d"]], prelude)
        assert nested == ["token-destroy"]
        options, = bash_complete_many([["jenv", "sandbox", "--", "jenv", "hook", ""]], prelude)
        assert "zsh" in options and "token" not in options

    @pytest.mark.parametrize("line", ["jenv exec -- ech", "jenv exec --min-valid 5m -- ech",
                                      "jenv sandbox -- ech"])
    def test_fish_offers_commands(self, line):
        assert "echo" in fish_complete(line)

    def test_fish_hands_over_to_the_commands_own_completion(self):
        assert set(fish_complete("jenv exec -- jenv token-d")) == {"token-destroy"}
        assert "--scrub" not in fish_complete("jenv exec -- jenv -")

    def test_zsh_offers_commands_then_their_completion(self, tmp_path):
        (tmp_path / "a").mkdir()
        assert "echo" in zsh_complete("jenv exec -- ech", tmp_path / "a")
        (tmp_path / "b").mkdir()
        assert zsh_complete("jenv exec -- jenv token-d", tmp_path / "b") == {"token-destroy"}


class TestZshWithoutCompinit:
    """The documented zsh login lines in a ~/.zshrc that has nothing else: no compinit anywhere."""

    LINES = ['eval "$(jenv hook zsh)"\n',
             '[ -O ~/.cache/jenv/login.zsh ] && . ~/.cache/jenv/login.zsh || eval "$(jenv hook zsh)"\n']

    @pytest.mark.parametrize("line", LINES, ids=["hook", "login-file"])
    def test_tab_completes_jenv(self, line, tmp_path, login):
        env, _starts, _cert = login
        home = Path(env["HOME"])
        subprocess.run(["jenv", "hook", "zsh"], env=env, capture_output=True, timeout=60, check=True)
        assert (home / ".cache" / "jenv" / "login.zsh").exists()  # the second line takes its file path
        offered = zsh_complete("jenv tok", home, rc=line, env=env)
        assert offered == {"token", "token-init", "token-info", "tokenkey-match", "token-verify",
                           "token-destroy"}

    def test_a_compinit_after_the_line_is_left_alone(self, tmp_path, login):
        """A .zshrc whose own compinit comes after the line: completion works, and the line added no
        compinit of its own (its first TAB finds the one the .zshrc ran)."""
        env, _starts, _cert = login
        home = Path(env["HOME"])
        rc = (self.LINES[0] + "autoload -Uz compinit && compinit -u -D\n"
              "compinit() { print -r -- again >> ~/compinit-calls; }\n")
        offered = zsh_complete("jenv tok", home, rc=rc, env=env)
        assert "token-init" in offered
        assert not (home / "compinit-calls").exists()
