"""The documented login line in the real shells: one jenv process does everything (issue 15.2).

``eval "$(jenv hook bash)"`` (zsh, ksh, dash and sh alike), ``jenv hook fish | source`` and
``eval "`jenv hook tcsh`"`` run the real jenv (``python -m jenv`` behind a wrapper on PATH that
counts its starts) against real token files made by the test CA.  Each test checks what a user
would: the exports, one Python start per line, nothing on stderr when the token is valid, the
shell's options and helper names untouched, the completion loaded at the first TAB, and the time
bound when jenv cannot finish (a JCentral that accepts and never answers).
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from support.realshell import REPO, dump_command, read_dump, run_script

FAMILY = {"bash": "posix", "zsh": "posix", "ksh": "posix", "dash": "posix", "sh": "posix",
          "fish": "fish", "tcsh": "csh", "csh": "csh"}
LOGIN_LINE = {"posix": 'eval "$(jenv hook {shell})"', "fish": "jenv hook fish | source",
              "csh": 'eval "`jenv hook {shell}`"'}
#: Helper names the line may leave: the completion loader (bash) is meant to stay until the first TAB.
LEFTOVER = {
    "posix": "if set | grep '^_jenv' | grep -qv '^_jenv_lazy_complete'; then echo LEFTOVER; fi",
    "fish": "if set -n | string match -q '*_jenv*'; echo LEFTOVER; end",
    "csh": 'if ( "`set | grep ^_jenv`" != "" ) echo LEFTOVER',
}
STRICT = "set -eu\n"
STRICT_CHECK = 'case $- in *e*u*|*u*e*) ;; *) echo "OPTIONS LOST: $-";; esac\n'
NAMES = ["JALIEN_TOKEN_CERT", "JALIEN_TOKEN_KEY", "TMPDIR"]
COMPLETIONS = REPO / "jenv" / "data" / "completions"


def _login(shell: str, tmp_path: Path, env, times: int = 1, after: str = "", timeout: float = 30):
    family = FAMILY[shell]
    strict = family == "posix"
    script = (STRICT if strict else "") + (LOGIN_LINE[family].format(shell=shell) + "\n") * times
    script += (STRICT_CHECK if strict else "") + LEFTOVER[family] + "\n" + after
    script += dump_command(tmp_path, NAMES) + "\necho END\n"
    proc = run_script(shell, script, tmp_path, env, timeout=timeout)
    dump = read_dump(tmp_path) if (tmp_path / "dump.json").exists() else {}
    return proc, dump


def _starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.parametrize("shell", list(FAMILY))
def test_login_line_twice_one_process_each_and_silent(shell, tmp_path, login):
    env, starts, cert = login
    proc, dump = _login(shell, tmp_path, env, times=2)
    assert proc.stdout.decode().split() == ["END"], proc.stdout
    assert proc.stderr == b""
    assert dump["JALIEN_TOKEN_CERT"] == str(cert).encode()
    assert dump["JALIEN_TOKEN_KEY"] == str(cert).replace("tokencert", "tokenkey").encode()
    assert dump["TMPDIR"] == env["TMPDIR"].encode()
    assert _starts(starts) == 2  # one Python start per login line, not one for the hook and one for the token


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "tcsh"])
def test_private_tmp_is_exported_even_when_no_token_can_be_had(shell, tmp_path, login):
    """JENV_PRIVATE_TMP=1 and no TMPDIR: the 0700 directory under $HOME is exported; the token there is
    missing and JCentral unreachable, so one line on stderr and the shell goes on."""
    env, starts, _cert = login
    env = {k: v for k, v in env.items() if k != "TMPDIR"}
    env["JENV_PRIVATE_TMP"] = "1"
    proc, dump = _login(shell, tmp_path, env)
    chosen = Path(env["HOME"]) / ".cache" / "jenv" / "tmp"
    assert proc.stdout.decode().split() == ["END"]
    assert dump["TMPDIR"] == str(chosen).encode() and stat.S_IMODE(chosen.stat().st_mode) == 0o700
    assert dump["JALIEN_TOKEN_CERT"] is None
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jenv: "), lines
    assert _starts(starts) == 1


@pytest.fixture
def silent_jcentral():
    """A TCP listener that accepts and never says a word (the TLS handshake waits forever)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []

    def accept():
        try:
            while True:
                held.append(listener.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize("shell", ["bash", "dash", "fish", "tcsh"])
def test_a_hanging_jenv_is_cut_off_within_the_bound(shell, tmp_path, login, silent_jcentral, root_ca):
    """jenv itself hangs (JCentral never answers, its own timeout far away): the watchdog ends it
    after JENV_HOOK_TIMEOUT, says so in one line, and the shell goes on with what it had."""
    env, _starts_log, _cert = login
    leaf = root_ca.issue("/C=ch/O=jenv-test/OU=Users/CN=jdoe")
    (tmp_path / "usercert.pem").write_bytes(leaf.cert_pem)
    (tmp_path / "userkey.pem").write_bytes(leaf.key_pem())
    (tmp_path / "userkey.pem").chmod(0o400)
    for name in Path(env["TMPDIR"]).iterdir():
        name.unlink()  # no token: jenv must ask JCentral
    env = dict(env, ALIENPY_JCENTRAL_PORT=str(silent_jcentral), JENV_TIMEOUT="60", JENV_HOOK_TIMEOUT="2",
               X509_USER_CERT=str(tmp_path / "usercert.pem"), X509_USER_KEY=str(tmp_path / "userkey.pem"),
               X509_CERT_DIR=str(root_ca.write_dir(tmp_path / "certificates")))
    start = time.monotonic()
    proc, dump = _login(shell, tmp_path, env, timeout=40)
    assert time.monotonic() - start < 10
    assert proc.stdout.decode().split() == ["END"]
    assert proc.stderr.decode().splitlines() == [
        "jenv hook: no token: jenv token did not finish within 2s (a passphrase prompt left unanswered, or "
        "JCentral not answering); JENV_HOOK_TIMEOUT sets the limit"]
    assert dump["JALIEN_TOKEN_CERT"] is None


def test_bash_completion_is_read_at_the_first_tab(tmp_path, login):
    """After the login line bash knows how to complete jenv, but has not read the completion file yet;
    the first TAB reads it and completes."""
    env, _starts_log, _cert = login
    tab = ("declare -F _jenv_complete >/dev/null && echo LOADED-EARLY\n"
           "complete -p jenv\n"
           "COMP_WORDS=(jenv tok); COMP_CWORD=1; COMPREPLY=()\n"
           "_jenv_lazy_complete jenv tok jenv\n"
           'printf "%s\\n" "${COMPREPLY[@]}"\n'
           "complete -p jenv\n")
    proc, _dump = _login("bash", tmp_path, env, after=tab)
    out = proc.stdout.decode().splitlines()
    assert proc.stderr == b"" and "LOADED-EARLY" not in out
    assert out[0] == "complete -F _jenv_lazy_complete jenv"
    assert {"token", "token-init", "token-info"} <= set(out[1:-2])
    assert out[-2] == "complete -F _jenv_complete jenv"


def test_zsh_completion_is_an_autoload_from_the_installed_file(tmp_path, login):
    env, _starts_log, _cert = login
    check = ('print -r -- "${fpath[1]}"\n'
             "autoload +X _jenv && print -r -- loaded\n")
    proc, _dump = _login("zsh", tmp_path, env, after=check, times=2)
    out = proc.stdout.decode().splitlines()
    assert proc.stderr == b"" and out[:2] == [str(COMPLETIONS), "loaded"]


def test_fish_completes_jenv_after_the_login_line(tmp_path, login):
    env, _starts_log, _cert = login
    proc, _dump = _login("fish", tmp_path, env, after="complete -C 'jenv tok'\n", times=2)
    offered = {row.split("\t")[0] for row in proc.stdout.decode().splitlines()}
    assert proc.stderr == b"" and {"token", "token-init", "token-info"} <= offered


@pytest.mark.parametrize("shell", ["bash", "fish", "tcsh"])
def test_the_line_itself_succeeds(shell, tmp_path, login):
    """The line's own status is 0 (fish's ``set`` passes the previous status along, so no test in the
    loader may be left failing)."""
    env, _starts_log, _cert = login
    status = {"bash": 'echo "status=$?"', "fish": "echo status=$status", "tcsh": 'echo "status=$status"'}[shell]
    script = LOGIN_LINE[FAMILY[shell]].format(shell=shell) + "\n" + status + "\n"
    proc = run_script(shell, script, tmp_path, env)
    assert proc.stdout.decode().split() == ["status=0"] and proc.stderr == b""


def test_a_shell_without_completions_gets_none(tmp_path, login):
    """ksh and tcsh get the exports only (nothing they cannot evaluate)."""
    env, _starts_log, cert = login
    from support.launcher import run_jenv

    for shell in ("ksh", "tcsh"):
        out = run_jenv(["hook", shell], env).stdout
        assert "complete" not in out and "fpath" not in out and str(cert) in out


@pytest.mark.parametrize("stuck", ["import time; time.sleep(600)",
                                   "import select, os; select.select([os.pipe()[0]], [], [])",
                                   "import socket; listener = socket.socket(); listener.listen(); listener.accept()"])
def test_the_watchdog_ends_a_stuck_process_within_the_bound(tmp_path, stuck):
    """Whatever jenv waits for that the kernel lets go of, the watchdog thread ends the whole process at
    the bound with status 0 and its one line (the shell then goes on; no 'Terminated')."""
    script = tmp_path / "stuck.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from jenv.shells.hook import start_watchdog\n"
        "start_watchdog(1, 'bound reached')\n"
        "print('early line', flush=True)\n"
        f"{stuck}\n"
        "print('never')\n")
    start = time.monotonic()
    proc = run_script("sh", f'out=$({sys.executable} {script}); echo "got: $out status: $?"\n', tmp_path,
                      {"PATH": os.environ["PATH"]}, timeout=30)
    assert time.monotonic() - start < 6
    assert proc.stdout.decode().strip() == "got: early line status: 0"
    assert proc.stderr.decode().strip() == "bound reached"
