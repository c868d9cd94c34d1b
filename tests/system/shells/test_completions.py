"""Completion files loaded in the real shells, offering real completions.

bash: the completion function driven through COMP_WORDS/COMP_CWORD; fish:
``complete -C``; zsh: loaded under compinit, then a real interactive zsh on a
pseudo-terminal completes ``jenv tok<TAB>`` with compadd recorded.  The
commands offered are compared with jenv.cli.COMMANDS, and each command's
options with its docopt usage text, so the files cannot drift from the CLI.
"""

from __future__ import annotations

import importlib
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

from jenv.cli import ALIASES, COMMANDS, ONE_DASH_OPTIONS
from jenv.commands.shell import completion_text

from support.realshell import REPO, require_shell

COMPLETIONS = REPO / "completions"
ALL_COMMANDS = set(COMMANDS) | set(ALIASES)
SHELL_NAMES = "sh bash zsh ksh dash fish tcsh csh json json-vars env".split()


def bash_complete(*words: str) -> List[str]:
    """COMPREPLY of the jenv.bash function for the command line ``words`` (last = current)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f"source {COMPLETIONS / 'jenv.bash'}\n"
              f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=()\n"
              "_jenv_complete\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run([require_shell("bash"), "--norc", "--noprofile", "-c", script],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return [line for line in out.stdout.splitlines() if line]


def fish_complete(line: str) -> List[str]:
    """Candidates fish offers for ``line`` with jenv.fish loaded."""
    script = f"source {COMPLETIONS / 'jenv.fish'}; complete -C {line!r}"
    out = subprocess.run([require_shell("fish"), "--no-config", "-c", script],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return [row.split("\t")[0] for row in out.stdout.splitlines()]


def zsh_complete(line: str, tmp: Path, rc: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None) -> Set[str]:
    """Matches an interactive zsh (on a pty) adds for ``line`` + TAB, recorded from compadd.  Its only
    startup file (``tmp``/.zshrc) holds ``rc`` (default: compinit, then _jenv sourced)."""
    zsh = require_shell("zsh")
    record = tmp / "matches"
    if rc is None:
        rc = f"autoload -Uz compinit && compinit -u -D\nsource {COMPLETIONS / '_jenv'}\n"
    (tmp / ".zshrc").write_text(
        rc +
        "compadd() { local -a m; builtin compadd -O m \"$@\"; "
        f"print -rl -- $m >> {record}; builtin compadd \"$@\"; }}\n"
        f"print -r -- ready > {tmp / 'ready'}\n")
    env = {"PATH": os.environ.get("PATH", ""), "TERM": "dumb", "LANG": "C.UTF-8", **(env or {}),
           "HOME": str(tmp), "ZDOTDIR": str(tmp)}
    pid, fd = pty.fork()
    if pid == 0:  # child: become the interactive zsh
        os.execve(zsh, [zsh, "-i"], env)
    try:
        _wait_for(fd, lambda: (tmp / "ready").exists())
        os.write(fd, (line + "\t").encode())
        _wait_for(fd, lambda: record.exists() and record.stat().st_size > 0)
        time.sleep(0.3)  # let the remaining compadd calls finish
        _wait_for(fd, lambda: False, 0.3)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return set(record.read_text().split()) if record.exists() else set()


def _wait_for(fd: int, done, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while not done() and time.monotonic() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                os.read(fd, 65536)  # keep the pty drained
            except OSError:
                return


def usage_options(command: str) -> Set[str]:
    """Options in a command's docopt usage, spelled as the completion files offer them."""
    module_name, func = COMMANDS[command].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        pytest.skip(f"{module_name} is not written yet")
    doc = getattr(module, func).__doc__ or ""
    usage = doc.split("Usage:", 1)[1].split("\n\n", 1)[0]
    names = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", usage)) - {"-h", "--help"}
    return {canonical_option(n) for n in names}


def canonical_option(name: str) -> str:
    """``-jobid`` and ``--jobid`` are the same option (cli.normalize_argv)."""
    return "-" + name if name in ONE_DASH_OPTIONS else name


class TestBash:
    def test_commands(self):
        offered = set(bash_complete("jenv", ""))
        assert {w for w in offered if not w.startswith("-")} == ALL_COMMANDS
        assert set(bash_complete("jenv", "tok")) == {c for c in ALL_COMMANDS if c.startswith("tok")}

    def test_token_types_and_shells(self):
        assert bash_complete("jenv", "token", "-t", "") == ["job", "jobagent", "host", "user"]
        assert bash_complete("jenv", "token-init", "-t", "jo") == ["job", "jobagent"]
        assert bash_complete("jenv", "--shell", "") == SHELL_NAMES
        assert bash_complete("jenv", "--shell", "fish", "tok")[0].startswith("tok")
        assert bash_complete("jenv", "completion", "") == ["bash", "zsh", "fish"]  # values first
        assert bash_complete("jenv", "completion", "-") == ["--help"]

    def test_alien_token_init_gets_token_options(self):
        assert bash_complete("alien-token-init", "-") == bash_complete("jenv", "token-init", "-")
        assert "-jobid" in bash_complete("alien-token-init", "-")

    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_options_match_usage(self, command):
        want = usage_options(command)
        offered = {canonical_option(w) for w in bash_complete("jenv", command, "-")
                   if w.startswith("-")}
        assert offered - {"--help", "--"} == want


class TestFish:
    def test_commands(self):
        assert set(fish_complete("jenv ")) >= ALL_COMMANDS
        assert set(fish_complete("jenv tok")) == {c for c in ALL_COMMANDS if c.startswith("tok")}

    def test_token_types_shells_and_options(self):
        assert set(fish_complete("jenv token -t ")) == {"job", "jobagent", "host", "user"}
        assert set(fish_complete("jenv --shell ")) == set(SHELL_NAMES)
        assert set(fish_complete("jenv hook ")) == set(SHELL_NAMES) - {"json", "json-vars", "env"}
        assert {"-jobid", "-hostname", "-t"} <= set(fish_complete("alien-token-init -"))

    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_options_match_usage(self, command):
        want = usage_options(command)
        offered = {canonical_option(w) for w in fish_complete(f"jenv {command} -")
                   if w.startswith("-")}
        assert offered - {"--help"} == want


class TestZsh:
    def test_loads_under_compinit_and_registers(self, tmp_path):
        script = ("autoload -Uz compinit && compinit -u -D\n"
                  'eval "$(cat ' + str(COMPLETIONS / "_jenv") + ')"\n'
                  'print -r -- "$+functions[_jenv] $_comps[jenv] $_comps[alien-token-init]"\n')
        out = subprocess.run([require_shell("zsh"), "-f", "-c", script], capture_output=True,
                             text=True, timeout=20, env={"PATH": os.environ["PATH"],
                                                         "HOME": str(tmp_path)})
        assert out.stderr == "" and out.stdout.split() == ["1", "_jenv", "_jenv"]

    def test_autoload_from_fpath(self, tmp_path):
        (tmp_path / "f").mkdir()
        (tmp_path / "f" / "_jenv").write_text(completion_text("zsh"))
        script = (f"fpath=({tmp_path / 'f'} $fpath); autoload -Uz compinit && compinit -u -D\n"
                  'print -r -- "$_comps[jenv] $_comps[alien-token-init]"\n')
        out = subprocess.run([require_shell("zsh"), "-f", "-c", script], capture_output=True,
                             text=True, timeout=20, env={"PATH": os.environ["PATH"],
                                                         "HOME": str(tmp_path)})
        assert out.stderr == "" and out.stdout.split() == ["_jenv", "_jenv"]

    def test_offers_commands_and_token_types(self, tmp_path):
        assert zsh_complete("jenv tok", tmp_path) == {c for c in ALL_COMMANDS
                                                      if c.startswith("tok")}
        (tmp_path / "t").mkdir()
        assert zsh_complete("jenv token -t ", tmp_path / "t") == {"job", "jobagent", "host",
                                                                   "user"}

    @pytest.mark.parametrize("command", ["token", "token-init", "user", "token-destroy", "serve",
                                         "sandbox", "cert-info"])
    def test_options_match_usage(self, command, tmp_path):
        want = usage_options(command)
        words = f"jenv {command} bob -" if command == "user" else f"jenv {command} -"
        offered = {canonical_option(w) for w in zsh_complete(words, tmp_path) if w.startswith("-")}
        assert offered - {"--", "-"} == want  # sandbox: "--" then a command


def test_bash_offers_values_before_options_and_your_role(tmp_path, root_ca):
    """Where the grammar expects a value, bash offers values (shells, your role from the token in use)
    and options only once a '-' is typed (issue 15.5)."""
    import shutil as _shutil
    import sys as _sys

    from support.launcher import clean_env

    env = clean_env(tmp_path / "home")
    tmp = Path(env["TMPDIR"])
    leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=alicepr")
    (tmp / f"tokencert_{os.getuid()}.pem").write_bytes(leaf.cert_pem)
    (tmp / f"tokenkey_{os.getuid()}.pem").write_bytes(leaf.key_pem(fmt="traditional"))
    for name in tmp.iterdir():
        name.chmod(0o400)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "jenv").write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{_sys.executable}" -m jenv "$@"\n')
    (bin_dir / "jenv").chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"

    def complete(*words):
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        script = (f"source {COMPLETIONS / 'jenv.bash'}\n"
                  f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=()\n"
                  "_jenv_complete\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
        out = subprocess.run([_shutil.which("bash"), "--norc", "--noprofile", "-c", script], env=env,
                             capture_output=True, text=True, timeout=20)
        return [line for line in out.stdout.splitlines() if line]

    assert complete("jenv", "user", "") == ["jdoe"]
    assert complete("jenv", "token-init", "") == ["jdoe"]
    assert "-v" in complete("jenv", "user", "jdoe", "-")
    hook = complete("jenv", "hook", "")
    assert "bash" in hook and not [w for w in hook if w.startswith("-")]
    assert "--file" in complete("jenv", "hook", "-")
    assert "token" in complete("jenv", "") and not [w for w in complete("jenv", "") if w.startswith("-")]
