"""The login hooks in the real shells, with a fake ``jenv token`` written by each test.

The hook is loaded the two documented ways: the line for the login file
(``eval "$(jenv hook bash)"``, ``jenv hook fish | source``,
``eval "`jenv hook tcsh`"``, which runs the real ``jenv hook`` through a
``python -m jenv`` wrapper on PATH) and sourcing shell/jenv.{sh,fish,csh}.
``JENV_BIN`` points at the fake, which logs its arguments and environment and
prints exports rendered by jenv.shells for the shell it is asked about.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from jenv.shells import render_exports

from support.realshell import REPO, dump_command, read_dump, require_shell, run_script

FAMILY = {"bash": "posix", "zsh": "posix", "ksh": "posix", "dash": "posix", "sh": "posix",
          "fish": "fish", "tcsh": "csh", "csh": "csh"}
SHELLS = list(FAMILY)
HOOK_FILE = {"posix": "jenv.sh", "fish": "jenv.fish", "csh": "jenv.csh"}
LOGIN_LINE = {"posix": 'eval "$(jenv hook {shell})"', "fish": "jenv hook fish | source",
              "csh": 'eval "`jenv hook {shell}`"'}
SOURCE_LINE = {"posix": ". {path}", "fish": "source {path}", "csh": "source {path}"}
#: Prints LEFTOVER when the hook left a helper variable or function behind.
LEFTOVER = {
    "posix": "if set | grep -q '^_jenv' || command -v _jenv_hook >/dev/null 2>&1; then echo LEFTOVER; fi",
    "fish": "if set -n | string match -q '*_jenv*'; or functions -q __jenv_hook; echo LEFTOVER; end",
    "csh": 'if ( "`set | grep ^_jenv`" != "" ) echo LEFTOVER',
}
#: POSIX login files of set -eu users: the options must survive the hook.
STRICT = "set -eu\n"
STRICT_CHECK = 'case $- in *e*u*|*u*e*) ;; *) echo "OPTIONS LOST: $-";; esac\n'

EXPORTS = {"JALIEN_TOKEN_CERT": "/tmp/tokencert_1000.pem",
           "JALIEN_TOKEN_KEY": "/tmp/tokenkey_1000.pem",
           "JENV_HOSTILE": "$HOME `id` 'q' \"d\" ! \\ % * ~ é中🚒"}
NAMES = [*EXPORTS, "TMPDIR"]


class Fake:
    """A fake jenv: ``token --shell S`` logs and prints the exports for S, or misbehaves."""

    def __init__(self, root: Path, behaviour: str = "ok"):
        self.dir = root / "fake"
        self.dir.mkdir(exist_ok=True)
        self.log = self.dir / "log"
        for shell in ("sh", "fish", "tcsh"):
            (self.dir / f"exports.{shell}").write_text(render_exports(shell, EXPORTS))
        body = {
            "ok": 'cat "{d}/exports.$3"',
            "fail": 'echo "jenv: no user certificate ~/.globus/usercert.pem" >&2; exit 3',
            "hang": "exec sleep 600",
            # A wrapper that does not exec: its child keeps the output pipe open.
            "hang-wrapper": "sleep 600; echo done",
        }[behaviour].format(d=self.dir)
        self.path = self.dir / "jenv-token"
        self.path.write_text("#!/bin/sh\n"
                             f'printf "%s|%s|%s\\n" "$*" "${{TMPDIR-}}" "${{JENV_TIMEOUT-}}" >> "{self.log}"\n'
                             f"{body}\n")
        self.path.chmod(0o755)

    def calls(self) -> List[List[str]]:
        """One [args, TMPDIR, JENV_TIMEOUT] per call."""
        if not self.log.exists():
            return []
        return [line.split("|") for line in self.log.read_text().splitlines()]


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH directory with ``jenv`` (the real one, via python -m jenv)."""
    d = tmp_path / "bin"
    d.mkdir()
    wrapper = d / "jenv"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m jenv "$@"\n')
    wrapper.chmod(0o755)
    return d


def fake_uname(bin_dir: Path, hostname: str) -> None:
    """Make ``uname -n`` answer ``hostname`` (the hook's node-private-/tmp rule reads it)."""
    path = bin_dir / "uname"
    path.write_text(f'#!/bin/sh\necho "{hostname}"\n')
    path.chmod(0o755)


def hook_env(shell_env: Dict[str, str], bin_dir: Path, fake: Optional[Fake], **extra: str):
    env = dict(shell_env, PATH=f"{bin_dir}:{shell_env['PATH']}")
    if fake is not None:
        env["JENV_BIN"] = str(fake.path)
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def run_hook(shell: str, tmp: Path, env: Dict[str, str], via: str = "source", times: int = 1,
             timeout: float = 30):
    """Load the hook ``times`` times in ``shell`` and dump NAMES; returns (proc, dump)."""
    family = FAMILY[shell]
    if via == "login":
        line = LOGIN_LINE[family].format(shell=shell)
    else:
        line = SOURCE_LINE[family].format(path=REPO / "shell" / HOOK_FILE[family])
    strict = family == "posix"
    script = (STRICT if strict else "") + (line + "\n") * times
    script += (STRICT_CHECK if strict else "") + LEFTOVER[family] + "\n"
    script += dump_command(tmp, NAMES) + "\necho END\n"
    proc = run_script(shell, script, tmp, env, timeout=timeout)
    dump = read_dump(tmp) if (tmp / "dump.json").exists() else {}
    return proc, dump


def token_exports() -> Dict[str, bytes]:
    return {k: v.encode() for k, v in EXPORTS.items()}


@pytest.mark.parametrize("shell", SHELLS)
class TestHook:
    def test_hook_file_twice_exports_token_and_keeps_user_tmpdir(self, shell, tmp_path,
                                                                  shell_env, bin_dir):
        fake = Fake(tmp_path)
        fake_uname(bin_dir, "lxplus901.cern.ch")  # TMPDIR is set: the rule must not apply
        env = hook_env(shell_env, bin_dir, fake)
        proc, dump = run_hook(shell, tmp_path, env, times=2)
        assert proc.stdout.decode().split() == ["END"], proc.stdout
        assert proc.stderr == b""
        assert dump == dict(token_exports(), TMPDIR=shell_env["TMPDIR"].encode())
        want = {"posix": "sh", "fish": "fish", "csh": "tcsh"}[FAMILY[shell]]
        assert fake.calls() == [[f"token --shell {want}", shell_env["TMPDIR"], "8"]] * 2
        assert list(Path(shell_env["TMPDIR"]).iterdir()) == []  # no temporary file left

    def test_private_tmp_gets_home_directory_0700(self, shell, tmp_path, shell_env, bin_dir):
        fake = Fake(tmp_path)
        env = hook_env(shell_env, bin_dir, fake, TMPDIR=None, JENV_PRIVATE_TMP="1",
                       JENV_TIMEOUT="3")
        proc, dump = run_hook(shell, tmp_path, env, times=2)
        assert proc.stderr == b"" and proc.stdout.decode().split() == ["END"]
        chosen = Path(env["HOME"]) / ".cache" / "jenv" / "tmp"
        assert dump["TMPDIR"] == str(chosen).encode()
        assert stat.S_IMODE(chosen.stat().st_mode) == 0o700
        assert fake.calls()[0][1:] == [str(chosen), "3"]

    def test_failing_jenv_one_line_and_shell_goes_on(self, shell, tmp_path, shell_env, bin_dir):
        env = hook_env(shell_env, bin_dir, Fake(tmp_path, "fail"))
        proc, dump = run_hook(shell, tmp_path, env)
        assert proc.returncode == 0
        assert proc.stdout.decode().split() == ["END"]
        assert proc.stderr.decode().splitlines() == [
            "jenv: no user certificate ~/.globus/usercert.pem"]
        assert dump["JALIEN_TOKEN_CERT"] is None

    @pytest.mark.parametrize("behaviour", ["hang", "hang-wrapper"])
    def test_hanging_jenv_is_cut_off_within_the_bound(self, shell, behaviour, tmp_path, shell_env, bin_dir):
        env = hook_env(shell_env, bin_dir, Fake(tmp_path, behaviour), JENV_HOOK_TIMEOUT="1")
        start = time.monotonic()
        proc, dump = run_hook(shell, tmp_path, env, timeout=20)
        assert time.monotonic() - start < 6
        assert proc.stdout.decode().split() == ["END"]
        assert proc.stderr.decode().splitlines() == [
            "jenv hook: no token: jenv token did not finish within 1s (a passphrase prompt left unanswered, or JCentral not answering); JENV_HOOK_TIMEOUT sets the limit"]
        assert dump["JALIEN_TOKEN_CERT"] is None

    def test_missing_jenv_one_line(self, shell, tmp_path, shell_env, bin_dir):
        env = hook_env(shell_env, bin_dir, None)
        # no jenv anywhere (an installed jenv on the developer's PATH is left out)
        env["PATH"] = ":".join(d for d in shell_env["PATH"].split(":")
                               if not os.path.exists(os.path.join(d, "jenv")))
        proc, _dump = run_hook(shell, tmp_path, env)
        assert proc.stdout.decode().split() == ["END"]
        assert proc.stderr.decode().splitlines() == [
            "jenv hook: jenv not found in PATH (set JENV_BIN); no token"]


#: (hostname, environment changes, directory under HOME expected as TMPDIR or None,
#:  mkdir HOME/private first)
RULES = [
    ("lxplus912.cern.ch", {}, ".cache/jenv/tmp", False),
    ("lxplus912.cern.ch", {}, "private/jenv-tmp", True),
    ("lxplus912.cern.ch", {"TMPDIR": ""}, ".cache/jenv/tmp", False),
    ("lxplus912.cern.ch", {"JENV_PRIVATE_TMP": "0"}, None, False),
    ("lxplus912.cern.ch", {"JENV_TMPDIR": "{home}/my tmp/jenv"}, "my tmp/jenv", True),
    ("laptop.local", {}, None, True),
    ("laptop.local", {"JENV_PRIVATE_TMP": "1"}, ".cache/jenv/tmp", False),
]


@pytest.mark.parametrize("shell", ["bash", "zsh", "ksh", "dash", "fish", "tcsh"])
@pytest.mark.parametrize("hostname, changes, expect, private", RULES)
def test_tmpdir_rule(shell, hostname, changes, expect, private, tmp_path, shell_env, bin_dir):
    fake = Fake(tmp_path)
    fake_uname(bin_dir, hostname)
    home = Path(shell_env["HOME"])
    if private:
        (home / "private").mkdir()
    changes = {k: v.format(home=home) for k, v in changes.items()}
    env = hook_env(shell_env, bin_dir, fake, **dict({"TMPDIR": None}, **changes))
    proc, dump = run_hook(shell, tmp_path, env)
    assert proc.stderr == b"" and proc.stdout.decode().split() == ["END"]
    if expect is None:
        assert dump["TMPDIR"] == (changes.get("TMPDIR", "").encode() or None)
        assert fake.calls()[0][1] == changes.get("TMPDIR", "")
        return
    chosen = home / expect
    assert dump["TMPDIR"] == str(chosen).encode()
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o700
    assert fake.calls()[0][1] == str(chosen)
    assert dump["JALIEN_TOKEN_CERT"] == EXPORTS["JALIEN_TOKEN_CERT"].encode()


@pytest.mark.parametrize("shell", ["bash", "fish", "tcsh"])
def test_existing_tmpdir_choice_is_used_as_is(shell, tmp_path, shell_env, bin_dir):
    own = tmp_path / "shared-tmp"
    own.mkdir()
    own.chmod(0o755)
    env = hook_env(shell_env, bin_dir, Fake(tmp_path), TMPDIR=None, JENV_PRIVATE_TMP="1",
                   JENV_TMPDIR=str(own))
    _proc, dump = run_hook(shell, tmp_path, env)
    assert dump["TMPDIR"] == str(own).encode()
    assert stat.S_IMODE(own.stat().st_mode) == 0o755  # the user's directory, not ours to chmod


@pytest.mark.parametrize("shell", ["bash", "fish", "tcsh"])
def test_uncreatable_directory_one_line_and_token_still_tried(shell, tmp_path, shell_env, bin_dir):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    fake = Fake(tmp_path)
    env = hook_env(shell_env, bin_dir, fake, TMPDIR=None, JENV_PRIVATE_TMP="1",
                   JENV_TMPDIR=str(blocker / "tmp"))
    proc, dump = run_hook(shell, tmp_path, env)
    assert proc.stdout.decode().split() == ["END"]
    assert proc.stderr.decode().splitlines() == [f"jenv hook: cannot create {blocker / 'tmp'}; TMPDIR left unset"]
    assert dump["TMPDIR"] is None
    assert dump["JALIEN_TOKEN_CERT"] == EXPORTS["JALIEN_TOKEN_CERT"].encode()


def test_real_jenv_token_through_every_hook_and_unreachable_service(tmp_path, shell_env, bin_dir):
    """End to end inside ``jenv sandbox`` (local CA, user and JCentral-compatible service).

    Every hook gets a real token from the real ``jenv token``; then, with no token
    and the service unreachable, the hook prints one line and the shell goes on.
    """
    shells = {name: require_shell(name) for name in ("bash", "zsh", "ksh", "dash", "fish", "tcsh")}
    hook = REPO / "shell"
    errors = tmp_path / "unreachable.err"
    driver = tmp_path / "driver.sh"
    driver.write_text(
        "set -u\n"
        + "".join(f"{shells[s]} -c 'set -eu; . {hook}/jenv.sh; echo {s} $JALIEN_TOKEN_CERT'\n"
                  for s in ("bash", "zsh", "ksh", "dash"))
        + f"{shells['fish']} --no-config -c 'source {hook}/jenv.fish; echo fish $JALIEN_TOKEN_CERT'\n"
        + f"{shells['tcsh']} -f -c 'source {hook}/jenv.csh; echo tcsh $JALIEN_TOKEN_CERT'\n"
        + 'ls "$TMPDIR"/tokenkey_* >/dev/null && echo token-files\n'
        + 'mkdir "$TMPDIR/none"\n'
        + f'TMPDIR="$TMPDIR/none" ALIENPY_JCENTRAL_PORT=1 JENV_HOOK_TIMEOUT=10 {shells["bash"]} '
        + f"-c 'set -eu; . {hook}/jenv.sh; echo unreachable ${{JALIEN_TOKEN_CERT-unset}}' 2> {errors}\n")
    env = hook_env(shell_env, bin_dir, None, JENV_BIN=str(bin_dir / "jenv"))
    start = time.monotonic()
    proc = subprocess.run([str(bin_dir / "jenv"), "sandbox", "--", "sh", str(driver)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    certs = {line.split()[0]: line.split()[1] for line in lines[:6]}
    assert sorted(certs) == sorted(shells)
    assert len(set(certs.values())) == 1 and certs["bash"].endswith(f"tokencert_{os.getuid()}.pem")
    assert lines[6:] == ["token-files", "unreachable unset"]
    assert len(errors.read_text().splitlines()) == 1, errors.read_text()
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("shell", ["bash", "zsh", "ksh", "dash"])
def test_jenv_found_on_path_not_an_alias(shell, tmp_path, shell_env, bin_dir):
    fake = Fake(tmp_path)
    (bin_dir / "jenv").unlink()
    (bin_dir / "jenv").symlink_to(fake.path)
    env = hook_env(shell_env, bin_dir, None)
    family_line = SOURCE_LINE["posix"].format(path=REPO / "shell" / "jenv.sh")
    script = f"jenv() {{ echo FUNCTION; }}\nalias jenv='echo ALIAS'\n{family_line}\n"
    script += dump_command(tmp_path, NAMES) + "\n"
    proc = run_script(shell, script, tmp_path, env)
    assert proc.stderr == b"" and proc.stdout == b""
    assert read_dump(tmp_path)["JALIEN_TOKEN_CERT"] == EXPORTS["JALIEN_TOKEN_CERT"].encode()
