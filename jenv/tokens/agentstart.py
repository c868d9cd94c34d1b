"""Starting the renewal agent (:mod:`jenv.tokens.agent`): unlock at the terminal, then daemonize or stay;
and the service files that start it at login (a systemd user unit, a launchd agent).

The passphrase is asked once, at the terminal, and checked against the key before anything else
happens; the agent process gets it by ``fork`` (its memory, never a file or a pipe).  The pipe from
the agent to the starting command carries one line only: "ok <pid>" or the exit code and message of
what stopped it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from typing import Dict, List, Optional, Tuple

from jenv.context import Context
from jenv.errors import ExitCode, InvalidInputError, JenvError, KeyMismatchError, UnsafeFileError, UsageError
from jenv.tokens.agent import Agent, AgentLog, bind_socket, hold_lock
from jenv.tokens.agentclient import AgentGone, AgentPlace, agent_place, ask_agent, read_line
from jenv.tokens.check import token_store

__all__ = ["start_agent", "run_agent", "unlock", "ask_running_agent", "systemd_unit", "launchd_plist", "service_file",
           "SERVICE_VARIABLES", "AgentGone"]

#: How long ``agent start`` waits for the daemon to say it is ready.
_READY_WAIT = 30.0


def unlock(ctx: Context, locs) -> Optional[bytes]:
    """The user key's passphrase, asked at the terminal and proven right (the key decrypts and belongs to
    the certificate); None when the key is not encrypted.  Raises what token-init raises for the user
    certificate and key (missing, expired, readable by others, wrong passphrase, no terminal)."""
    from jenv.credentials import tty_passphrase
    from jenv.jcentral.client import ClientIdentity, check_identity
    from jenv.pem import key_matches, parse_private_key

    cert, data, key = check_identity(ClientIdentity(locs.user_cert, locs.user_key), ctx.clock())
    if key is not None:
        return None
    what = locs.user_key.describe()
    passphrase = tty_passphrase(what)
    key = parse_private_key(data, what, lambda: passphrase, own_key=True)
    if not key_matches(cert, key):
        raise KeyMismatchError(f"{what} does not belong to {locs.user_cert.describe()}")
    return passphrase


def _session_leader(stay: bool) -> Optional[int]:
    """The process whose end ends the agent: the leader of the starting session (the login shell), unless
    ``stay``; None when there is none to watch."""
    if stay:
        return None
    leader = os.getsid(0)
    return leader if leader not in (0, 1, os.getpid()) else None


def start_agent(ctx: Context, foreground: bool, stay: bool, ttl: Optional[int], min_valid: int) -> int:
    """``jenv agent start``: one agent per user and host; a second start reports the first (exit 0)."""
    locs, store = token_store(ctx)
    if not store.in_files:
        raise UsageError("JALIEN_TOKEN_CERT/KEY hold PEM content, so there are no token files to keep fresh: "
                         "unset them to use the agent")
    place = agent_place(ctx.environ, ctx.home, ctx.uid, create=True)
    if place is None:
        raise UnsafeFileError("no private directory for the agent: set XDG_RUNTIME_DIR to a 0700 directory "
                              "of yours, or make ~/.cache/jenv (mkdir -p -m 700 ~/.cache/jenv)")
    running = _running(place)
    if running is not None:
        ctx.err(f"jenv: an agent already runs for you on this host (pid {running}); 'jenv agent status' "
                "shows it, 'jenv agent stop' stops it")
        return ExitCode.OK
    from jenv.safefile import keep_secrets_out_of_core_dumps, use_light_core_guard

    from jenv.tokens.secretmem import lock_all_memory

    use_light_core_guard(False)
    keep_secrets_out_of_core_dumps()  # before the passphrase is read: no core file, not dumpable
    lock_all_memory()  # the prompt's copies too, where the limit allows (the agent locks its own after fork)
    passphrase = unlock(ctx, locs)
    leader = None if foreground else _session_leader(stay)
    if foreground:
        return run_agent(ctx, locs, store, place, passphrase, min_valid, ttl, None, True, None)
    return _daemonize(ctx, locs, store, place, passphrase, min_valid, ttl, leader)


def _running(place: AgentPlace) -> Optional[int]:
    try:
        answer = ask_agent(place, "status", 5.0)
    except JenvError:
        return None
    status = answer.get("status") if isinstance(answer, dict) else None
    return status.get("pid") if isinstance(status, dict) else None


def _daemonize(ctx: Context, locs, store, place: AgentPlace, passphrase: Optional[bytes], min_valid: int,
               ttl: Optional[int], leader: Optional[int]) -> int:
    """Double fork and setsid (no terminal can be acquired again), stdio on /dev/null; the starting
    command waits for the agent's one line and reports it."""
    from jenv.tokens.secretmem import forget_bytes

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the first child: a new session, then the agent in a child of its own
        code = 1
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() == 0:
                os.chdir("/")
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.close(null)
                code = run_agent(ctx, locs, store, place, passphrase, min_valid, ttl, leader, False, write_end)
            else:
                code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    if passphrase is not None:
        forget_bytes(passphrase)  # the agent has its copy; this process ends now
    os.waitpid(pid, 0)
    line = _read_line(read_end, _READY_WAIT)
    os.close(read_end)
    if line.startswith("ok "):
        ctx.err(f"jenv: agent started (pid {line[3:]}): 'jenv agent status' shows it; its log is {place.log}")
        return ExitCode.OK
    if line.startswith("running "):
        ctx.err(f"jenv: an agent already runs for you on this host (pid {line[8:]}); 'jenv agent status' shows it")
        return ExitCode.OK
    code, _sep, message = line.partition(" ")
    if not code.isdigit():
        ctx.err(f"jenv: the agent did not start (its log {place.log} may say why)")
        return ExitCode.ERROR
    ctx.err(f"jenv: {message}")
    return int(code)


def _read_line(fd: int, timeout: float) -> str:
    import select

    deadline = time.monotonic() + timeout

    def recv(size: int) -> bytes:
        ready, _w, _x = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        return os.read(fd, size) if ready else b""

    return read_line(recv, 4096).decode("utf-8", "replace").strip()


def _report(fd: Optional[int], text: str) -> None:
    if fd is None:
        return
    try:
        os.write(fd, (" ".join(text.split()) + "\n").encode("utf-8", "replace"))
        os.close(fd)
    except OSError:
        pass


def run_agent(ctx: Context, locs, store, place: AgentPlace, passphrase: Optional[bytes], min_valid: int,
              ttl: Optional[int], leader: Optional[int], foreground: bool, report: Optional[int]) -> int:
    """The agent itself, in this process, until it stops; its exit code.  ``report`` is the pipe to the
    starting command (closed once the agent is ready, or with the error that stopped it)."""
    from jenv.safefile import keep_secrets_out_of_core_dumps
    from jenv.tokens.secretmem import LockedSecret, forget_bytes, lock_all_memory

    os.umask(0o077)
    keep_secrets_out_of_core_dumps()
    secret = None
    lock_fd = listener = log = None
    try:
        lock_fd = hold_lock(place.lock)
        if lock_fd is None:
            _report(report, f"running {_running(place) or '?'}")  # another start won the race: that agent runs
            if foreground:
                ctx.err("jenv: an agent already runs for you on this host; 'jenv agent status' shows it")
            return ExitCode.OK
        all_locked, memory = lock_all_memory()
        if passphrase is not None:
            secret = LockedSecret(passphrase)
            forget_bytes(passphrase)
            if not all_locked:
                memory += "; " + ("the passphrase page is locked" if secret.locked else secret.lock_problem)
        elif not all_locked:
            memory = "no passphrase held (the key is not encrypted); " + memory
        log = AgentLog(place.log, ctx.err if foreground else None)
        log.line(f"started (pid {os.getpid()}, uid {ctx.uid}, token {store.cert.path}): {memory}")
        listener = bind_socket(place.socket)
        quiet = Context(ctx.environ, ctx.uid, ctx.home, stdout=log, stderr=log)  # type: ignore[arg-type]
        agent = Agent(quiet, locs, store, place, log, secret, min_valid, ttl, leader, memory)
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: None)  # the wakeup pipe carries it to the loop
        _report(report, f"ok {os.getpid()}")
        report = None
        if foreground:
            ctx.err(f"jenv: agent running (pid {os.getpid()}); Ctrl-C or 'jenv agent stop' stops it")
        reason = agent.run(listener, wake_read)
        log.line(f"stopping: {reason}")
        return ExitCode.OK
    except JenvError as exc:
        if log is not None:
            log.line(f"cannot run (exit {int(exc.exit_code)}): {exc}")
        if report is None and foreground:
            raise
        _report(report, f"{int(exc.exit_code)} {exc}")
        return int(exc.exit_code)
    except Exception as exc:  # a bug: one line in the log (a daemon has no stderr), then the usual report
        if log is not None:
            log.line(f"internal error: {type(exc).__name__}: {exc}")
        if foreground:
            raise
        _report(report, f"{int(ExitCode.ERROR)} internal error in the agent: {type(exc).__name__}: {exc}")
        return int(ExitCode.ERROR)
    finally:
        if secret is not None:
            secret.wipe()
        if listener is not None:
            _remove_socket(listener, place.socket)
        if log is not None:
            log.close()
        if lock_fd is not None:
            os.close(lock_fd)


def _remove_socket(listener: socket.socket, path: str) -> None:
    """Close and unlink our socket (the agent lock, still held, keeps any other agent from making one)."""
    listener.close()
    try:
        os.unlink(path)
    except OSError:
        pass


# --- service files ---------------------------------------------------------------------------

#: What a service manager must pass on to the agent for it to find the same token and credentials.
SERVICE_VARIABLES = ("X509_USER_CERT", "X509_USER_KEY", "X509_CERT_DIR", "X509_CERT_FILE", "JALIEN_TOKEN_CERT",
                     "JALIEN_TOKEN_KEY", "TMPDIR", "ALIENPY_JCENTRAL", "ALIENPY_JCENTRAL_PORT", "JENV_TIMEOUT")


def _service_environment(environ) -> Dict[str, str]:
    found = {name: environ[name] for name in SERVICE_VARIABLES if environ.get(name)}
    bad = [name for name, value in found.items() if "\n" in value or "\r" in value]
    if bad:
        raise InvalidInputError(f"{', '.join(bad)} holds a line break: a service file cannot carry it")
    return found


def _systemd_quote(text: str) -> str:
    """A word of a unit file: double-quoted, with backslash, quote and the specifier '%' escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'


def systemd_unit(environ, argv: List[str]) -> str:
    """The user unit that runs the agent in the foreground, for as long as the user's systemd runs."""
    lines = ["[Unit]", "Description=jenv token renewal agent (ALICE grid)",
             "",
             "[Service]", "Type=simple",
             "ExecStart=" + " ".join(_systemd_quote(word) for word in argv),
             "Restart=on-failure", "RestartSec=30",
             # No terminal here: an encrypted key cannot be unlocked (exit 11), and retrying will not help.
             f"RestartPreventExitStatus={int(ExitCode.PASSPHRASE)} {int(ExitCode.USAGE)}"]
    lines += [f"Environment={_systemd_quote(f'{name}={value}')}"
              for name, value in _service_environment(environ).items()]
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def launchd_plist(environ, argv: List[str]) -> str:
    """The launchd agent (macOS) that runs the agent in the foreground while the user is logged in."""
    from xml.sax.saxutils import escape

    def string(text: str) -> str:
        return f"<string>{escape(text)}</string>"

    env = "".join(f"<key>{escape(k)}</key>{string(v)}" for k, v in _service_environment(environ).items())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
            '<plist version="1.0"><dict>\n'
            f"<key>Label</key>{string('ch.cern.alice.jenv-agent')}\n"
            f"<key>ProgramArguments</key><array>{''.join(string(word) for word in argv)}</array>\n"
            f"<key>EnvironmentVariables</key><dict>{env}</dict>\n"
            "<key>RunAtLoad</key><true/>\n<key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>\n"
            "</dict></plist>\n")


def service_file(ctx: Context, kind: str) -> Tuple[str, str, List[str], List[str]]:
    """(path, content, commands to enable it, commands to remove it) of the ``kind`` service file."""
    argv = [sys.executable, "-m", "jenv", "agent", "start", "--foreground", "--stay"]
    if kind == "systemd":
        from jenv.locations import XDG_CONFIG_HOME

        base = ctx.environ.get(XDG_CONFIG_HOME, "")
        base = base if os.path.isabs(base) else os.path.join(ctx.home, ".config")
        path = os.path.join(base, "systemd", "user", "jenv-agent.service")
        return (path, systemd_unit(ctx.environ, argv),
                ["systemctl --user daemon-reload", "systemctl --user enable --now jenv-agent.service"],
                ["systemctl --user disable --now jenv-agent.service", "jenv agent install --systemd --remove",
                 "systemctl --user daemon-reload"])
    path = os.path.join(ctx.home, "Library", "LaunchAgents", "ch.cern.alice.jenv-agent.plist")
    return (path, launchd_plist(ctx.environ, argv),
            [f"launchctl bootstrap gui/{ctx.uid} {path}"],
            [f"launchctl bootout gui/{ctx.uid} {path}", "jenv agent install --launchd --remove"])


def ask_running_agent(ctx: Context, op: str, timeout: float) -> Dict:
    """One request to the running agent (AgentGone when there is none)."""
    place = agent_place(ctx.environ, ctx.home, ctx.uid)
    return ask_agent(place, op, timeout)

