"""The renewal agent: unlock the user key once, keep the token files fresh, answer only its user.

One agent per user and host, found by its fixed place in the user's private directory
(:func:`agent_place`): ``agent-<host>.sock`` (the socket, 0600), ``agent-<host>.lock`` (held while it
runs: a second agent cannot start) and ``agent-<host>.log`` (0600, one line per event, never a
secret).  The protocol is one JSON line each way: ``{"op": "status" | "renew-now" | "stop"}``, and
``{"op": "issue", "role": <role or null>}``, which answers a fresh token (``cert`` and ``key``, PEM) for
``jenv exec --renew``'s private copy without touching the token files.

When to renew (:func:`renew_at`): once two thirds of the token's lifetime have passed, plus a little
jitter (so the agents of many hosts do not meet at JCentral), and never later than ``min_valid``
before its end.  The write is token-init's (:func:`jenv.tokens.obtain.replace_token`): vetted, under
the token lock, each file replaced by a rename, so a reader never sees a missing or mixed pair.

Failures (:func:`retry_delay`): while the token in the files is still valid the agent keeps it and
tries again with a backoff from 30 s to 10 min (never later than a quarter of what is left); once no
valid token is left, from 2 s doubling to 3 min, and while JCentral cannot be reached a TCP connection
to it is tried every 2 s, so the first real try after it comes back is within seconds.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import socket
import struct
import time
from typing import Callable, Dict, List, Optional

from jenv.context import Context
from jenv.errors import ExitCode, InvalidInputError, JenvError, NetworkError, UnsafeFileError
from jenv.locations import Locations
from jenv.tokens import memo
from jenv.tokens.agentclient import AgentPlace, read_line
from jenv.tokens.check import TokenStore, check_token

__all__ = ["renew_at", "jitter_for", "retry_delay", "AgentLog", "Agent", "bind_socket", "hold_lock", "agent_lines",
           "NO_TOKEN_RETRY", "VALID_TOKEN_RETRY", "PROBE_INTERVAL"]

#: Backoff while a valid token is held: (first, cap) seconds.
VALID_TOKEN_RETRY = (30.0, 600.0)
#: Backoff once no valid token is left: (first, cap) seconds.
NO_TOKEN_RETRY = (2.0, 180.0)
#: While JCentral cannot be reached and no valid token is left: how often a TCP connection is tried.
PROBE_INTERVAL = 2.0
#: The most a request line may hold, and how long a client may take to send it.
_MAX_REQUEST = 4096
_CLIENT_TIMEOUT = 2.0


def renew_at(not_before: float, not_after: float, min_valid: float, jitter: float) -> float:
    """When a token valid from ``not_before`` to ``not_after`` is renewed: at two thirds of its lifetime
    plus ``jitter`` seconds, but no later than ``min_valid`` before its end (unless the token is too short
    for that: then at two thirds)."""
    lifetime = max(not_after - not_before, 0.0)
    planned = not_before + lifetime * 2 / 3 + jitter
    latest = not_after - min_valid
    return min(planned, latest) if latest > not_before + lifetime / 3 else not_before + lifetime * 2 / 3


def jitter_for(lifetime: float, draw: Callable[[float, float], float] = random.uniform) -> float:
    """A few percent of the lifetime, at most 5 minutes."""
    return draw(0.0, min(max(lifetime, 0.0) * 0.05, 300.0))


def retry_delay(failures: int, now: float, valid_until: Optional[float]) -> float:
    """Seconds until the next try after ``failures`` failures in a row (1 or more)."""
    exponent = min(max(failures, 1) - 1, 16)
    if valid_until is not None and valid_until > now:
        first, cap = VALID_TOKEN_RETRY
        return max(min(first * 2 ** exponent, cap, (valid_until - now) / 4), 1.0)
    first, cap = NO_TOKEN_RETRY
    return min(first * 2 ** exponent, cap)


def _stamp(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


class AgentLog:
    """The agent's log: one line per event, appended to a 0600 file of the user's (and, in the foreground,
    to stderr).  Only messages go there: never a key, a certificate or the passphrase."""

    def __init__(self, path: str, echo: Optional[Callable[[str], None]] = None):
        from jenv.safefile import open_own_file_to_append

        self.path = path
        self._fd = open_own_file_to_append(path, 0o600)
        self._echo = echo

    def line(self, text: str) -> None:
        text = " ".join(text.split())  # one line, whatever the message held
        try:
            os.write(self._fd, f"{_stamp(time.time())} {text}\n".encode("utf-8", "replace"))
        except OSError:
            pass  # a full disk must not end the agent
        if self._echo is not None:
            self._echo(f"jenv agent: {text}")

    def write(self, text: str) -> int:
        """A stream for :class:`jenv.context.Context`: what jenv would print on stderr becomes log lines."""
        for part in text.splitlines():
            if part.strip():
                self.line(part[len("jenv: "):] if part.startswith("jenv: ") else part)
        return len(text)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        os.close(self._fd)


def _peer_uid(conn: socket.socket) -> tuple:
    """(pid, uid, gid) of the process at the other end (SO_PEERCRED, Linux)."""
    data = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", data)


class Agent:
    """The agent's state and its loop.  ``secret`` lends the passphrase (None: the key is not encrypted)."""

    def __init__(self, ctx: Context, locs: Locations, store: TokenStore, place: AgentPlace, log: AgentLog,
                 secret=None, min_valid: float = 600, ttl: Optional[float] = None,
                 session_leader: Optional[int] = None, memory: str = ""):
        self.ctx, self.locs, self.store, self.place, self.log = ctx, locs, store, place, log
        self.secret = secret
        self.min_valid = min_valid
        self.started = time.time()
        self.ends = self.started + ttl if ttl else None
        self.session_leader = session_leader
        self._leader_start = _process_start(session_leader) if session_leader is not None else None
        self.memory = memory
        self.last_success: Optional[Dict] = None
        self.last_failure: Optional[Dict] = None
        self.failures = 0
        self.failures_without_token = 0
        self.next_try = self.started
        self.next_probe = self.started
        self.next_reason = "start"
        self.probing = False
        self.valid_until: Optional[float] = None
        self.stopping: Optional[str] = None
        self.notice: Optional[str] = None
        self.notice_logged = float("-inf")

    # --- the token -------------------------------------------------------------------------

    def _look(self) -> None:
        """Plan the next renewal from the token in the files (renew now when none is valid)."""
        now = time.time()
        try:
            check = check_token(self.store, now, 0)
        except JenvError as exc:
            self.valid_until = None
            self.next_try, self.next_reason = now, f"the token files cannot be used: {exc}"
            return
        verdict = check.verdict
        if not check.usable or verdict is None or verdict.not_after is None:
            self.valid_until = None
            self.next_try, self.next_reason = now, f"no valid token ({check.detail or check.state})"
            return
        self.valid_until = float(verdict.not_after)
        start = self._issued(float(verdict.not_before if verdict.not_before is not None else now), now)
        planned = renew_at(start, self.valid_until, self.min_valid, jitter_for(self.valid_until - start))
        self.next_try = max(planned, now + 1.0)  # never a loop of renewals, whatever the dates say
        self.next_reason = "two thirds of the token's lifetime"

    def _issued(self, not_before: float, now: float) -> float:
        """When the token's lifetime began: JCentral backdates not-before (clock skew), so the time the
        certificate file was written counts when it lies between not-before and now."""
        try:
            written = os.stat(self.store.cert.path).st_mtime
        except (OSError, TypeError):
            return not_before
        return written if not_before <= written <= now else not_before

    def renew(self) -> Optional[JenvError]:
        """One renewal through token-init's write; the failure, logged, or None."""
        from jenv.tokens.obtain import replace_token

        now = time.time()
        try:
            request = self._same_kind(now)
            if self.secret is None:
                pair = replace_token(self.ctx, self.locs, self.store, request)
            else:
                with self.secret.lent() as passphrase:
                    pair = replace_token(self.ctx, self.locs, self.store, request, passphrase)
        except JenvError as exc:
            return self._failed(now, exc)
        except Exception as exc:  # noqa: BLE001 - a daemon outlives a bug in one renewal: logged, retried
            return self._failed(now, JenvError(f"internal error: {type(exc).__name__}: {exc}"))
        del pair
        memo.forget_failure(self.store.memo_directory(), self.store.uid, self.store.refs())
        self.failures, self.failures_without_token, self.probing = 0, 0, False
        self._look()
        self.last_success = {"time": now, "valid_until": self.valid_until}
        until = _stamp(self.valid_until) if self.valid_until else "?"
        self.log.line(f"renewed the token: valid until {until}; next renewal at {_stamp(self.next_try)}")
        self._user_cert_notice(now)
        return None

    def _user_cert_notice(self, now: float) -> None:
        """The login notice about the user certificate's end (:mod:`jenv.tokens.expiry`), in the status and,
        once a day, in the log.  Kept apart from the login's own once-a-day memory, so that the user still
        sees it at the next login."""
        from jenv.tokens.expiry import expiry_message, user_cert_not_after

        path = self.locs.user_cert.path
        try:
            not_after = user_cert_not_after(path, self.ctx.uid, self.store.lock_dirs) if path else None
        except Exception:  # noqa: BLE001 - a notice never stops the agent
            not_after = None
        self.notice = expiry_message(not_after, now, f"user certificate {path}") if not_after else None
        if self.notice and now - self.notice_logged >= 86400:
            self.notice_logged = now
            self.log.line(self.notice)

    def _same_kind(self, now: float):
        """The request that renews the token in the files as it is: a user token of the same role (after
        ``jenv user <role> token-init`` the renewals keep that role).  Another type of token (job, host)
        is not the agent's to replace: InvalidInputError."""
        from jenv.jcentral.protocol import TokenRequest

        try:
            verdict = check_token(self.store, now, 0).verdict
        except JenvError:
            return None
        if verdict is None or verdict.pair != "usable" or not verdict.token_type:
            return None
        if verdict.token_type != "user":
            raise InvalidInputError(f"the token files hold a {verdict.token_type} token: the agent renews user "
                                    "tokens only ('jenv token-init' puts one back)")
        if verdict.role and verdict.user and verdict.role != verdict.user:
            return TokenRequest.from_options(username=verdict.role).validate()
        return None

    def _failed(self, now: float, exc: JenvError) -> JenvError:
        self.failures += 1
        check_until = self._still_valid(now)
        # The backoff starts over when the token runs out: from then on the agent tries within seconds.
        self.failures_without_token = 0 if check_until else self.failures_without_token + 1
        delay = retry_delay(self.failures_without_token or self.failures, now, check_until)
        self.next_try, self.next_reason = now + delay, f"retry {self.failures} after a failure"
        self.probing = check_until is None and isinstance(exc, NetworkError)
        self.next_probe = now + PROBE_INTERVAL
        self.last_failure = {"time": now, "exit_code": int(exc.exit_code), "cause": str(exc)}
        held = f"the token stays valid until {_stamp(check_until)}" if check_until else "no valid token is left"
        self.log.line(f"renewal failed (exit {int(exc.exit_code)}): {exc}; {held}; next try in {delay:.0f}s")
        return exc

    def _still_valid(self, now: float) -> Optional[float]:
        try:
            check = check_token(self.store, now, 0)
        except JenvError:
            return None
        if check.usable and check.verdict is not None and check.verdict.not_after is not None:
            return float(check.verdict.not_after)
        return None

    def _probe(self) -> bool:
        """A TCP connection to JCentral succeeds (it may be back): no TLS, no credential."""
        from jenv.locations import resolve_endpoint

        try:
            endpoint = resolve_endpoint(self.ctx.environ)
            with socket.create_connection((endpoint.host, endpoint.port), timeout=PROBE_INTERVAL):
                return True
        except (OSError, ValueError):
            return False

    # --- the socket ------------------------------------------------------------------------

    def status(self) -> Dict:
        now = time.time()
        check_until = self._still_valid(now)
        return {"pid": os.getpid(), "host": self.place.host, "socket": self.place.socket, "log": self.place.log,
                "started": self.started, "ends": self.ends, "token_valid_until": check_until,
                "last_success": self.last_success, "last_failure": self.last_failure,
                "failures_in_a_row": self.failures, "next_try": self.next_try, "next_reason": self.next_reason,
                "memory": self.memory, "passphrase_held": self.secret is not None, "dumpable": _dumpable(),
                "session_leader": self.session_leader, "user_cert_notice": self.notice,
                "token_cert": self.store.cert.path, "token_key": self.store.key.path}

    def issue(self, role: object, pid: int) -> Dict:
        """A fresh token for another process of the user's (``jenv exec --renew``), of the user's own role
        or of ``role``; checked like every token (:func:`jenv.tokens.obtain.fetch_checked_token`), sent
        back on the socket, never written to a file here."""
        from jenv.jcentral.protocol import TokenRequest
        from jenv.tokens.obtain import fetch_checked_token

        if role is not None and not isinstance(role, str):
            return {"ok": False, "exit_code": int(ExitCode.USAGE), "error": "the role is not a name"}
        asked = f" (role {role})" if role else ""
        try:
            request = TokenRequest.from_options(username=role).validate() if role else None
            if self.secret is None:
                pair = fetch_checked_token(self.ctx, self.locs, request)
            else:
                with self.secret.lent() as passphrase:
                    pair = fetch_checked_token(self.ctx, self.locs, request, passphrase)
        except Exception as exc:  # noqa: BLE001 - a daemon outlives a bug in one request: logged, answered
            failure = exc if isinstance(exc, JenvError) else JenvError(f"internal error: {type(exc).__name__}: {exc}")
            self.log.line(f"could not get a token for process {pid}{asked} (exit {int(failure.exit_code)}): {failure}")
            return {"ok": False, "exit_code": int(failure.exit_code), "error": str(failure)}
        self.log.line(f"gave a new token to process {pid}{asked} (jenv exec --renew)")
        return {"ok": True, "cert": pair.cert_pem, "key": pair.key_pem}

    def _answer(self, request: Dict, pid: int = 0) -> Dict:
        op = request.get("op") if isinstance(request, dict) else None
        if op == "issue":
            return self.issue(request.get("role"), pid)
        if op == "status":
            return {"ok": True, "status": self.status()}
        if op == "renew-now":
            self.log.line("renewal asked for by the user")
            failure = self.renew()
            if failure is None:
                return {"ok": True, "status": self.status()}
            return {"ok": False, "exit_code": int(failure.exit_code), "error": str(failure), "status": self.status()}
        if op == "stop":
            self.stopping = "stopped by the user"
            return {"ok": True, "stopping": True}
        return {"ok": False, "exit_code": int(ExitCode.USAGE), "error": f"unknown request {op!r}"}

    def _serve_one(self, listener: socket.socket) -> None:
        try:
            conn, _addr = listener.accept()
        except OSError:
            return
        with conn:
            pid, uid, _gid = _peer_uid(conn)
            if uid != self.ctx.uid:
                self.log.line(f"refused a connection from uid {uid} (pid {pid}): only uid {self.ctx.uid} may ask")
                return
            conn.settimeout(_CLIENT_TIMEOUT)
            try:
                data = read_line(conn.recv, _MAX_REQUEST)
                try:
                    request = json.loads(data.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    request = None
                answer = self._answer(request, pid) if request is not None else \
                    {"ok": False, "exit_code": int(ExitCode.USAGE), "error": "the request is not one JSON line"}
                conn.sendall(json.dumps(answer).encode("ascii") + b"\n")
            except OSError:
                pass  # the client went away: nothing to answer

    # --- the loop --------------------------------------------------------------------------

    def _session_ended(self) -> bool:
        """The session's leader is gone (or its pid now names another process: another start time)."""
        if self.session_leader is None:
            return False
        try:
            os.kill(self.session_leader, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return self._leader_start is not None and _process_start(self.session_leader) != self._leader_start

    def run(self, listener: socket.socket, wakeup: int) -> str:
        """Serve and renew until stopped; the reason it ended."""
        self._look()
        if self.valid_until is not None:
            self.log.line(f"the token is valid until {_stamp(self.valid_until)}; next renewal at "
                          f"{_stamp(self.next_try)}")
        while self.stopping is None:
            now = time.time()
            if self.ends is not None and now >= self.ends:
                self.stopping = "its --ttl is over"
                break
            if self._session_ended():
                self.stopping = f"the login session ended (process {self.session_leader} is gone)"
                break
            if now >= self.next_try:
                self.renew()
                continue
            if self.probing and now >= self.next_probe:
                self.next_probe = now + PROBE_INTERVAL
                if self._probe():
                    self.log.line("JCentral accepts connections again: trying now")
                    self.next_try, self.next_reason = time.time(), "JCentral is back"
                    continue
            wait = self.next_try - now
            if self.probing:
                wait = min(wait, self.next_probe - now)
            if self.session_leader is not None:
                wait = min(wait, 5.0)
            if self.ends is not None:
                wait = min(wait, self.ends - now)
            ready, _w, _x = select.select([listener, wakeup], [], [], max(wait, 0.0))
            if wakeup in ready:
                signum = _drain(wakeup)
                self.stopping = f"signal {signal.Signals(signum).name}" if signum else "a signal"
            elif listener in ready:
                self._serve_one(listener)
        return self.stopping


def _process_start(pid: int) -> Optional[str]:
    """When process ``pid`` started (field 22 of /proc/<pid>/stat, Linux); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[19].decode("ascii")
    except (OSError, IndexError):
        return None


def _dumpable() -> Optional[bool]:
    """prctl(PR_GET_DUMPABLE) of this process (None where it cannot be asked)."""
    try:
        import ctypes

        value = ctypes.CDLL(None, use_errno=True).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE = 3
    except (ImportError, OSError, AttributeError):
        return None
    return None if value < 0 else bool(value)


def _drain(fd: int) -> int:
    """The last signal number written to the wakeup pipe (0 when none)."""
    try:
        data = os.read(fd, 64)
    except OSError:
        return 0
    return data[-1] if data else 0


def bind_socket(path: str) -> socket.socket:
    """The listening socket at ``path``, created 0600 (the umask is 077 while it is made), replacing a
    stale one (the caller holds the agent lock, so no live agent owns it)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    except OSError as exc:
        listener.close()
        raise UnsafeFileError(f"cannot create the agent socket {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old)
    listener.listen(8)
    return listener


def hold_lock(path: str) -> Optional[int]:
    """The agent lock, held until the process ends; None when another agent holds it."""
    import fcntl

    from jenv.safefile import open_own_file_to_append

    try:
        fd = open_own_file_to_append(path, 0o600)
    except OSError as exc:
        raise UnsafeFileError(f"cannot open the agent lock {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def agent_lines(status: Dict, now: float) -> List[str]:
    """``jenv agent status`` for people."""
    from jenv.lite.timefmt import format_duration

    def when(value: Optional[float]) -> str:
        if value is None:
            return "-"
        delta = value - now
        rel = f"in {format_duration(int(delta))}" if delta >= 0 else f"{format_duration(int(-delta))} ago"
        return f"{_stamp(value)} ({rel})"

    success, failure = status.get("last_success"), status.get("last_failure")
    lines = [f"agent: pid {status['pid']} on {status['host']}, since {when(status['started'])}",
             f"token valid until: {when(status.get('token_valid_until'))}",
             f"last success: {when(success['time']) if success else '-'}",
             "last failure: " + (f"{when(failure['time'])}: (exit {failure['exit_code']}) {failure['cause']}"
                                 if failure else "-"),
             f"next try: {when(status['next_try'])} ({status['next_reason']})",
             f"memory: {status['memory']}; " + ("not dumpable" if status.get("dumpable") is False else
                                                "dumpable" if status.get("dumpable") else "dumpable: unknown"),
             "ends: " + (when(status["ends"]) if status.get("ends") else
                         f"with the login session (process {status['session_leader']})" if status.get("session_leader")
                         else "when stopped"),
             f"log: {status['log']}"]
    if status.get("user_cert_notice"):
        lines.append(f"notice: {status['user_cert_notice']}")
    return lines
