"""The client side of the renewal agent (:mod:`jenv.tokens.agent`): where it lives, one request to it,
and what ``jenv token`` asks of it.  Light: the standard library and jenv's base only, so that a
token command without an agent pays one ``stat`` for it."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from jenv.context import Context
from jenv.errors import ExitCode, JenvError, NetworkError, NotFoundError
from jenv.locations import lock_directories
from jenv.tokens import memo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from jenv.tokens.check import TokenStore

__all__ = ["AgentGone", "AgentPlace", "agent_place", "ask_agent", "read_line", "renew_through_agent"]


class AgentGone(JenvError):
    """No agent answers at the user's fixed place on this host."""

    exit_code = ExitCode.NO_AGENT


@dataclass(frozen=True)
class AgentPlace:
    """Where the agent of this user and host lives (all in the user's private directory)."""

    directory: str
    host: str

    def _name(self, suffix: str) -> str:
        return os.path.join(self.directory, f"agent-{self.host}.{suffix}")

    @property
    def socket(self) -> str:
        return self._name("sock")

    @property
    def lock(self) -> str:
        return self._name("lock")

    @property
    def log(self) -> str:
        return self._name("log")


def agent_place(environ, home: str, uid: int, create: bool = False) -> Optional[AgentPlace]:
    """The agent's place: the user's private directory (``$XDG_RUNTIME_DIR`` when it is the user's 0700
    directory, else ``~/.cache/jenv``, made 0700 with ``create``) and the short host name (a home shared
    between hosts holds one agent per host).  None when there is no private directory."""
    directory = memo.memo_directory(lock_directories(environ, home), uid, create)
    if directory is None:
        return None
    return AgentPlace(directory, socket.gethostname().split(".")[0] or "localhost")


def read_line(recv: Callable[[int], bytes], limit: int) -> bytes:
    """Bytes from ``recv`` up to a newline, the end of the stream, or ``limit`` bytes."""
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = recv(min(65536, limit - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def ask_agent(place: Optional[AgentPlace], op: str, timeout: float, **fields) -> Dict:
    """One request (``op`` and ``fields``) to the user's agent on this host; its answer.  Raises AgentGone
    when none answers."""
    if place is None:
        raise AgentGone("no jenv agent runs for you on this host (there is no private directory for one): "
                        "start one with 'jenv agent start'")
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        try:
            client.connect(place.socket)
        except (FileNotFoundError, ConnectionRefusedError):
            raise AgentGone(f"no jenv agent runs for you on this host (no answer at {place.socket}): start one "
                            "with 'jenv agent start'") from None
        except OSError as exc:
            raise NotFoundError(f"cannot reach the agent at {place.socket}: {exc.strerror or exc}") from None
        client.sendall(json.dumps({"op": op, **fields}).encode("ascii") + b"\n")
        data = read_line(client.recv, 1 << 20)
    except socket.timeout:
        raise NetworkError(f"the agent at {place.socket} did not answer within {timeout:g}s") from None
    except OSError as exc:
        raise AgentGone(f"the agent at {place.socket} went away ({exc.strerror or exc})") from None
    finally:
        client.close()
    if not data:
        raise AgentGone(f"the agent at {place.socket} closed the connection without an answer (is it yours?)")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AgentGone(f"the agent at {place.socket} answered something that is not JSON") from None


def renew_through_agent(ctx: Context, store: "TokenStore", timeout: float) -> bool:
    """``jenv token`` with no usable token: when the user's agent runs on this host and keeps these very
    token files, it renews them (no passphrase asked here); True when it did.  No agent (no socket at its
    fixed place), another token, or any failure: False, and the caller goes on as without an agent."""
    place = agent_place(ctx.environ, ctx.home, ctx.uid)
    if place is None or not os.path.exists(place.socket):
        return False
    try:
        status = ask_agent(place, "status", 5.0).get("status") or {}
        if (status.get("token_cert"), status.get("token_key")) != (store.cert.path, store.key.path):
            return False
        answer = ask_agent(place, "renew-now", timeout)
    except JenvError:
        return False
    if not answer.get("ok"):
        ctx.err(f"jenv: the agent could not renew the token: {answer.get('error')}")
    return bool(answer.get("ok"))
