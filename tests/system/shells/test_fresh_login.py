"""The login decided inside the shell (issue 22): ``~/.cache/jenv/login.sh``, sourced by the login line.

With a valid token that ``jenv token`` found fresh, bash, zsh and ksh93 export it without starting any
process (counted with strace on an interactive shell at a pseudo-terminal); on every change to the
files, the clock, the environment or the remembered line, the outcome is the one ``jenv token`` gives
(the mutation table), and nothing from the line is ever executed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import pty
import re
import select
import shutil
import subprocess
import tempfile
import termios
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from support.realshell import REPO, require_shell, run_script
from support.launcher import run_jenv

SHELLS = ("bash", "zsh", "ksh", "fish")
POSIX_LINE = '[ -O ~/.cache/jenv/login.{shell} ] && . ~/.cache/jenv/login.{shell} || eval "$(jenv hook {shell})"'
FISH_LINE = "test -O ~/.cache/jenv/login.fish; and source ~/.cache/jenv/login.fish; or jenv hook fish | source"
FLAGS = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "ksh": [], "fish": ["--no-config"]}
TOKEN_LINE = {"fish": "jenv token --shell fish | source"}
NAMES = ("JALIEN_TOKEN_CERT", "JALIEN_TOKEN_KEY", "TMPDIR")


def _line(shell: str) -> str:
    return FISH_LINE if shell == "fish" else POSIX_LINE.format(shell=shell)


def _dump(shell: str, names, out: Path) -> str:
    """Lines that append NAME=value of each set variable to ``out``, in the shell itself (no process)."""
    if shell == "fish":
        return "".join(f'if set -q {name}; printf "%s=%s\\n" {name} "${name}" >> "{out}"; end\n' for name in names)
    return "".join(f'if [ -n "${{{name}+x}}" ]; then printf "%s=%s\\n" {name} "${name}"; fi >> "{out}"\n'
                   for name in names)


def _host() -> str:
    return os.uname().nodename


def _fresh(env: Dict[str, str]) -> Path:
    return Path(env["HOME"]) / ".cache" / "jenv" / f"fresh-{_host()}"


def _put_token(root_ca, cert: Path, not_after: dt.datetime) -> None:
    """A new token pair in place of the old one, as alien.py writes it (delete, then write)."""
    leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", not_after=not_after)
    key = cert.with_name(cert.name.replace("tokencert", "tokenkey"))
    for path, data in ((cert, leaf.cert_pem), (key, leaf.key_pem(fmt="traditional"))):
        path.unlink(missing_ok=True)
        path.write_bytes(data)
        path.chmod(0o400)


def _prepare(env: Dict[str, str], shell: str = "bash") -> None:
    """What the first login leaves: the login file (``jenv hook``) and the fresh line (``jenv token``)."""
    proc = run_jenv(["hook", shell], env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (Path(env["HOME"]) / ".cache" / "jenv" / f"login.{shell}").is_file()
    assert _fresh(env).is_file()


def _starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _run_login(shell: str, tmp_path: Path, env: Dict[str, str], strict: bool = True, times: int = 1,
               after: str = "") -> Tuple[
        subprocess.CompletedProcess, Dict[str, Optional[str]]]:
    """The login line in ``shell`` (under set -eu), then the variables, printed by the shell itself."""
    out = tmp_path / "vars"
    if out.exists():
        out.unlink()
    script = ("set -eu\n" if strict and shell != "fish" else "") + (_line(shell) + "\n") * times + after
    script += _dump(shell, NAMES, out) + "echo END\n"
    proc = run_script(shell, script, tmp_path, env)
    found: Dict[str, Optional[str]] = dict.fromkeys(NAMES)
    if out.exists():
        for row in out.read_text().splitlines():
            name, _, value = row.partition("=")
            found[name] = value
    return proc, found


@pytest.mark.parametrize("shell", SHELLS)
def test_a_fresh_token_is_exported_without_jenv(shell, tmp_path, login):
    """Twice, under set -eu: the exports, nothing on stderr, the options kept, no helper name left
    (the prompt functions and bash's completion loader stay on purpose), and no jenv started."""
    env, starts, cert = login
    _prepare(env, shell)
    before = _starts(starts)
    names = tmp_path / "names"
    after = ("set -n > " if shell == "fish" else "set > ") + f'"{names}"\n'
    if shell != "fish":
        after += 'case $- in *e*u*|*u*e*) ;; *) echo "OPTIONS LOST: $-";; esac\n'
    proc, found = _run_login(shell, tmp_path, env, times=2, after=after)
    assert proc.stdout.decode().split() == ["END"] and proc.stderr == b"", proc.stderr
    assert found["JALIEN_TOKEN_CERT"] == str(cert)
    assert found["JALIEN_TOKEN_KEY"] == str(cert).replace("tokencert", "tokenkey")
    assert _starts(starts) == before
    left = {row.split("=")[0].split(" ")[0] for row in names.read_text(errors="replace").splitlines()
            if "_jenv" in row.split("=")[0].split(" ")[0]}
    assert left <= {"_jenv_lazy_complete"}, left


def _strace_interactive(shell: str, tmp_path: Path, env: Dict[str, str], commands: str) -> str:
    """Run ``shell`` interactively at a pseudo-terminal under strace, type ``commands`` and exit; the
    strace log of process creations."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    log = tmp_path / "strace.log"
    argv = [strace, "-f", "-o", str(log), "-e", "trace=execve,clone,clone3,fork,vfork",
            require_shell(shell), *FLAGS[shell], "-i"]
    master, slave = pty.openpty()
    if shell == "fish":  # a prompt of its own, not the default one that asks git
        argv[-1:-1] = ["-C", "function fish_prompt; echo '$ '; end; function fish_greeting; end"]
    def controlling_terminal() -> None:  # a session of its own, with the pseudo-terminal as its terminal
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=str(tmp_path),
                            env=dict(env, PS1="$ ", ENV="", **({"TERM": "xterm"} if shell == "fish" else {})),
                            preexec_fn=controlling_terminal)  # (ksh93 runs tput at start when TERM is set)
    os.close(slave)
    os.write(master, (commands + "\nexit\n").encode())
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                break
    proc.wait(timeout=30)
    os.close(master)
    return log.read_text()


@pytest.mark.parametrize("shell", SHELLS)
def test_no_process_at_all_at_login_and_at_the_prompt(shell, tmp_path, login, root_ca):
    """strace on an interactive shell: after the shell's own execve, the login line and the prompt
    function start nothing (no fork, clone or execve), and the shell has the token's exports."""
    env, _starts_log, cert = login
    # Half a minute away from a change of the segment either way: "2d 5h 30m" for the shell and for jenv.
    _put_token(root_ca, cert, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2, hours=5, minutes=30, seconds=30))
    _prepare(env, shell)
    out = tmp_path / "seen"
    prompt = "" if shell == "ksh" else "jenv_prompt_update\n"
    segment = "$JENV_PROMPT_SEGMENT" if shell == "fish" else "${JENV_PROMPT_SEGMENT:-}"
    commands = _line(shell) + "\n" + prompt + f'printf "%s|%s\\n" "$JALIEN_TOKEN_CERT" "{segment}" > "{out}"'
    trace = _strace_interactive(shell, tmp_path, env, commands)
    # Processes, not the threads of the shell itself (fish has a pool of them): no CLONE_THREAD.
    calls = [row for row in trace.splitlines()
             if re.search(r"\b(execve|clone3?|v?fork)\(", row) and "CLONE_THREAD" not in row]
    assert len(calls) == 1 and "execve(" in calls[0], calls  # the shell itself
    seen_cert, _, segment = out.read_text().rstrip("\n").partition("|")
    assert seen_cert == str(cert)
    if prompt:
        assert segment == run_jenv(["prompt"], env).stdout


# --- the mutation table: whatever changes, the outcome is that of `jenv token` ------------------------

OTHER_UID = 4321


def _plant_as_other_uid(fresh: Path, tmp_path: Path) -> None:
    """Another user writes a valid-looking line (as that uid, setpriv), and it ends up in place."""
    staging = Path(tempfile.mkdtemp(dir=tmp_path.anchor + "tmp"))  # reachable by the other uid
    try:
        staging.chmod(0o777)
        planted = staging / "line"
        subprocess.run(["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups", "sh", "-c",
                        'umask 077; cat > "$1"', "sh", str(planted)], input=fresh.read_bytes(), check=True)
        assert planted.stat().st_uid == OTHER_UID
        shutil.move(str(planted), str(fresh))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace_line(fresh: Path, data: bytes) -> None:
    """The line replaced by its owner, who also puts its mtime back (the seal holds: the shell must judge
    the content itself)."""
    before = fresh.stat()
    fresh.unlink()
    fresh.write_bytes(data)
    fresh.chmod(0o600)
    os.utime(fresh, ns=(before.st_atime_ns, before.st_mtime_ns))


def _write_as_other_uid(fresh: Path, data: bytes) -> None:
    """Another uid writes ``data`` into the line the user made 0666 (through a descriptor: the way it reaches
    the file is not the point, the mtime its write leaves is), and fails to put the old mtime back."""
    fresh.chmod(0o666)
    mtime = fresh.stat().st_mtime_ns
    fd = os.open(fresh, os.O_WRONLY | os.O_TRUNC)
    try:
        other = ["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups", "sh", "-c"]
        subprocess.run(other + [f"cat > /proc/self/fd/{fd}"], input=data, pass_fds=(fd,), check=True)
        touch = subprocess.run(other + [f"touch -c -d @{mtime // 10**9} /proc/self/fd/{fd}"], pass_fds=(fd,),
                               capture_output=True)
        assert touch.returncode != 0, "only the owner may choose a file's mtime"
    finally:
        os.close(fd)
    assert fresh.stat().st_mtime_ns != mtime


def _fields(fresh: Path):
    return fresh.read_bytes().rstrip(b"\n").split(b"\t")


def _with_field(fresh: Path, index: int, value: bytes) -> None:
    fields = _fields(fresh)
    fields[index] = value
    _replace_line(fresh, b"\t".join(fields) + b"\n")


def _mutate(name: str, env: Dict[str, str], cert: Path, root_ca, tmp_path: Path, mark: Path) -> Dict[str, str]:
    """Apply mutation ``name`` after the first login; the environment the next login runs in."""
    key = cert.with_name(cert.name.replace("tokencert", "tokenkey"))
    fresh = _fresh(env)
    now = dt.datetime.now(dt.timezone.utc)
    payload = f"$(touch {mark})`touch {mark}`;touch {mark}".encode()
    if name == "rewritten, a day less":
        _put_token(root_ca, cert, now + dt.timedelta(days=364))
    elif name == "renamed over":
        leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", not_after=now + dt.timedelta(days=200))
        for path, data in ((cert, leaf.cert_pem), (key, leaf.key_pem(fmt="traditional"))):
            temp = path.with_name(path.name + ".new")
            temp.write_bytes(data)
            temp.chmod(0o400)
            os.replace(temp, path)
    elif name == "cert deleted":
        cert.unlink()
    elif name == "key deleted":
        key.unlink()
    elif name == "token-destroy":
        assert run_jenv(["token-destroy"], env).returncode == 0
    elif name == "deadline passed":
        _put_token(root_ca, cert, now + dt.timedelta(seconds=600 + 3))
        _prepare_token(env)
        time.sleep(max(0.0, int(_fields(fresh)[7]) + 1.2 - time.time()))
    elif name == "TMPDIR changed":
        other = tmp_path / "other-tmp"
        other.mkdir(mode=0o700)
        env = dict(env, TMPDIR=str(other))
    elif name == "JALIEN_TOKEN_CERT set":
        env = dict(env, JALIEN_TOKEN_CERT=str(tmp_path / "elsewhere.pem"))
    elif name == "another host, same HOME":
        env = dict(env, JENV_TEST_HOSTNAME="jenv-other-node")
    elif name == "planted by another uid":
        _plant_as_other_uid(fresh, tmp_path)
    elif name.startswith("made 0"):
        fresh.chmod(int(name.split()[1], 8))
    elif name.startswith("directory 0"):
        fresh.parent.chmod(int(name.split()[1], 8))
    elif name == "symbolic link":
        copy = fresh.with_name("copy")
        copy.write_bytes(fresh.read_bytes())
        copy.chmod(0o600)
        fresh.unlink()
        fresh.symlink_to(copy)
    elif name == "FIFO":
        fresh.unlink()
        os.mkfifo(fresh, 0o600)
    elif name == "metacharacters in the paths":
        _with_field(fresh, 3, str(cert).encode() + payload)
    elif name == "metacharacters in the numbers":
        _with_field(fresh, 7, b"a[$(touch " + str(mark).encode() + b")]")
    elif name == "metacharacters in the host":
        _with_field(fresh, 2, payload)
    elif name == "a newline":
        data = fresh.read_bytes()
        _replace_line(fresh, data[:40] + b"\n" + data[40:])
    elif name == "a 1 MB line":
        _replace_line(fresh, fresh.read_bytes().rstrip(b"\n") + b"\t" + b"A" * (1 << 20) + b"\n")
    elif name == "binary bytes":
        _replace_line(fresh, os.urandom(4096).replace(b"\n", b"\x00") + b"\n")
    elif name == "written by another uid (0666)":  # a later "until": seen by the seal, in every shell
        _write_as_other_uid(fresh, b"\t".join(_fields(fresh)[:7] + [b"4102444800"]) + b"\n")
    elif name == "a ninth field":
        _replace_line(fresh, fresh.read_bytes().rstrip(b"\n") + b"\textra\n")
    else:
        raise AssertionError(name)
    return env


#: The line's file, or ~/.cache/jenv, opened to other users.
OPEN_MODES = ("made 0644", "made 0666", "made 0604", "made 0620", "directory 0755", "directory 0777")
MUTATIONS = ["rewritten, a day less", "renamed over", "cert deleted", "key deleted", "token-destroy",
             "deadline passed", "TMPDIR changed", "JALIEN_TOKEN_CERT set", "another host, same HOME",
             "planted by another uid", *OPEN_MODES, "symbolic link", "FIFO", "metacharacters in the paths",
             "metacharacters in the numbers", "metacharacters in the host", "a newline", "a 1 MB line",
             "binary bytes", "a ninth field", "written by another uid (0666)"]
#: What bash, ksh and fish cannot see without a process: the mode bits (zsh reads them with zsh/stat).  The
#: next jenv that looks at the token removes such a line (tests/system/shells/test_fresh_modes.py).
UNSEEN = {"bash": set(OPEN_MODES), "ksh": set(OPEN_MODES), "fish": set(OPEN_MODES), "zsh": set()}


def _prepare_token(env: Dict[str, str]) -> None:
    assert run_jenv(["token", "--shell", "sh"], env).returncode == 0


def _in_host(env: Dict[str, str], argv):
    """``argv`` in a UTS namespace named JENV_TEST_HOSTNAME when the test asks for another host name."""
    name = env.get("JENV_TEST_HOSTNAME")
    if not name:
        return argv
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name, *argv]


def _outcome(shell: str, tmp_path: Path, env: Dict[str, str], line: str):
    """(the token variables, stderr) after ``line`` in ``shell``, printed by the shell itself."""
    out = tmp_path / "vars"
    out.unlink(missing_ok=True)
    script = tmp_path / f"outcome.{shell}"
    script.write_text(("" if shell == "fish" else "set -eu\n") + line + "\n"
                      + _dump(shell, ("JALIEN_TOKEN_CERT", "JALIEN_TOKEN_KEY"), out))
    proc = subprocess.run(_in_host(env, [require_shell(shell), *FLAGS[shell], str(script)]), env=env,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=str(tmp_path))
    return (out.read_text() if out.exists() else ""), proc.stderr.decode()


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("shell", SHELLS)
def test_the_outcome_is_that_of_jenv_token(shell, mutation, tmp_path, login, root_ca):
    env, starts, cert = login
    env = dict(env, JENV_RETRY_AFTER="0")
    _prepare(env, shell)
    mark = tmp_path / "EXECUTED"
    env = _mutate(mutation, env, cert, root_ca, tmp_path, mark)
    before = _starts(starts)
    got = _outcome(shell, tmp_path, env, _line(shell))
    ran_jenv = _starts(starts) - before
    want = _outcome(shell, tmp_path, env, TOKEN_LINE.get(shell, 'eval "$(jenv token --shell sh)"'))
    assert got == want
    assert not mark.exists()
    assert ran_jenv == (0 if mutation in UNSEEN[shell] else 1)


@pytest.mark.parametrize("shell", SHELLS)
def test_the_one_case_the_shell_cannot_see_is_judged_by_the_next_jenv(shell, tmp_path, login, root_ca):
    """Another token copied in with the very same mtime to the nanosecond (as ``cp -p`` of a copy of the
    same file makes): the shell sees the same name, owner and mtime and takes it (here an expired
    certificate, not even the key's).
    The next jenv process compares inode and change time too, judges the file again, says what is wrong
    (here: the key does not belong to it), and removes the line, so the login after that runs jenv again."""
    env, starts, cert = login
    env = dict(env, JENV_RETRY_AFTER="0")
    _prepare(env, shell)
    before = cert.stat()
    leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe",
                         not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2),
                         not_after=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1))
    copy = tmp_path / "copy.pem"
    copy.write_bytes(leaf.cert_pem)
    copy.chmod(0o400)
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(copy, cert)
    assert cert.stat().st_mtime_ns == before.st_mtime_ns and cert.stat().st_ino != before.st_ino
    count = _starts(starts)
    proc, found = _run_login(shell, tmp_path, env)
    assert found["JALIEN_TOKEN_CERT"] == str(cert) and _starts(starts) == count  # not seen by the shell
    judged = run_jenv(["token", "--shell", "sh"], env)
    assert judged.returncode != 0 and judged.stderr.count("\n") == 1, judged.stderr
    assert not _fresh(env).exists()
    proc, found = _run_login(shell, tmp_path, {k: v for k, v in env.items()})
    assert _starts(starts) == count + 1 and found["JALIEN_TOKEN_CERT"] is None
    assert proc.stderr.decode() == judged.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_the_private_tmpdir_of_lxplus_like_nodes_is_exported_too(shell, tmp_path, login, root_ca):
    """JENV_PRIVATE_TMP=1 and no TMPDIR: the login exports the 0700 directory under $HOME that jenv made,
    and the token there, without jenv once the token is fresh."""
    env, starts, _cert = login
    env = {k: v for k, v in env.items() if k != "TMPDIR"}
    env["JENV_PRIVATE_TMP"] = "1"
    chosen = Path(env["HOME"]) / ".cache" / "jenv" / "tmp"
    run_jenv(["hook", shell], env)  # makes the directory (no token there yet)
    cert = chosen / f"tokencert_{os.getuid()}.pem"
    _put_token(root_ca, cert, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    _prepare(env, shell)
    count = _starts(starts)
    proc, found = _run_login(shell, tmp_path, env)
    assert proc.stderr == b"" and _starts(starts) == count
    assert found == {"JALIEN_TOKEN_CERT": str(cert), "JALIEN_TOKEN_KEY": str(cert).replace("tokencert", "tokenkey"),
                     "TMPDIR": str(chosen)}


def _user_cert(root_ca, tmp_path: Path, env: Dict[str, str], days: float) -> Dict[str, str]:
    leaf = root_ca.issue("/C=ch/O=jenv-test/OU=Users/CN=jdoe",
                         not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days))
    (tmp_path / "usercert.pem").write_bytes(leaf.cert_pem)
    return dict(env, X509_USER_CERT=str(tmp_path / "usercert.pem"))


@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_the_user_certificate_notice_still_comes_from_jenv(shell, tmp_path, login, root_ca):
    """Within 30 days of the user certificate's end jenv prints a notice at login, which only jenv can:
    there is no fresh line then, and every login runs jenv, which says it.  Before that the line holds
    until the notice starts, not until the token's end."""
    env, starts, cert = login
    early = _user_cert(root_ca, tmp_path, env, 45)
    _prepare(early, shell)
    user_end = int(dt.datetime.now(dt.timezone.utc).timestamp() + 45 * 86400)
    assert abs(int(_fields(_fresh(env))[7]) - (user_end - 30 * 86400)) <= 5
    late = _user_cert(root_ca, tmp_path, env, 5)
    run_jenv(["token", "--shell", "sh"], late)
    assert not _fresh(env).exists()
    count = _starts(starts)
    proc, found = _run_login(shell, tmp_path, late)
    assert _starts(starts) == count + 1 and found["JALIEN_TOKEN_CERT"] == str(cert)
    assert "user certificate" in proc.stderr.decode() and proc.stderr.decode().count("\n") == 1


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_prompt_function_asks_jenv_once_after_a_change(shell, tmp_path, login, root_ca):
    """A token renewed elsewhere (alien.py's rewrite): the next prompt runs ``jenv prompt`` once, which
    leaves the line again, and the prompts after it start nothing and show what jenv shows."""
    env, starts, cert = login
    _prepare(env, shell)
    key = cert.with_name(cert.name.replace("tokencert", "tokenkey"))
    leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", not_after=dt.datetime.now(dt.timezone.utc)
                         + dt.timedelta(days=3, minutes=30, seconds=30))
    for path, data in ((tmp_path / "cert.next", leaf.cert_pem),
                       (tmp_path / "key.next", leaf.key_pem(fmt="traditional"))):
        path.write_bytes(data)
        path.chmod(0o400)
    out = tmp_path / "segments"
    update = f'jenv_prompt_update; printf "%s\\n" "$JENV_PROMPT_SEGMENT" >> "{out}"\n'
    renew = f'rm -f "{cert}" "{key}"; mv "{tmp_path / "cert.next"}" "{cert}"; mv "{tmp_path / "key.next"}" "{key}"\n'
    count = _starts(starts)
    proc = run_script(shell, _line(shell) + "\n" + update + renew + update * 3, tmp_path, env)
    assert proc.stderr == b""
    assert _starts(starts) == count + 1  # one jenv prompt, at the first prompt after the change
    segments = out.read_text().splitlines()
    assert segments[0].startswith(("364d ", "365d ")) and segments[1:] == [run_jenv(["prompt"], env).stdout] * 3


@pytest.mark.parametrize("shell", SHELLS)
def test_a_login_file_of_another_user_is_never_sourced(shell, tmp_path, login):
    """The login line sources ~/.cache/jenv/login.<shell> only when it is the user's own (-O): one that
    another uid planted there is not run, and the line runs jenv as without it."""
    env, starts, cert = login
    _prepare(env, shell)
    mark = tmp_path / "EXECUTED"
    login_file = Path(env["HOME"]) / ".cache" / "jenv" / f"login.{shell}"
    login_file.write_text(f"touch {mark}\n")
    os.chown(login_file, OTHER_UID, OTHER_UID)
    count = _starts(starts)
    proc, found = _run_login(shell, tmp_path, env)
    assert not mark.exists() and proc.stderr == b""
    assert found["JALIEN_TOKEN_CERT"] == str(cert) and _starts(starts) == count + 1


@pytest.mark.parametrize("broken", ["owned by another uid", "a symbolic link", "removed"])
def test_the_next_jenv_repairs_a_reference_file(broken, tmp_path, login):
    """A reference file the shells cannot use sends one login to jenv, which makes it again: the login
    after that starts nothing."""
    env, starts, cert = login
    _prepare(env, "bash")
    ref = _fresh(env).with_name(_fresh(env).name + ".cert")
    if broken == "owned by another uid":
        os.chown(ref, OTHER_UID, OTHER_UID)
    elif broken == "a symbolic link":
        ref.unlink()
        ref.symlink_to(cert)
    else:
        ref.unlink()
    count = _starts(starts)
    for expected in (count + 1, count + 1):
        proc, found = _run_login("bash", tmp_path, env)
        assert proc.stderr == b"" and found["JALIEN_TOKEN_CERT"] == str(cert) and _starts(starts) == expected
