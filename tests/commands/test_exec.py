"""`jenv exec -- <command>`: a job-like child with the token, its exit status and its signals.

A process per test, because signals are sent to jenv while its child runs.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from support.launcher import run_jenv, run_on_pty, scan

pytestmark = pytest.mark.slow

JOB_ENV = ("PATH", "HOME", "TMPDIR", "X509_USER_CERT", "X509_USER_KEY", "X509_CERT_DIR", "ALIENPY_JCENTRAL",
           "ALIENPY_JCENTRAL_PORT", "JENV_TIMEOUT")

#: A child that reports its environment and then runs jenv's own token check.
DUMP_ENV = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def job_like(env: Dict[str, str]) -> Dict[str, str]:
    """What a batch system hands a job: a few variables, nothing else."""
    return {name: env[name] for name in JOB_ENV if name in env}


def test_a_job_like_child_gets_the_token_and_the_ca_store(env, tmp_path):
    dump = tmp_path / "env.json"
    result = run_jenv(["exec", "--", sys.executable, "-c", DUMP_ENV, str(dump)], job_like(env))
    assert result.returncode == 0, result.stderr
    seen = json.loads(dump.read_text())
    token = Path(env["TMPDIR"])
    assert seen["JALIEN_TOKEN_CERT"] == str(token / f"tokencert_{os.getuid()}.pem")
    assert seen["JALIEN_TOKEN_KEY"] == str(token / f"tokenkey_{os.getuid()}.pem")
    assert seen["X509_CERT_DIR"] == env["X509_CERT_DIR"]
    # What the command gets is enough on its own: a child with an empty environment but those three.
    job = ('env -i PATH="$PATH" JALIEN_TOKEN_CERT="$JALIEN_TOKEN_CERT" JALIEN_TOKEN_KEY="$JALIEN_TOKEN_KEY" '
           f'X509_CERT_DIR="$X509_CERT_DIR" {sys.executable} -m jenv token-verify')
    verify = run_jenv(["exec", "--", "sh", "-c", job], job_like(env))
    assert verify.returncode == 0 and "verify      OK" in verify.stdout, verify.stdout + verify.stderr
    unexported = run_jenv(["exec", "--", "sh", "-c", job.replace('X509_CERT_DIR="$X509_CERT_DIR" ', "")],
                          job_like(env))
    assert unexported.returncode != 0  # the negative twin: without the CA location it cannot verify


def test_the_child_gets_back_the_core_file_limit(env, tmp_path):
    """jenv lowers its own core-file limit while it holds the key; a batch job's crash still leaves its core."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY or hard >= 1 << 20 else hard
    probe = "import resource; print(resource.getrlimit(resource.RLIMIT_CORE)[0])"
    argv = [sys.executable, "-m", "jenv", "exec", "--", sys.executable, "-c", probe]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (wanted, hard)))
    scan(argv, proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{wanted}\n"


def test_the_exit_status_is_the_childs(env):
    assert run_jenv(["exec", "--", "sh", "-c", "exit 42"], env).returncode == 42
    assert run_jenv(["exec", "--", "true"], env).returncode == 0


def test_a_missing_command_is_one_line_and_costs_no_token(env, svc):
    assert run_jenv(["token-destroy"], env).returncode == 0
    requests = svc.token_requests
    result = run_jenv(["exec", "--", "no-such-command-jenv"], env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("jenv: ")
    assert svc.token_requests == requests


def as_content(env: Dict[str, str]) -> Dict[str, str]:
    """``env`` with the token given as PEM content instead of files."""
    token = Path(env["TMPDIR"])
    return dict(env, JALIEN_TOKEN_CERT=(token / f"tokencert_{os.getuid()}.pem").read_text(),
                JALIEN_TOKEN_KEY=(token / f"tokenkey_{os.getuid()}.pem").read_text())


#: Prints its pid and the signals it starts with ignored (SigIgn of /proc/self/status, a hex mask); not
#: Python, which ignores SIGPIPE and SIGXFSZ itself.
WHO_AM_I = ["sh", "-c", "echo $$; exec sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status"]


@pytest.mark.parametrize("scrub", [False, True], ids=["token files", "--scrub"])
def test_with_nothing_to_clean_up_jenv_becomes_the_command(env, scrub):
    """Token files (or --scrub): jenv execs the command, so a batch system's SIGKILL, or any signal,
    is the command's own, and nothing is left running. SIGPIPE, which Python ignores, is not passed on
    ignored. With PEM content jenv must stay, to remove the private files (the tests below)."""
    argv = [sys.executable, "-m", "jenv", "exec", *(["--scrub"] if scrub else []), "--", *WHO_AM_I]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=60)
    scan(argv, out, err)
    assert proc.returncode == 0, err
    pid, ignored = out.split()
    assert int(pid) == proc.pid
    assert not int(ignored, 16) & (1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1))


def test_with_pem_content_jenv_stays_the_parent(env):
    argv = [sys.executable, "-m", "jenv", "exec", "--", *WHO_AM_I]
    proc = subprocess.Popen(argv, env=as_content(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=60)
    scan(argv, out, err)
    assert proc.returncode == 0, err
    assert int(out.split()[0]) != proc.pid


def test_pem_content_goes_through_private_files_that_end_with_the_child(env, tmp_path):
    content = as_content(env)
    probe = ("import json, os, stat, sys\n"
             "p = {n: os.environ[n] for n in ('JALIEN_TOKEN_CERT', 'JALIEN_TOKEN_KEY')}\n"
             "modes = {n: [stat.S_IMODE(os.stat(v).st_mode), stat.S_IMODE(os.stat(os.path.dirname(v)).st_mode)]"
             " for n, v in p.items()}\n"
             "json.dump({'paths': p, 'modes': modes}, open(sys.argv[1], 'w'))\n"
             "os.execvp(sys.executable, [sys.executable, '-m', 'jenv', 'tokenkey-match'])\n")
    dump = tmp_path / "seen.json"
    result = run_jenv(["exec", "--", sys.executable, "-c", probe, str(dump)], content)
    assert result.returncode == 0, result.stderr
    seen = json.loads(dump.read_text())
    for name, path in seen["paths"].items():
        assert seen["modes"][name] == [0o600, 0o700]
        assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path)), name


#: The child: records the signals it gets (the first, and a second one right behind it), exits 64 + the
#: first.  It holds the signals it watches and waits for them with sigtimedwait: a handler and a sleep
#: would miss one that comes between the last check and the start of the sleep (CPython checks for
#: signals between bytecodes, so the sleep would run its full length).  argv: record, ready, signals.
RECORDER = """
import os, signal, sys
record, ready = sys.argv[1], sys.argv[2]
watched = {int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "2,15,1").split(",")}
signal.pthread_sigmask(signal.SIG_BLOCK, watched)
open(ready + ".part", "w").write(os.environ.get("JALIEN_TOKEN_KEY", ""))  # where the key is, for the test
os.rename(ready + ".part", ready)
print("READY", flush=True)
first = signal.sigtimedwait(watched, 120)
if first is None:
    sys.exit(1)
second = signal.sigtimedwait(watched, 0.5)  # a doubled signal: passed on on top of the terminal's
open(record, "w").write("".join(f"{info.si_signo}\\n" for info in (first, second) if info))
sys.exit(64 + first.si_signo)
"""


@pytest.fixture(params=["token files", "PEM content"])
def either(request, env):
    """The environment of both ways jenv exec runs a command: exec'd in place (token files) and as its
    child (PEM content, with signals passed on)."""
    return env if request.param == "token files" else as_content(env)


def _start(env, tmp_path, code: str, *extra: str):
    """jenv exec running ``code`` (argv: record, ready, ``extra``), once the command has created ``ready``:
    (the process, the record file, the ready file)."""
    record, ready = tmp_path / "record", tmp_path / "ready"
    argv = [sys.executable, "-m", "jenv", "exec", "--", sys.executable, "-c", code, str(record), str(ready), *extra]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    return proc, record, ready


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signals_reach_the_child_and_its_status_comes_back(either, tmp_path, signum):
    proc, record, _ready = _start(either, tmp_path, RECORDER)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    scan(["exec"], out, err)
    assert record.read_text() == f"{int(signum)}\n"  # once: passed on, not doubled
    assert proc.returncode == 64 + signum, err


def test_ctrl_c_at_a_terminal_reaches_the_child_once(either, tmp_path):
    """The terminal sends SIGINT to the whole foreground group, the child included: jenv does not add a second."""
    record, ready = tmp_path / "record", tmp_path / "ready"
    result = run_on_pty([sys.executable, "-m", "jenv", "exec", "--", sys.executable, "-c", RECORDER, str(record),
                         str(ready)], either, answers=[b"\x03"], prompt=b"READY")
    assert record.read_text() == f"{int(signal.SIGINT)}\n", result.output
    assert result.returncode == 64 + signal.SIGINT, result.output


#: What a batch system, a user or the kernel sends to end or warn a job, as a class: every signal that
#: ends a process by default (core-dumping ones included), the ones ignored by default, real-time ones.
#: Only SIGKILL and SIGSTOP cannot be passed on; stop signals and SIGCONT have a test of their own.
EVERY_SIGNAL = [s for s in signal.Signals if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGTSTP,
                                                       signal.SIGTTIN, signal.SIGTTOU, signal.SIGCONT)
                and s.name not in ("SIGIOT", "SIGPOLL", "SIGCLD")] + [signal.SIGRTMIN, signal.SIGRTMAX]


def _copy_is_gone(ready: Path) -> bool:
    """Whether the private key copy the command was given (written by RECORDER into ``ready``), and its
    directory, are gone."""
    key = ready.read_text()
    assert key.startswith("/"), key
    return not os.path.exists(key) and not os.path.exists(os.path.dirname(key))


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("signum", EVERY_SIGNAL, ids=lambda s: signal.Signals(s).name)
def test_every_signal_reaches_the_command_and_the_private_copies_go(env, tmp_path, signum):
    """Issue 20.6: with PEM content jenv stays as the parent; SIGUSR1, SIGQUIT, SIGXCPU, SIGALRM & co. used
    to end jenv, which SIGKILLed the command (its traps never ran) and left the key copy behind.  Now the
    command gets the signal once, its status comes back, and the private copies are removed."""
    proc, record, ready = _start(as_content(env), tmp_path, RECORDER, str(int(signum)))
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    scan(["exec"], out, err)
    assert record.read_text() == f"{int(signum)}\n", err
    assert proc.returncode == 64 + signum, err
    assert err == "" and _copy_is_gone(ready)


DIES_BY = [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM,
           signal.SIGXCPU]


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_sigint_sent_to_jenv_alone_at_a_terminal_is_passed_on(env, tmp_path):
    """At a terminal, a SIGINT that kill(2) sent to jenv alone (here by the command itself) is passed on:
    only the terminal's own Ctrl-C, which reaches the whole group, is not (the test above)."""
    record, ready = tmp_path / "record", tmp_path / "ready"
    code = RECORDER.replace('print("READY", flush=True)', 'os.kill(os.getppid(), signal.SIGINT)')
    result = run_on_pty([sys.executable, "-m", "jenv", "exec", "--", sys.executable, "-c", code, str(record),
                         str(ready)], as_content(env))
    assert record.read_text() == f"{int(signal.SIGINT)}\n", result.output
    assert result.returncode == 64 + signal.SIGINT, result.output


@pytest.mark.parametrize("signum", DIES_BY, ids=lambda s: s.name)
def test_a_child_ended_by_a_signal_ends_jenv_by_it(either, tmp_path, signum):
    """The command has no trap: the signal passed on ends it, then jenv ends by the same signal, the
    private copies (PEM content) removed first."""
    plain = ("import os, sys, time; open(sys.argv[2] + '.part', 'w').write(os.environ['JALIEN_TOKEN_KEY']); "
             "os.rename(sys.argv[2] + '.part', sys.argv[2]); time.sleep(120)")
    proc, _record, ready = _start(either, tmp_path, plain)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    scan(["exec"], out, err)
    assert proc.returncode == -signum and err == ""
    if either.get("JALIEN_TOKEN_KEY", "").startswith("-----"):
        assert _copy_is_gone(ready)


#: A job-control shell in a few lines: the command line in a process group of its own, its parent in another
#: group of the same session (the kernel discards a stop signal sent to an orphaned group).
JOB = """
import os, sys
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.execv(sys.argv[1], sys.argv[1:])
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) & 0xFF)
"""


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_sigtstp_stops_the_command_and_jenv_and_sigcont_goes_on(env, tmp_path):
    """With PEM content: SIGTSTP sent to jenv (a batch system's suspend, `kill -TSTP`) stops the command,
    then jenv; SIGCONT sent to jenv continues both; a SIGTERM after that still reaches the command."""
    record, ready = tmp_path / "record", tmp_path / "ready"
    argv = [sys.executable, "-c", JOB, sys.executable, "-m", "jenv", "exec", "--", sys.executable, "-c", RECORDER,
            str(record), str(ready)]
    proc = subprocess.Popen(argv, env=as_content(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    groups = [proc.pid]
    try:
        _wait_for(ready.exists, "the command never started")
        (jenv_pid,) = _children(proc.pid)
        groups.append(jenv_pid)
        (command,) = _children(jenv_pid)
        os.kill(jenv_pid, signal.SIGTSTP)
        _wait_for(lambda: _state(command).startswith("T") and _state(jenv_pid).startswith("T"),
                  "SIGTSTP did not stop the command and jenv")
        os.kill(jenv_pid, signal.SIGCONT)
        _wait_for(lambda: not _state(command).startswith("T") and not _state(jenv_pid).startswith("T"),
                  "SIGCONT did not continue the command and jenv")
        os.kill(jenv_pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        for group in groups:
            with contextlib.suppress(OSError):
                os.killpg(group, signal.SIGKILL)
    scan(argv, out, err)
    assert record.read_text() == f"{int(signal.SIGTERM)}\n" and proc.returncode == 64 + signal.SIGTERM, err


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_a_signal_while_the_command_starts_is_passed_on(env, tmp_path):
    """Issue 20.17: a signal that reaches jenv after it forked the command and before it knows the command's
    pid (the fork and exec of subprocess) was dropped, so under load a SIGTERM sent as the command started
    was lost (the command then ran on, and jenv with it).  strace holds the command in PR_SET_PDEATHSIG
    (before its exec) for a few seconds; the SIGTERM sent to jenv meanwhile must reach the command once it
    runs."""
    wrapper = ["strace", "-f", "--seccomp-bpf", "-qq", "-o", "/dev/null", "-e", "trace=prctl", "-e", "inject=prctl:delay_exit=3000000"]
    record, ready = tmp_path / "record", tmp_path / "ready"
    argv = [*wrapper, sys.executable, "-m", "jenv", "exec", "--", sys.executable, "-c", RECORDER, str(record),
            str(ready)]
    proc = subprocess.Popen(argv, env=as_content(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        jenv_pid, child = _held_in_prctl(proc)
        os.kill(jenv_pid, signal.SIGTERM)
        assert _state(child).startswith("t"), "the command left prctl before the signal: the window was missed"
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(OSError):
            proc.kill()
    if "Operation not permitted" in err and "ptrace" in err:
        pytest.skip(f"strace cannot trace here: {err.strip()}")
    scan(argv, out, err)
    # The command got it: either before it set its trap (it died by it, and so did jenv), or after.
    got = record.read_text() if record.exists() else None
    assert (proc.returncode, got) in ((-signal.SIGTERM, None), (64 + signal.SIGTERM, f"{int(signal.SIGTERM)}\n")), \
        (proc.returncode, got, err)


def _state(pid: int) -> str:
    """The State field of /proc/<pid>/status ("" when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split(None, 1)[1]
    except OSError:
        pass
    return ""


def _children(pid: int) -> List[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _held_in_prctl(tracer: subprocess.Popen) -> Tuple[int, int]:
    """(jenv's pid, its child's) once the child sits in strace's delayed prctl: stopped by the tracer, not
    yet the command."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and tracer.poll() is None:
        for jenv_pid in _children(tracer.pid):
            for child in _children(jenv_pid):
                if _state(child).startswith("t"):
                    return jenv_pid, child
        time.sleep(0.01)
    pytest.fail(f"jenv never started its command under strace: {tracer.communicate(timeout=30)}")


def test_scrub_removes_every_grid_credential_and_keeps_the_rest(home, tmp_path):
    from support.launcher import clean_env

    names = ["JALIEN_TOKEN_CERT", "JALIEN_TOKEN_KEY", "X509_USER_CERT", "X509_USER_KEY", "X509_USER_PROXY"]
    copies = ["APPTAINERENV_JALIEN_TOKEN_KEY", "APPTAINERENV_X509_USER_PROXY", "SINGULARITYENV_JALIEN_TOKEN_CERT",
              "SINGULARITYENV_X509_USER_KEY", "X509_USER_OTHER"]
    env = clean_env(home, **{name: f"/nowhere/{name}" for name in names + copies},
                    X509_CERT_DIR="/etc/grid-security", APPTAINERENV_OTHER="kept", JALIEN_HOST="kept")
    dump = tmp_path / "env.json"
    result = run_jenv(["exec", "--scrub", "--", sys.executable, "-c", DUMP_ENV, str(dump)], env)
    assert result.returncode == 0, result.stderr  # no token anywhere, none needed
    seen = json.loads(dump.read_text())
    assert [name for name in copies if name in seen] == []
    # the credential variables lead to names that do not exist in the command's own private TMPDIR
    private = Path(seen["TMPDIR"])
    assert private.parent == Path(env["TMPDIR"]) and private.name.startswith(f"jenv-scrub-{os.getuid()}-")
    for name in names:
        assert Path(seen[name]).parent == private, name
    assert len({seen[name] for name in names}) == len(names)
    assert seen["X509_CERT_DIR"] == "/etc/grid-security" and seen["APPTAINERENV_OTHER"] == "kept"
    assert seen["JALIEN_HOST"] == "kept" and seen["HOME"] == str(home)


def test_the_scrubbed_tmpdir_is_private_empty_and_lasts_as_long_as_the_command(home, tmp_path):
    """The remover waits for the command and for what it started in the background (they hold the
    descriptor), and a link the command leaves there is removed, not followed."""
    from support.launcher import clean_env

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "file").write_text("mine")
    script = ('stat -c %a "$TMPDIR" > "$1/mode"; ls -A "$TMPDIR" > "$1/listing"; ln -s "$1/kept" "$TMPDIR/link"; '
              'echo "$TMPDIR" > "$1/tmpdir"; (sleep 1; [ -d "$TMPDIR" ] && touch "$1/still-there") &')
    result = run_jenv(["exec", "--scrub", "--", "sh", "-c", script, "sh", str(tmp_path)], clean_env(home))
    assert result.returncode == 0, result.stderr
    private = (tmp_path / "tmpdir").read_text().strip()
    assert (tmp_path / "mode").read_text() == "700\n" and (tmp_path / "listing").read_text() == ""
    deadline = time.monotonic() + 30
    while os.path.exists(private) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists(private)
    assert (tmp_path / "still-there").exists()  # the background job had it until it ended
    assert (kept / "file").read_text() == "mine"


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (no process, or a zombie that nobody has reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_jenv_takes_its_command_along_with_pem_content(env, tmp_path):
    """With PEM content jenv stays as the parent (to remove the private files); if it is SIGKILLed, as a
    batch system ends a job, its command ends too, as it does when the command took jenv's place."""
    pid_file = tmp_path / "pid"
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
    argv = [sys.executable, "-m", "jenv", "exec", "--", sys.executable, "-c", code, str(pid_file)]
    proc = subprocess.Popen(argv, env=as_content(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # no pipes: the command would hold them open
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    child = int(pid_file.read_text())
    assert child != proc.pid and not _gone(child)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert _gone(child), "the command outlived a SIGKILLed jenv"
    finally:
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)


ALIENPY_BIN = Path(sys.executable).parent

#: alien.py's whoami through alienpy's own connection code (AlienConnect picks the credential the way
#: alien.py does), without the session start-up that asks for a command list the local service lacks.
ALIEN_WHOAMI = ("import sys; from alienpy.wb_api import AlienConnect, SendMsg; "
                "ret = SendMsg(AlienConnect(), 'whoami', []); print(ret.ansdict['results'][0]['username']); "
                "sys.exit(ret.exitcode)")


def _scrub_tools():
    """Every tool that looks for a grid credential, and how it says it found one."""
    jenv = [sys.executable, "-m", "jenv"]
    return {
        "alien.py whoami": [sys.executable, "-c", ALIEN_WHOAMI],
        "alien-token-info": [str(ALIENPY_BIN / "alien-token-info")],
        "jenv token --check": [*jenv, "token", "--check"],
        "jenv status": [*jenv, "status"],
    }


@pytest.mark.parametrize("tool", list(_scrub_tools()))
def test_a_scrubbed_command_finds_no_credential_anywhere(env, svc, home, tmp_path, tool):
    """The token in the default files of TMPDIR and the user certificate in ~/.globus: without --scrub
    each tool finds them, with --scrub none finds any (the variables lead into an empty private TMPDIR),
    and that TMPDIR is gone once the command has ended."""
    argv = _scrub_tools()[tool]
    if not os.access(argv[0], os.X_OK):
        pytest.skip("alienpy is not installed")
    globus = home / ".globus"
    globus.mkdir()
    cert, key = env["X509_USER_CERT"], env["X509_USER_KEY"]
    (globus / "usercert.pem").write_bytes(Path(cert).read_bytes())
    (globus / "userkey.pem").write_bytes(Path(key).read_bytes())
    os.chmod(globus / "userkey.pem", 0o400)
    probe = "import os, sys; open(sys.argv[1], 'w').write(os.environ['TMPDIR']); os.execv(sys.argv[2], sys.argv[2:])"
    seen = tmp_path / "tmpdir"
    environ = {name: value for name, value in env.items() if not name.startswith("X509_USER_")}
    environ["PATH"] = os.environ["PATH"]
    plain = subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    scrubbed = run_jenv(["exec", "--scrub", "--", sys.executable, "-c", probe, str(seen), *argv], environ)
    said = scrubbed.stdout + scrubbed.stderr
    if tool == "alien.py whoami":
        assert plain.returncode == 0 and plain.stdout == "jdoe\n", plain.stdout + plain.stderr
        assert scrubbed.returncode != 0 and "jdoe" not in said
        assert "No valid user certificate or token found" in said, said
    elif tool == "alien-token-info":
        assert plain.returncode == 0 and "DN >>>" in plain.stdout
        assert scrubbed.returncode == 2 and "DN >>>" not in said
    elif tool == "jenv token --check":
        assert plain.returncode == 0
        assert scrubbed.returncode == 3 and said == ""  # the silent check for scripts: 3, no token
    else:
        assert "jdoe" in plain.stdout and f"{globus}/usercert.pem" in plain.stdout
        assert "jdoe" not in said and str(globus) not in said, said
        for line in ("user certificate", "user key", "token certificate", "token key"):
            where, verdict = said.split(f"\n{line} ", 1)[1].split("\n")[:2]
            assert verdict.split()[0] == "missing" and seen.read_text() in where, said
    private = seen.read_text()
    assert private != env["TMPDIR"] and not private.startswith(env["TMPDIR"] + "/tokencert")
    deadline = time.monotonic() + 10
    while os.path.exists(private) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists(private), "the private TMPDIR outlived the command"


def test_scrub_without_a_usable_tmpdir_is_one_line(home):
    from support.launcher import clean_env

    result = run_jenv(["exec", "--scrub", "--", "true"], clean_env(home, TMPDIR=str(home / "missing")))
    assert result.returncode == 3 and result.stderr.count("\n") == 1 and "set TMPDIR" in result.stderr, \
        result.stderr
    assert run_jenv(["exec", "--scrub", "--", "true"], clean_env(home)).returncode == 0
