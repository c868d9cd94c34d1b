"""A token that lasts as long as a command: ``jenv exec --renew``, ``exec --for`` and ``export --for``.

* :func:`plan_cover`, before any token work: whether the token in use (its notAfter) or something that
  renews it covers the time a command asks for (``--for``), and what keeps a ``--renew`` copy fresh
  (:class:`Renewer`): the user's agent on this host (its ``issue`` request,
  :mod:`jenv.tokens.agent`), else the user key when it is not encrypted.  Neither: NotCoveredError
  (exit 13), whose message names the fix.
* :class:`FreshCopy`: the command's private copy of the pair, replaced whole by one rename.
* :class:`Keeper`: a thread that renews the copy at two thirds of its lifetime
  (:func:`jenv.tokens.agent.renew_at`) and retries a failure with the agent's backoff.
* :func:`run_kept_fresh`: the supervisor: jenv stays the command's parent, passes every signal on
  (:class:`jenv.tokens.handoff.SignalRelay`), removes the copy when the command ends, and returns its
  status.

The copy belongs to the command alone: ``token-destroy``, ``jenv user <role>`` or a token-init in the
user's shell change the token files, never the copy, and the copy keeps the role of the token the
command started with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from typing import Callable, Dict, Iterator, Mapping, NamedTuple, NoReturn, Optional, Sequence

from jenv.context import Context
from jenv.errors import InvalidInputError, JenvError, NotCoveredError, PassphraseError
from jenv.locations import TMPDIR, Locations
from jenv.safefile import (check_directory, create_new_file, make_directory, make_symbolic_link,
                           new_private_directory, rename_into_place)
from jenv.tokens.agentclient import AgentGone, agent_place, ask_agent
from jenv.tokens.check import TokenStore, check_token, token_store
from jenv.tokens.store import file_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from jenv.tokens.handoff import TokenInHand
    from jenv.tokens.memo import Verdict

__all__ = ["Renewer", "Cover", "plan_cover", "renewal_role", "FreshCopy", "fresh_copy", "Keeper", "run_kept_fresh",
           "COPY_NAMES"]

#: The names of the halves inside each generation of a copy.
COPY_NAMES = ("tokencert.pem", "tokenkey.pem")
#: The link that names the current generation; the command's paths go through it.
_CURRENT = "current"


class Renewer(NamedTuple):
    """What renews a ``--renew`` copy: ``kind`` "agent" (the user's agent on this host) or "key" (the user
    key, not encrypted); ``what`` says which, for messages."""

    kind: str
    what: str


def _agent_status(ctx: Context) -> Optional[Dict]:
    """The status of the user's agent on this host, None when none answers (no socket: one stat)."""
    place = agent_place(ctx.environ, ctx.home, ctx.uid)
    if place is None or not os.path.exists(place.socket):
        return None
    try:
        answer = ask_agent(place, "status", 5.0)
    except JenvError:
        return None
    status = answer.get("status") if isinstance(answer, dict) else None
    return status if answer.get("ok") and isinstance(status, dict) else None


def _plain_user_key(locs: Locations, now: float) -> bool:
    """The user certificate is usable and its key is not encrypted (and fits it): jenv can get a token
    without anyone typing a passphrase."""
    from jenv.jcentral.client import ClientIdentity, check_identity

    try:
        return check_identity(ClientIdentity(locs.user_cert, locs.user_key), now)[2] is not None
    except JenvError:
        return False


def find_renewer(ctx: Context, locs: Locations) -> Optional[Renewer]:
    """The agent when one answers on this host, else the user key when it is not encrypted, else None."""
    status = _agent_status(ctx)
    if status is not None:
        return Renewer("agent", f"the jenv agent (pid {status.get('pid')})")
    if _plain_user_key(locs, ctx.clock()):
        return Renewer("key", f"the user key {locs.user_key.describe()} (not encrypted)")
    return None


def _current(store: TokenStore, now: float) -> "Optional[Verdict]":
    """The verdict on the token in use when it is usable now, else None (unsafe files raise as every
    command's read does)."""
    check = check_token(store, now, 0)
    return check.verdict if check.usable else None


def _agent_keeps(status: Optional[Dict], store: TokenStore) -> bool:
    return status is not None and (status.get("token_cert"), status.get("token_key")) == \
        (store.cert.path, store.key.path)


def _longer_token(seconds: int) -> str:
    """The token-init that gives a token lasting ``seconds`` from now, when JCentral grants that long."""
    from jenv.jcentral.rules import MAX_VALIDITY_DAYS

    days = seconds // 86400 + 1
    if days > MAX_VALIDITY_DAYS["user"]:
        return ""
    return f"get a token that lasts longer ('jenv token-init -v {days}')"


class Cover(NamedTuple):
    """What :func:`plan_cover` decided: the renewer of a ``--renew`` copy (None without ``--renew``), and
    the seconds still to check once the token is in hand (None when nothing is left to check)."""

    renewer: Optional[Renewer]
    seconds: Optional[int] = None
    command: str = "exec"
    in_files: bool = True
    agent_runs: bool = False

    def confirm(self, token: "TokenInHand", now: float) -> None:
        """The check left for after the token work (the token in use was due for renewal anyway): the
        token now in hand must last ``seconds``, else NotCoveredError."""
        if self.seconds is None:
            return
        from jenv.tokens.judge import judge_pair

        verdict = judge_pair(token.cert_pem.encode("ascii", "replace"), token.key_pem.encode("ascii", "replace"))
        left = float(verdict.not_after) - now if verdict.pair == "usable" and verdict.not_after else None
        if left is None or left < self.seconds:
            _refuse(self.seconds, left, self.command, self.in_files, self.agent_runs, "the new token")


def plan_cover(ctx: Context, seconds: Optional[int], renew: bool, command: str, min_valid: int) -> Cover:
    """Before any token work: what covers the ``seconds`` a command asks for (``--for``; None when not
    given), and the renewer of a ``--renew`` copy.

    Covered: by the token in use when it is valid for that long; with ``renew``, by its renewer; for
    ``exec`` without ``renew``, by an agent that keeps these very token files fresh.  ``export``'s copies
    are never renewed: only the token counts.  A token that is renewed anyway before the command starts
    (valid for less than ``min_valid``, or none) is judged once renewed (:meth:`Cover.confirm`).  Raises
    NotCoveredError naming the fix otherwise, and for ``renew`` without a renewer or with a token that is
    not a user token."""
    if not renew and seconds is None:
        return Cover(None)  # plain exec and export: nothing to read here
    locs, store = token_store(ctx)
    now = ctx.clock()
    verdict = _current(store, now)
    if renew:
        if verdict is not None and verdict.token_type and verdict.token_type != "user":
            raise NotCoveredError(f"the token in use is a {verdict.token_type} token: only user tokens are "
                                  "renewed (by the agent or your user key); run without --renew")
        renewer = find_renewer(ctx, locs)
        if renewer is None:
            raise NotCoveredError("nothing can renew the command's token while it runs: no jenv agent runs for you "
                                  f"on this host, and {locs.user_key.describe()} is encrypted or "
                                  "unusable: start one with 'jenv agent start'")
        return Cover(renewer)
    assert seconds is not None
    left = None if verdict is None else float(verdict.not_after) - now
    if left is not None and left >= seconds:
        return Cover(None)
    status = _agent_status(ctx) if command == "exec" else None
    if store.in_files and _agent_keeps(status, store):
        return Cover(None)
    if left is None or left < min_valid:  # renewed before the command starts: the new token decides
        return Cover(None, seconds, command, store.in_files, status is not None)
    _refuse(seconds, left, command, store.in_files, status is not None, "the token")


def _spelled(seconds: int) -> str:
    """A duration as the user would type it: ``2d``, ``1d 1h 01m``, ``10m`` (no zero units)."""
    from jenv.lite.timefmt import format_duration

    return " ".join(part for part in format_duration(seconds).split() if part.rstrip("dhms").strip("0")) or "0s"


def _refuse(seconds: int, left: Optional[float], command: str, in_files: bool, agent_runs: bool,
            which: str) -> "NoReturn":
    from jenv.lite.timefmt import format_duration

    asked = f"--for {_spelled(seconds)}"
    has = "there is no valid token" if left is None else f"{which} is valid for {format_duration(int(left))} only"
    longer = _longer_token(seconds)
    if command == "export":
        fix = longer or "export again before the copies end"
        raise NotCoveredError(f"{asked}: {has}, and exported copies are never renewed: {fix}")
    if agent_runs:
        fix = "add --renew: the agent then keeps a private copy fresh"
    else:
        fix = "start jenv agent ('jenv agent start'" + ("" if in_files else ", and add --renew") + ")"
        fix += f", or {longer}" if longer else ""
    raise NotCoveredError(f"{asked}: {has}, and nothing renews it while the command runs: {fix}")


def renewal_role(verdict: "Verdict") -> Optional[str]:
    """The role to ask for when renewing a token like ``verdict``'s: None for the user's own, the role of
    a role token (``jenv user <role>``).  NotCoveredError for a token that is not a user token."""
    if verdict.token_type != "user":
        raise NotCoveredError(f"the token is a {verdict.token_type or 'unknown'} token: only user tokens are "
                              "renewed; run without --renew")
    return verdict.role if verdict.role and verdict.user and verdict.role != verdict.user else None


# --- the copy --------------------------------------------------------------------------------

class FreshCopy:
    """The command's copy of the pair, in a fresh private directory (0700, :func:`fresh_copy`)::

        <dir>/current -> gen-2            a link, replaced by one rename
        <dir>/gen-2/tokencert.pem         0400
        <dir>/gen-2/tokenkey.pem          0400

    The command's JALIEN_TOKEN_CERT/KEY are ``<dir>/current/tokencert.pem`` and ``.../tokenkey.pem``.  A
    new pair is written whole into a new generation, then the link is swapped by one rename: at no
    moment do the two paths name a missing file or the halves of two pairs (Kubernetes updates a secret
    volume the same way).  The generation before stays until the next swap, so a reader that has just
    followed the link still finds its files.  The files themselves pass jenv's token rules (regular,
    yours, 0400, no link at their names).
    """

    def __init__(self, directory: str):
        self.directory = directory
        self.generation = 0
        self.closed = False
        self._lock = threading.Lock()

    @property
    def cert(self) -> str:
        return os.path.join(self.directory, _CURRENT, COPY_NAMES[0])

    @property
    def key(self) -> str:
        return os.path.join(self.directory, _CURRENT, COPY_NAMES[1])

    def install(self, cert_pem: str, key_pem: str) -> bool:
        """Make the pair the current one; False when the copy was removed meanwhile (the command ended).
        Raises OSError when it cannot be written (the current pair stays)."""
        with self._lock:
            if self.closed:
                return False
            number = self.generation + 1
            generation = os.path.join(self.directory, f"gen-{number}")
            link = os.path.join(self.directory, f".{_CURRENT}-{number}")
            try:
                make_directory(generation, 0o700)
                for name, pem in zip(COPY_NAMES, (cert_pem, key_pem)):
                    create_new_file(os.path.join(generation, name), file_text(pem), 0o400)
                make_symbolic_link(f"gen-{number}", link)
                rename_into_place(link, os.path.join(self.directory, _CURRENT))
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(link)
                shutil.rmtree(generation, ignore_errors=True)
                raise
            self.generation = number
            shutil.rmtree(os.path.join(self.directory, f"gen-{number - 2}"), ignore_errors=True)
            return True

    def remove(self) -> None:
        """Remove the whole copy (an install under way finishes first; later ones do nothing)."""
        with self._lock:
            self.closed = True
            shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def fresh_copy(cert_pem: str, key_pem: str, environ: Mapping[str, str]) -> Iterator[FreshCopy]:
    """A :class:`FreshCopy` holding the pair, in a fresh 0700 directory of ``environ``'s TMPDIR, removed
    when the block ends.  Raises UnsafeFileError when others could rename TMPDIR's entries (as for every
    private copy)."""
    base = environ.get(TMPDIR) or tempfile.gettempdir()
    check_directory(base, "the command's private copy of the token", os.getuid())
    copy = FreshCopy(new_private_directory("jenv-renew-", base))
    try:
        copy.install(cert_pem, key_pem)
        yield copy
    finally:
        copy.remove()


# --- renewing it -----------------------------------------------------------------------------

class _Quiet:
    """A stream for a renewal's Context: what jenv would say on the way (JCentral's notices, warnings)
    stays off the command's terminal; failures are reported as one line each."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _no_prompt() -> bytearray:
    raise PassphraseError("the user key is encrypted now, and nobody can type its passphrase for a command "
                          "that runs: start 'jenv agent start'")


class Keeper(threading.Thread):
    """Renews ``copy`` through ``renewer`` at two thirds of each pair's lifetime, until :meth:`stop`.

    A failure is one line on stderr (the cause, how long the copy stays valid, the next try) and is
    retried with the agent's backoff (:func:`jenv.tokens.agent.retry_delay`): from 30 s while the copy is
    valid, from 2 s once it is not.  When the agent is gone, an unencrypted user key takes over."""

    def __init__(self, ctx: Context, locs: Locations, copy: FreshCopy, renewer: Renewer, role: Optional[str],
                 issued: float, not_after: float, margin: float):
        super().__init__(name="jenv-exec-renew", daemon=True)
        self.ctx, self.locs, self.copy, self.renewer, self.role = ctx, locs, copy, renewer, role
        self.margin = margin
        self.valid_until = not_after
        self.failures = 0
        self.renewals = 0
        self.next_try = self._plan(issued, not_after, time.time())
        self._stopped = threading.Event()

    def _plan(self, issued: float, not_after: float, now: float) -> float:
        from jenv.tokens.agent import renew_at

        return max(renew_at(issued, not_after, self.margin, 0.0), now + 1.0)

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.wait(max(self.next_try - time.time(), 0.0)):
            self.renew_once()

    def renew_once(self) -> None:
        now = time.time()
        try:
            cert_pem, key_pem = self._fetch()
            verdict = _usable(cert_pem, key_pem, now)
            if not self.copy.install(cert_pem, key_pem):
                return
        except (JenvError, OSError) as exc:
            self._failed(now, exc)
            return
        except Exception as exc:  # noqa: BLE001 - the command runs on: a bug in one renewal is a failure, retried
            self._failed(now, JenvError(f"internal error: {type(exc).__name__}: {exc}"))
            return
        self.failures, self.renewals = 0, self.renewals + 1
        self.valid_until = float(verdict.not_after)
        self.next_try = self._plan(max(float(verdict.not_before), min(now, self.valid_until)), self.valid_until,
                                   time.time())

    def _failed(self, now: float, exc: BaseException) -> None:
        from jenv.tokens.agent import retry_delay

        self.failures += 1
        valid = self.valid_until if self.valid_until > now else None
        delay = retry_delay(self.failures, now, valid)
        self.next_try = now + delay
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        held = f"it stays valid until {_stamp(valid)}" if valid else "it has expired"
        self.ctx.err(f"jenv: exec --renew: the command's token was not renewed ({cause}); {held}; next try in "
                     f"{delay:.0f}s")

    def _fetch(self):
        """(certificate PEM, key PEM) of a fresh token for the copy's role."""
        if self.renewer.kind == "agent":
            try:
                return _from_agent(self.ctx, self.role)
            except AgentGone:
                if not _plain_user_key(self.locs, self.ctx.clock()):
                    raise
        return _from_key(self.ctx, self.locs, self.role)


def _stamp(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def _usable(cert_pem: str, key_pem: str, now: float) -> "Verdict":
    """The verdict on a new pair, which must load, match and be valid now (else InvalidInputError)."""
    from jenv.tokens.judge import judge_pair

    verdict = judge_pair(cert_pem.encode("ascii", "replace"), key_pem.encode("ascii", "replace"))
    if verdict.pair != "usable" or not verdict.not_after or not verdict.not_before <= now < verdict.not_after:
        raise InvalidInputError(f"the new token is not usable ({verdict.detail or verdict.pair})")
    return verdict


def _from_agent(ctx: Context, role: Optional[str]):
    from jenv.tokens.obtain import lock_wait

    place = agent_place(ctx.environ, ctx.home, ctx.uid)
    answer = ask_agent(place, "issue", lock_wait(ctx) + 10, role=role)
    if not answer.get("ok") or not isinstance(answer.get("cert"), str) or not isinstance(answer.get("key"), str):
        error = JenvError(f"the agent could not get a token: {answer.get('error')}")
        error.exit_code = int(answer.get("exit_code") or error.exit_code)
        raise error
    return answer["cert"], answer["key"]


def _from_key(ctx: Context, locs: Locations, role: Optional[str]):
    from jenv.jcentral.protocol import TokenRequest
    from jenv.tokens.obtain import fetch_checked_token

    quiet = Context(ctx.environ, ctx.uid, ctx.home, stdout=_Quiet(), stderr=_Quiet())  # type: ignore[arg-type]
    request = TokenRequest.from_options(username=role).validate() if role else None
    pair = fetch_checked_token(quiet, locs, request, _no_prompt)
    return pair.cert_pem, pair.key_pem


def _issued(token: "TokenInHand", verdict: "Verdict", now: float) -> float:
    """When the token's lifetime began: JCentral backdates notBefore (clock skew), so the time its file
    was written counts when it lies between notBefore and now (as the agent reckons)."""
    try:
        written = os.stat(token.cert.path).st_mtime if token.cert.path else None
    except OSError:
        written = None
    start = float(verdict.not_before)
    return written if written is not None and start <= written <= now else start


def run_kept_fresh(ctx: Context, argv: Sequence[str], environ_for: Callable[[str, str], Mapping[str, str]],
                   token: "TokenInHand", renewer: Renewer, margin: float) -> int:
    """Run ``argv`` with ``environ_for(cert, key)`` naming a private copy of ``token`` that ``renewer``
    keeps fresh until the command ends; the copy is then removed.  The command's status, or ``-N`` when
    signal N ended it.  Raises NotCoveredError when ``token`` is not a user token."""
    from jenv.tokens.handoff import SignalRelay
    from jenv.tokens.judge import judge_pair

    locs = token_store(ctx)[0]
    now = ctx.clock()
    verdict = judge_pair(token.cert_pem.encode("ascii", "replace"), token.key_pem.encode("ascii", "replace"))
    role = renewal_role(verdict)
    # Signals are held from before the copy exists until it is gone: only SIGKILL leaves it behind.
    with SignalRelay() as relay, fresh_copy(token.cert_pem, token.key_pem, ctx.environ) as copy:
        keeper = Keeper(ctx, locs, copy, renewer, role, _issued(token, verdict, now), float(verdict.not_after),
                        margin)
        try:
            return relay.run(argv, environ_for(copy.cert, copy.key), started=keeper.start)
        finally:
            keeper.stop()
