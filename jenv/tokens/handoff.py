"""Handing the token to what runs outside the login shell: batch jobs, containers, child commands, curl.

* :func:`token_in_hand`: the token, valid for ``min_valid`` seconds, renewed first when it is in
  files (prompting only at a terminal), taken from the variables when they hold PEM content;
* :func:`ca_exports`: where the CA store is, as the variable that names it (absolute);
* :func:`copy_token`: the pair copied into a directory under the token files' own rules
  (:mod:`jenv.tokens.store`: a private directory, no link, no other user's file, atomic renames);
* :func:`token_files`: paths for the pair while a block runs: the token files themselves, or
  private temporary copies of PEM content, removed when the block ends;
* :func:`scrubbed`: an environment without any grid credential, and :func:`scrubbed_environment`: one
  where every credential variable and TMPDIR lead into an empty private directory, which
  :func:`remove_when_done` removes once the command has ended;
* :class:`SignalRelay`: run a command, every catchable signal passed on to it (held
  back from jenv meanwhile, so nothing short of SIGKILL ends jenv before it cleans up), its status
  returned; it gets back the core-file limit that jenv lowered while it held the key.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from typing import Callable, Dict, Iterator, Mapping, NamedTuple, Optional, Sequence, Tuple

from jenv.context import Context
from jenv.credentials import materialize_pair
from jenv.errors import NotFoundError, UsageError
from jenv.safefile import (check_directory, exec_with_core_dumps, make_directory, new_private_directory,
                           private_directory, restore_core_dumps)
from jenv.locations import JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY, TMPDIR, X509_CERT_DIR, X509_CERT_FILE, X509_USER_CERT, \
    X509_USER_KEY, Location, lock_directories, resolve_ca_store
from jenv.tokens.obtain import ensure_token, fetch_checked_token, lock_wait
from jenv.tokens.check import token_store
from jenv.tokens.store import TokenStore, check_token, lock_store, write_token_pair

__all__ = ["TokenInHand", "token_in_hand", "lasting_token_paths", "ca_exports", "check_export_directory", "copy_token", "copy_names",
           "token_files", "scrubbed", "scrubbed_environment", "remove_when_done", "SCRUBBED_NAMES",
           "SCRUBBED_PREFIXES", "RELAYED_SIGNALS", "SignalRelay", "become", "command_path"]


class TokenInHand(NamedTuple):
    """A usable token: its locations (paths, or PEM content) and its PEM text."""

    cert: Location
    key: Location
    cert_pem: str
    key_pem: str

    @property
    def in_files(self) -> bool:
        return self.cert.path is not None and self.key.path is not None


def token_in_hand(ctx: Context, min_valid: int) -> TokenInHand:
    """The token, valid for at least ``min_valid`` seconds (see the module doc)."""
    locs, store = token_store(ctx)
    if store.in_files:
        check = ensure_token(ctx, locs, store, min_valid, need_pem=True)
        assert check.cert_pem is not None and check.key_pem is not None
        return TokenInHand(store.cert, store.key, check.cert_pem.decode("ascii", "replace"),
                           check.key_pem.decode("ascii", "replace"))
    check = check_token(store, ctx.clock(), min_valid, need_pem=True)
    if check.usable and check.cert_pem is not None and check.key_pem is not None:
        cert_pem, key_pem = check.cert_pem.decode("ascii", "replace"), check.key_pem.decode("ascii", "replace")
    else:  # PEM content that is too old: a fresh token, kept in memory like the content was
        pair = fetch_checked_token(ctx, locs, None)
        cert_pem, key_pem = pair.cert_pem, pair.key_pem
    return TokenInHand(store.cert._replace(pem=cert_pem, path=None), store.key._replace(pem=key_pem, path=None),
                       cert_pem, key_pem)


def ca_exports(ctx: Context) -> Dict[str, str]:
    """``{"X509_CERT_DIR": dir}`` or ``{"X509_CERT_FILE": bundle}`` for the CA store jenv uses ({} when none)."""
    store = resolve_ca_store(ctx.environ, ctx.home)
    if store.path is None:
        return {}
    return {X509_CERT_DIR if store.kind == "dir" else X509_CERT_FILE: os.path.abspath(store.path)}


def copy_names(uid: int) -> Tuple[str, str]:
    """The names of the copies in an export directory: those of the default token files."""
    return f"tokencert_{uid}.pem", f"tokenkey_{uid}.pem"


def copy_token(ctx: Context, token: TokenInHand, directory: str) -> Tuple[str, str]:
    """Copy the pair into ``directory`` (created 0700 when missing) atomically, files 0400; returns the paths.

    The directory and the files face the token files' rules: another user's directory, one writable by
    everyone without the sticky bit, a link or someone else's file at a name are refused
    (UnsafeFileError), and the previous copies stay as they were on any failure.
    """
    directory = os.path.abspath(directory)
    try:
        make_directory(directory, 0o700)
    except OSError as exc:
        raise NotFoundError(f"cannot create the export directory {directory}: {exc.strerror}") from None
    check_export_directory(ctx, directory)
    cert_name, key_name = copy_names(ctx.uid)
    cert_path, key_path = os.path.join(directory, cert_name), os.path.join(directory, key_name)
    store = TokenStore(Location("exported token certificate", "export --to", path=cert_path),
                       Location("exported token key", "export --to", path=key_path), ctx.uid,
                       lock_directories(ctx.environ, ctx.home))
    with lock_store(store, lock_wait(ctx)) as lock:
        write_token_pair(lock, token.cert_pem, token.key_pem)
    return cert_path, key_path


def lasting_token_paths(ctx: Context, min_valid: int) -> Tuple[str, str]:
    """Paths of the token that outlive jenv: the token files, or (PEM content) private copies kept in
    $XDG_RUNTIME_DIR/jenv-args or ~/.cache/jenv/jenv-args, replaced at each call."""
    token = token_in_hand(ctx, min_valid)
    if token.in_files:
        assert token.cert.path is not None and token.key.path is not None
        return token.cert.path, token.key.path
    home = private_directory(lock_directories(ctx.environ, ctx.home), ctx.uid)
    return copy_token(ctx, token, os.path.join(home, "jenv-args"))


def check_export_directory(ctx: Context, directory: str) -> None:
    """Refuse an existing export directory that :func:`copy_token` would refuse (before any token work);
    a missing one is fine (it is created 0700)."""
    directory = os.path.abspath(directory)
    if os.path.lexists(directory):
        check_directory(directory, "exported token", ctx.uid,
                        fix=f"choose a directory of your own (mkdir -m 700 {directory}, or another --to)")


@contextlib.contextmanager
def token_files(token: TokenInHand) -> Iterator[Tuple[str, str]]:
    """(certificate path, key path) for the block: the token files, or private temporary copies
    (0600, side by side in a fresh 0700 directory, :func:`jenv.credentials.materialize_pair`) removed when
    it ends."""
    with materialize_pair(token.cert, token.key) as paths:
        yield paths


#: The variables that carry a grid identity (exact names and prefixes), with the copies that apptainer
#: and singularity turn into the container's variables.
SCRUBBED_NAMES = ("X509_USER_PROXY",)
SCRUBBED_PREFIXES = ("JALIEN_TOKEN_", "X509_USER_")
_CONTAINER_PREFIXES = ("", "APPTAINERENV_", "SINGULARITYENV_")


def scrubbed(environ: Mapping[str, str]) -> Dict[str, str]:
    """``environ`` without JALIEN_TOKEN_*, X509_USER_* (X509_USER_PROXY included) and their
    APPTAINERENV_/SINGULARITYENV_ copies."""
    def credential(name: str) -> bool:
        for outer in _CONTAINER_PREFIXES:
            if name.startswith(outer):
                inner = name[len(outer):]
                if inner in SCRUBBED_NAMES or inner.startswith(SCRUBBED_PREFIXES):
                    return True
        return False

    return {name: value for name, value in environ.items() if not credential(name)}


#: Where a scrubbed command's credential variables lead: names that do not exist, in its empty private TMPDIR.
_NOWHERE = {X509_USER_CERT: "usercert.pem", X509_USER_KEY: "userkey.pem", "X509_USER_PROXY": "x509up",
            JALIEN_TOKEN_CERT: "tokencert.pem", JALIEN_TOKEN_KEY: "tokenkey.pem"}


def scrubbed_environment(environ: Mapping[str, str], uid: int) -> Tuple[Dict[str, str], str]:
    """:func:`scrubbed` ``environ`` in which no credential can be found, and the private directory it uses.

    The variables of the user certificate, the token and the proxy name files that do not exist, in a
    fresh empty 0700 directory that is also TMPDIR, so no tool reaches ``~/.globus`` or the default token
    files through them either.  Raises NotFoundError when that directory cannot be made.
    """
    base = environ.get(TMPDIR) or "/tmp"
    try:
        directory = new_private_directory(f"jenv-scrub-{uid}-", base)
    except OSError as exc:
        raise NotFoundError(f"cannot make a private TMPDIR for the scrubbed command in {base}: {exc.strerror}: "
                            "set TMPDIR to a directory of yours") from None
    environ = scrubbed(environ)
    environ.update({name: os.path.join(directory, leaf) for name, leaf in _NOWHERE.items()}, **{TMPDIR: directory})
    return environ, directory


def remove_when_done(directory: str) -> int:
    """Remove ``directory`` once the command jenv is about to become has ended; returns a descriptor the
    command must inherit (it is made inheritable here).

    jenv's process becomes the command (exec), so the removal is left to a small detached process (its
    own session, no terminal, stdio on /dev/null) that waits for the end of a pipe: the command, and
    whatever it starts that keeps the descriptor, hold the other end.  The remover does not follow links
    out of the directory (shutil.rmtree's descriptor-based walk).
    """
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:  # a child that starts the remover and leaves at once, so init adopts the remover
        try:
            os.setsid()
            if os.fork() == 0:
                _remove_at_eof(read_end, write_end, directory)
        finally:
            os._exit(0)
    os.close(read_end)
    os.waitpid(middle, 0)
    os.set_inheritable(write_end, True)
    return write_end


def _remove_at_eof(read_end: int, write_end: int, directory: str) -> None:
    """The remover of :func:`remove_when_done`; never returns."""
    try:
        os.close(write_end)
        for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTSTP):
            signal.signal(signum, signal.SIG_IGN)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        keep = sorted({0, 1, 2, read_end})
        for low, high in zip(keep, keep[1:] + [os.sysconf("SC_OPEN_MAX")]):
            os.closerange(low + 1, high)
        while os.read(read_end, 4096):
            pass
        shutil.rmtree(directory, ignore_errors=True)
    finally:
        os._exit(0)

#: Nobody can relay SIGKILL or SIGSTOP (they cannot be caught), and SIGCHLD is news of jenv's own child.
_NOT_RELAYED = frozenset({signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD})
#: Every other signal, real-time ones included: passed on to the command while it runs (:class:`SignalRelay`).
RELAYED_SIGNALS = frozenset(signal.valid_signals()) - _NOT_RELAYED
#: What a terminal sends to its whole foreground group: keys (Ctrl-C, Ctrl-\\, Ctrl-Z), a new window size,
#: a hangup.
_TERMINAL_SIGNALS = frozenset({signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGWINCH, signal.SIGHUP})
_STOP_SIGNALS = frozenset({signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
#: si_code of a signal the kernel itself sent (a terminal's, for one); kill(2) gives SI_USER.
_SI_KERNEL = 0x80


def _sent_to_the_group(signum: int, code: Optional[int], child_pid: int) -> bool:
    """Whether the kernel sent ``signum`` to jenv's whole process group, the command included (Ctrl-C at a
    terminal reaches the foreground group): passing it on as well would give the command a second one.
    A kill(2) aimed at jenv alone is always passed on.  ``code`` is the si_code (None where unknown)."""
    if signum not in _TERMINAL_SIGNALS or code not in (None, _SI_KERNEL):
        return False
    try:
        return os.getpgid(child_pid) == os.getpgrp()
    except OSError:
        return False


def _parent_death_signal():
    """Linux's prctl(PR_SET_PDEATHSIG, SIGKILL) for a child about to exec, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        if os.getppid() != parent:  # jenv was killed before the call took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


def _next_signal(watched, timeout: float) -> Optional[Tuple[int, Optional[int]]]:
    """(signal number, si_code) of the next of the blocked ``watched`` signals, None after ``timeout``."""
    if hasattr(signal, "sigtimedwait"):
        info = signal.sigtimedwait(watched, timeout)
        return None if info is None else (info.si_signo, info.si_code)
    return signal.sigwait(watched), None  # macOS: no timeout; SIGCHLD still wakes it


def _stop_like(signum: int) -> None:
    """Stop jenv as ``signum`` (SIGTSTP, SIGTTIN, SIGTTOU) would have if it had not been held, until SIGCONT;
    nothing when jenv was started with that signal ignored."""
    if signal.getsignal(signum) != signal.SIG_DFL:
        return
    os.kill(os.getpid(), signum)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})  # delivered here: jenv stops
    signal.pthread_sigmask(signal.SIG_BLOCK, {signum})


class SignalRelay:
    """``with SignalRelay() as relay:`` holds back every catchable signal (:data:`RELAYED_SIGNALS`) for
    the block, so nothing but SIGKILL ends jenv inside it (and what it must remove is removed);
    ``relay.run(argv, environ)`` starts the command and passes each signal on to it, those that came
    before it started included, until it ends.  On Linux a jenv that is SIGKILLed takes the command
    along (PR_SET_PDEATHSIG), as a batch system that kills the job expects, and as it is when the
    command takes jenv's place (:func:`become`).

    Signals the kernel sent to the whole process group (Ctrl-C at a terminal) reached the command too and
    are not passed a second time.  A stop signal stops the command and then jenv; SIGCONT is passed on.
    Signals that come after the command ended were meant for it and are dropped; when no command was
    started they act as usual when the block ends.
    """

    def __enter__(self) -> "SignalRelay":
        self.started = False
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, RELAYED_SIGNALS | {signal.SIGCHLD})
        # An inherited SIG_IGN would have the kernel reap the command behind subprocess's back.
        self._chld = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.started and hasattr(signal, "sigtimedwait"):
            while signal.sigtimedwait(RELAYED_SIGNALS, 0) is not None:
                pass
        signal.signal(signal.SIGCHLD, self._chld)
        signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)

    def run(self, argv: Sequence[str], environ: Mapping[str, str],
            started: Optional[Callable[[], None]] = None) -> int:
        """Run ``argv`` with ``environ``, relaying signals to it; its exit status, or ``-N`` when signal N
        ended it (as subprocess reports it).  ``started()`` is called once it runs (a thread that must not
        exist at the fork starts there).  Raises UsageError when it cannot be started."""
        arm = _parent_death_signal()
        mask = self._mask

        def prepare() -> None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the command starts with jenv's own mask
            restore_core_dumps()
            if arm is not None:
                arm()

        try:
            child = subprocess.Popen(list(argv), env=dict(environ), preexec_fn=prepare)
        except OSError as exc:
            raise UsageError(f"cannot run {argv[0]!r}: {exc.strerror}: check the command name and PATH") from None
        self.started = True
        if started is not None:
            started()
        watched = RELAYED_SIGNALS | {signal.SIGCHLD}
        while True:
            received = _next_signal(watched, 5.0)
            if child.poll() is not None:
                return child.returncode
            if received is None or received[0] == signal.SIGCHLD:
                continue
            signum, code = received
            if not _sent_to_the_group(signum, code, child.pid):
                with contextlib.suppress(OSError):
                    os.kill(child.pid, signum)
            if signum in _STOP_SIGNALS:
                _stop_like(signum)


def become(path: str, argv: Sequence[str], environ: Mapping[str, str], streams: Sequence = ()) -> None:
    """Replace jenv by ``argv`` (execve of ``path``, from :func:`command_path`): the command keeps jenv's
    pid, so every signal, a batch system's SIGKILL included, is its own, and nothing is left behind.

    Returns only by raising UsageError (the exec failed).  What Python changed at start-up is put back
    first, as subprocess does for a child: SIGPIPE and SIGXFSZ to their default action, and the
    core-file limit jenv started with.  ``streams`` (the command's own output streams) are flushed first,
    with the process's.
    """
    for stream in (*streams, sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    ignored = {}
    for name in ("SIGPIPE", "SIGXFSZ"):
        signum = getattr(signal, name, None)
        if signum is not None:
            ignored[signum] = signal.signal(signum, signal.SIG_DFL)
    try:
        exec_with_core_dumps(path, list(argv), dict(environ))
    except OSError as exc:
        for signum, handler in ignored.items():
            signal.signal(signum, handler)
        raise UsageError(f"cannot run {argv[0]!r}: {exc.strerror}: check the command name and PATH") from None


def command_path(argv: Sequence[str], environ: Mapping[str, str]) -> Optional[str]:
    """Where ``argv[0]`` is on the child's PATH (None when nowhere), checked before a token is fetched."""
    import shutil

    if "/" in argv[0]:
        return argv[0] if os.access(argv[0], os.X_OK) else None
    return shutil.which(argv[0], path=environ.get("PATH", os.defpath))
