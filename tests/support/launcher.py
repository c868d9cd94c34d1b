"""Helpers every test directory uses: run the real ``jenv`` (also on a pseudo-terminal) and scan what it prints.

A module of its own (not conftest.py) so that ``from support.launcher import run_jenv``
means the same thing in every directory: pytest imports each directory's
conftest.py under the one name "conftest".
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

__all__ = ["REPO", "HOSTILE", "Result", "SCANNED", "KEY_MARKERS", "leaked_key_material", "clean_env", "run_jenv",
           "run_in_process", "scan", "leaked_key_bytes",
           "PtyResult", "run_on_pty"]

#: The checkout under test (what a jenv process gets as PYTHONPATH).
REPO = Path(__file__).resolve().parents[2]

#: A hostile string for quoting tests (after virtualenv's special_char_name).
HOSTILE = "'\";&&e-$ èрт🚒♞中片-j `x` \\ ! % * \t"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def clean_env(home: Path, **extra: str) -> Dict[str, str]:
    """A minimal environment with HOME and TMPDIR pointing into a test directory, and XDG_RUNTIME_DIR
    (where jenv remembers its verdicts) a private directory beside the test's own, as on a desktop or
    a systemd login: a test's snapshot of its directory sees the token files, not jenv's memory."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o700)
    runtime = home.parent.parent / f"{home.parent.name}-{home.name}-run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmp),
           "LANG": "C.UTF-8", "JENV_TIMEOUT": "15", "XDG_RUNTIME_DIR": str(runtime),
           # Each run asks JCentral: tests that stop and start services expect it (the memory of a
           # failure has tests of its own, tests/tokens/test_remembered.py).
           "JENV_RETRY_AFTER": "0"}
    env.update(extra)
    return env


#: Every run_jenv call of the session, scanned for key material (see pytest_sessionfinish).
SCANNED = {"runs": 0, "content_runs": 0, "json_documents": 0}

#: Text that only private-key material produces (PEM armour of any key format).
KEY_MARKERS = ("PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED")


#: A PEM body line: 64 base64 characters in a row (key bytes without their armour, as a
#: mistaken message would echo them).
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]{64}")


def leaked_key_material(text: str) -> bool:
    """PEM armour of a private key (certificates and public keys are not secret)."""
    return any(marker in text for marker in KEY_MARKERS)


def leaked_key_bytes(text: str) -> bool:
    """Key armour, or a run of base64 as long as a PEM body line: key bytes a message echoed without their
    armour.  For text that never carries a certificate either (stderr, and stdout outside content modes)."""
    return leaked_key_material(text) or _BASE64_LINE.search(text) is not None


def scan(args: Sequence[str], stdout: str, stderr: str, content_mode: bool = False) -> None:
    """The check every launch of jenv goes through: no traceback, and no private-key material on
    stderr ever, nor on stdout unless the user asked for content (``--content``, ``user <role>``)."""
    assert "Traceback" not in stderr, stderr
    SCANNED["runs"] += 1
    assert not leaked_key_bytes(stderr), f"key material on stderr of jenv {list(args)}"
    if content_mode:
        SCANNED["content_runs"] += 1
    else:
        assert not leaked_key_bytes(stdout), f"key material on stdout of jenv {list(args)}"
    check_json_document(args, stdout)


def _asks_for_json(args: Sequence[str]) -> bool:
    words = list(args)
    return any(word in ("--json", "-json", "--shell=json") or (word == "--shell" and words[index + 1:index + 2] == ["json"])
               for index, word in enumerate(words))


def check_json_document(args: Sequence[str], stdout: str) -> None:
    """Every JSON document jenv prints names its schema and version, and is valid under the schema that
    ships in the package (issue 26.4): a change of shape without a new version fails here, in whichever
    test printed it."""
    import json

    text = stdout.strip()
    try:
        data = json.loads(text) if text.startswith("{") else None
    except ValueError:
        data = None
    if data is None or not isinstance(data, dict):
        assert not (_asks_for_json(args) and text[:1] in ("{", "[")), \
            f"jenv {list(args)} printed JSON that does not parse, or that is not one document"
        return
    if "schema" not in data:
        assert not _asks_for_json(args), f"jenv {list(args)} printed JSON without its schema"
        return
    import jsonschema

    kind, _slash, version = data["schema"].partition("/")
    path = REPO / "jenv" / "data" / "schemas" / f"{kind}.v{version}.json"
    assert path.is_file(), f"jenv {list(args)}: no schema file for {data['schema']}"
    jsonschema.validate(data, json.loads(path.read_text()))
    SCANNED["json_documents"] += 1


def run_in_process(args: Sequence[str], env: Dict[str, str], content_mode: bool = False,
                   uid: Optional[int] = None, clock=None, front: str = "fast") -> Result:
    """jenv in this process, with ``env``, ``uid``, ``clock`` and captured streams (no process start).

    ``front`` is the entrance: "fast" (``jenv.login.main``, what the command runs) or "docopt"
    (``jenv.cli.main``, where every command line that is not a login form goes).
    For commands that neither prompt nor can block (the offline inspection
    commands); anything that reads a terminal, waits or changes process state
    runs through :func:`run_jenv` instead.
    """
    import io

    if front == "fast":
        from jenv.login import main
    else:
        from jenv.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), dict(env), uid=uid, stdout=out, stderr=err, clock=clock)
    scan(args, out.getvalue(), err.getvalue(), content_mode)
    return Result(code, out.getvalue(), err.getvalue())


def run_jenv(args: Sequence[str], env: Dict[str, str], input: Optional[str] = None,
             timeout: float = 60, content_mode: bool = False) -> Result:
    """Run the real command (``python -m jenv``) in a subprocess.

    Every run is checked: no traceback on stderr, and no private-key material
    on stdout or stderr unless the test says the user asked for content
    (``content_mode``: ``--content``, ``user <role>``); even then stderr must
    stay clean.
    """
    proc = subprocess.run([sys.executable, "-m", "jenv", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)
    scan(args, proc.stdout, proc.stderr, content_mode)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class PtyResult:
    """A run on a pseudo-terminal: exit status, what the terminal showed, and the piped output (if captured)."""

    returncode: int
    terminal: bytes
    stdout: str = ""
    stderr: str = ""

    @property
    def output(self) -> str:
        """What the terminal showed, as text."""
        return self.terminal.decode(errors="replace")


def run_on_pty(argv: Sequence[str], env: Dict[str, str], answers: Sequence[bytes] = (),
               prompt: bytes = b"Passphrase for", timeout: float = 30, cwd: Optional[str] = None,
               capture: bool = False, scan: bool = True) -> PtyResult:
    """Run ``argv`` in a new session whose controlling terminal is a fresh pty (so /dev/tty is the pty).

    Each time one more ``prompt`` has appeared on the terminal, the next of
    ``answers`` and a newline are typed. Without ``capture`` the child's stdin,
    stdout and stderr are the terminal; with it stdin is /dev/null and stdout
    and stderr are pipes (decoded strictly as UTF-8). With ``scan`` (as in
    run_jenv) nothing may show a traceback or private-key material.
    Returns the reaped child's PtyResult. When it runs past ``timeout``, kills
    the child's process group and raises AssertionError with what the terminal
    showed and the stuck processes' state and signal masks.
    """
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    # Our slave copy stays open to the end: with no slave open, reading the master fails (EIO),
    # e.g. between the child's exec and its open("/dev/tty"), and unread output may be lost.
    if capture:
        ends = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    else:
        ends = {"stdin": slave, "stdout": slave, "stderr": slave}
    try:
        proc = subprocess.Popen(list(argv), env=env, cwd=cwd, start_new_session=True,
                                preexec_fn=lambda: fcntl.ioctl(slave, termios.TIOCSCTTY, 0), **ends)
        try:
            terminal, piped = _converse(proc, master, list(answers), prompt, timeout)
        except subprocess.TimeoutExpired as exc:
            state = _signal_state(proc.pid)  # before the kill: what the stuck child was doing
            os.killpg(proc.pid, signal.SIGKILL)  # safe: the leader is not reaped yet, its group id is ours
            raise AssertionError(f"{argv[0]} ran past {timeout:g}s; terminal: {exc.output!r}; {state}") from None
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
    finally:
        os.close(master)
        os.close(slave)
    result = PtyResult(proc.returncode, terminal, *(piped[name].decode() for name in ("stdout", "stderr")))
    if scan:
        SCANNED["runs"] += 1
        for text in (result.output, result.stdout, result.stderr):
            assert "Traceback" not in text, text
            assert not leaked_key_material(text), f"key material from {argv}: {text[:200]!r}"
    return result


def _signal_state(pid: int) -> str:
    """State, signal masks and wait channel of ``pid`` (and its children), for a timeout's message."""
    parts = []
    for task in [str(pid), *_children(pid)]:
        try:
            status = Path(f"/proc/{task}/status").read_text().splitlines()
            wchan = Path(f"/proc/{task}/wchan").read_text()
        except OSError:
            continue
        fields = [line for line in status if line.startswith(("Name:", "State:", "SigBlk:", "SigIgn:", "SigCgt:"))]
        parts.append(f"pid {task}: " + ", ".join(" ".join(f.split()) for f in fields) + f", wchan {wchan}")
    return "; ".join(parts) or f"pid {pid}: gone"


def _children(pid: int) -> List[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (its pid, and so its process group, stays ours)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _converse(proc: subprocess.Popen, master: int, pending: List[bytes], prompt: bytes,
              timeout: float) -> "tuple[bytes, Dict[str, bytes]]":
    """Read the terminal and the pipes until the child exited and all is read, answering prompts.

    Never reaps the child. Returns the terminal bytes and the piped bytes by
    name; raises subprocess.TimeoutExpired when that takes over ``timeout``.
    """
    deadline = time.monotonic() + timeout
    pipes = {pipe.fileno(): name for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)) if pipe}
    data = {"terminal": b"", "stdout": b"", "stderr": b""}
    names, answered = {master: "terminal", **pipes}, 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired(proc.args, timeout, output=data["terminal"], stderr=data["stderr"])
        ready = select.select(list(names), [], [], min(left, 0.1))[0]
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the terminal is gone
                chunk = b""
            if chunk:
                data[names[fd]] += chunk
            else:
                del names[fd]
        if pending and data["terminal"].count(prompt) > answered:
            os.write(master, pending.pop(0) + b"\n")
            answered += 1
        if master not in ready and not set(pipes) & set(names) and _exited(proc.pid):
            return data.pop("terminal"), data
