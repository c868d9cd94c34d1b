"""The token store: check, lock, write and remove the token certificate and key.

Guarantees (see the README, "Token store"):

* reading and checking (the login fast path) is :mod:`jenv.tokens.check`,
  re-exported here; a certificate and key that do not belong together are
  never "valid".
* :func:`write_token_pair` runs under the store lock (``flock`` on a per-user
  file next to the certificate): both temporary files are complete and
  fsync-ed before the first rename, the key is renamed first and the
  certificate right after.  A failure before the renames leaves the old
  pair untouched; a failure between them puts the old key back.
* A run killed between the two renames leaves the new key next to the old
  certificate plus the complete new certificate as a temporary file;
  :func:`recover_store` (run under the lock by every writer and by any
  reader that sees a mismatch) finishes the rename, so readers never use a
  mixed pair and the next run needs no new token.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, List, Optional

from jenv.lite.timefmt import format_duration
from jenv.locations import pair_origin_problem
from jenv.errors import InvalidInputError, JenvError, LockTimeoutError, NotFoundError, UnsafeFileError
from jenv.tokens.check import TokenCheck, TokenState, TokenStore, check_token
from jenv.safefile import (check_directory, check_target, fsync_directory, hold_lock, leftover_files, only_yours,
                           private_directory, read_private_file, rename_into_place, replace_pair)

__all__ = ["TokenStore", "TokenState", "TokenCheck", "TokenLock", "LockTimeoutError", "check_token",
           "lock_store", "lock_holder", "lock_directory", "recover_store", "check_writable", "write_token_pair",
           "destroy_token_pair", "file_text"]


class TokenLock:
    """A held exclusive lock on a store (see :func:`lock_store`)."""

    def __init__(self, store: TokenStore, fd: int):
        self.store, self.fd = store, fd
        self.recovered = False  # recover_store ran under this lock: nothing is left to repair


@contextlib.contextmanager
def lock_store(store: TokenStore, wait: float) -> Iterator[TokenLock]:
    """Hold the store's exclusive lock; waits at most ``wait`` seconds for another jenv.

    Raises UnsafeFileError (the lock file is a link, not ours, ...; no place
    for it, see :func:`lock_directory`), NotFoundError (no directory) and
    LockTimeoutError.
    """
    for directory in store.directories():
        check_directory(directory, "token files", store.uid)
    lock_path = os.path.join(lock_directory(store), store.lock_name)
    holding = hold_lock(lock_path, store.uid, wait)
    try:
        fd = holding.__enter__()
    except TimeoutError:  # only the wait: a timeout inside the block (the network's) is not the lock's
        raise LockTimeoutError(f"{lock_holder(lock_path)} has held the lock {lock_path} for {format_duration(wait)} "
                               "(a jenv getting a token or waiting for a passphrase): try again when it is done"
                               ) from None
    try:
        yield TokenLock(store, fd)
    finally:
        holding.__exit__(None, None, None)


def lock_holder(path: str) -> str:
    """Who holds the ``flock`` on ``path``: "pid N (its command line)" as Linux's /proc/locks and /proc/N/cmdline
    tell, or "another process" where they do not (another system, another PID namespace, a lock since
    released)."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return "another process"
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[0] == "->" or not fields[4].isdigit():
            continue  # "->": a waiter, not the holder
        device = fields[5].rsplit(":", 1)
        try:
            major, minor = (int(part, 16) for part in device[0].split(":"))
            same = (major, minor, int(device[1])) == (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
        except (ValueError, IndexError):
            continue
        if same and int(fields[4]) > 0:
            return f"pid {fields[4]}{_command_line(fields[4])}"
    return "another process"


def _command_line(pid: str) -> str:
    """`` (argv joined by spaces, shortened)``, or "" when it cannot be read."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read(4096).rstrip(b"\0").split(b"\0")
    except OSError:
        return ""
    text = " ".join(word.decode("utf-8", "replace") for word in words).strip()
    return f" ({text[:77] + '...' if len(text) > 80 else text})" if text else ""


def lock_directory(store: TokenStore) -> str:
    """Where the store's lock goes: the first private place of ``store.lock_dirs`` ($XDG_RUNTIME_DIR,
    ~/.cache/jenv), else, when there is none (HOME is /, missing or read-only), the token directory itself
    if nobody else can write it (a private TMPDIR): nobody can pre-create the lock there either.

    Raises UnsafeFileError, naming the fix, when neither will do (the token directory is a shared /tmp).
    """
    token_dir = os.path.dirname(store.cert.path or "") or "."
    fix = ("set HOME to your home directory (the lock goes in ~/.cache/jenv), or TMPDIR to a private directory "
           "of yours (mkdir -m 700 <dir>), where the lock can go beside the token")
    try:
        return private_directory(store.lock_dirs, store.uid, fix)
    except UnsafeFileError:
        if only_yours(token_dir, store.uid):
            return token_dir
        raise


def file_text(pem: str) -> bytes:
    """PEM text as written to a file: unchanged, with one final newline (like the official client)."""
    data = pem.encode("ascii", "replace")
    return data if data.endswith(b"\n") else data + b"\n"


def recover_store(lock: TokenLock) -> Optional[str]:
    """Finish or undo a write that was killed, and remove temporary files of dead runs.

    Call with the lock held.  Returns a sentence describing a repair, or None.
    Runs once per lock: while it is held, no other jenv can leave anything behind.
    """
    store = lock.store
    if not store.in_files or lock.recovered:
        return None
    lock.recovered = True
    cert_path, key_path = store.cert.path, store.key.path
    assert cert_path is not None and key_path is not None
    cert_left, key_left = leftover_files(cert_path, store.uid), leftover_files(key_path, store.uid)
    repaired = None
    if cert_left or key_left:
        repaired = _finish_interrupted(store, cert_left, key_left)
    for path, _kind in cert_left + key_left:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return repaired


def _current(path: str, store: TokenStore, what: str) -> Optional[bytes]:
    try:
        return read_private_file(path, store.uid, what)
    except JenvError:
        return None


def _finish_interrupted(store: TokenStore, cert_left, key_left) -> Optional[str]:
    cert_path, key_path = store.cert.path, store.key.path
    assert cert_path is not None and key_path is not None
    cert_pem, key_pem = _current(cert_path, store, "token certificate"), _current(key_path, store, "token key")
    from jenv.tokens.judge import pair_usable

    if cert_pem is None or key_pem is None or pair_usable(cert_pem, key_pem):
        return None
    # Roll forward: the new certificate was complete before the key was renamed.
    if _promote(store, cert_left, "tmp", cert_path, lambda candidate: pair_usable(candidate, key_pem)):
        return f"finished the interrupted token write ({cert_path})"
    # Roll back: the saved old key still matches the old certificate.
    if _promote(store, key_left, "old", key_path, lambda candidate: pair_usable(cert_pem, candidate)):
        return f"restored the token key of an interrupted write ({key_path})"
    return None


def _promote(store: TokenStore, leftovers, kind: str, target: str, fits) -> bool:
    """Rename the first leftover of ``kind`` for which ``fits(content)`` holds onto ``target``."""
    for path, found_kind in leftovers:
        candidate = _current(path, store, "leftover token file")
        if found_kind == kind and candidate and fits(candidate):
            rename_into_place(path, target)
            return True
    return False


def check_writable(store: TokenStore) -> None:
    """Refuse, before asking JCentral, a store that :func:`write_token_pair` would refuse.

    Raises InvalidInputError (PEM content, no files), NotFoundError or UnsafeFileError.
    """
    for loc in (store.cert, store.key):
        if loc.problem is not None:
            raise InvalidInputError(loc.problem)
    problem = pair_origin_problem(store.cert, store.key, store.uid)
    if problem is not None:  # never half a pair in a default place
        raise InvalidInputError(problem)
    if not store.in_files:
        raise InvalidInputError("the token is given as PEM content in JALIEN_TOKEN_CERT/KEY, not as files: "
                                "unset them to let jenv write the token files")
    for directory in store.directories():
        check_directory(directory, "token files", store.uid)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise UnsafeFileError(f"directory {directory} of the token files is read-only for you: set TMPDIR "
                                  "to a private directory you can write (mkdir -m 700 ~/tmp, and TMPDIR=~/tmp in your login file)")
    for loc in (store.key, store.cert):
        assert loc.path is not None
        check_target(loc.path, store.uid, loc.what)


def write_token_pair(lock: TokenLock, cert_pem: str, key_pem: str) -> None:
    """Replace the token files with a new pair, atomically per file and never mixed (see module doc).

    Call with the store's lock held.  Raises UnsafeFileError (unsafe target or
    directory), NotFoundError (cannot write: the message says why); in every
    failure case the previous pair is left exactly as it was.
    """
    store = lock.store
    check_writable(store)
    recover_store(lock)
    cert_path, key_path = store.cert.path, store.key.path
    assert cert_path is not None and key_path is not None
    key_exists = check_target(key_path, store.uid, store.key.what)
    had_token = check_target(cert_path, store.uid, store.cert.what) or key_exists
    try:  # the key first: a run killed between the renames leaves the new certificate to roll forward to
        replace_pair((key_path, file_text(key_pem), 0o400), (cert_path, file_text(cert_pem), 0o400))
    except OSError as exc:
        raise NotFoundError(_write_failure(store, exc, had_token)) from None


def _write_failure(store: TokenStore, exc: OSError, had_token: bool) -> str:
    """What a failed write did (nothing) and what to do: free space, or another directory."""
    import errno

    directory = os.path.dirname(store.cert.path or "")
    what = "the previous token is unchanged" if had_token else "no token was written"
    if store.cert.variable:
        elsewhere = "point JALIEN_TOKEN_CERT and JALIEN_TOKEN_KEY at another directory"
    elif store.cert.source == "default":
        elsewhere = "set TMPDIR to a private directory on another filesystem"
    else:  # the copies of export --to
        elsewhere = "choose a directory on another filesystem"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = f"free some space there (df -h {directory}), or {elsewhere}"
    else:
        fix = elsewhere
    return f"cannot write the token to {directory}: {exc.strerror or exc}; {what}: {fix}"


def destroy_token_pair(lock: TokenLock) -> List[str]:
    """Remove the token files; returns the paths removed.

    Only regular files of the user are removed: anything else raises
    UnsafeFileError before anything is removed.
    """
    store = lock.store
    if not store.in_files:
        return []
    recover_store(lock)
    # Checked in the order every reader checks them (certificate first), so a planted file gets the same
    # line here as from 'jenv token'; removed key first.
    present = [loc.path for loc in (store.cert, store.key)
               if loc.path is not None and check_target(loc.path, store.uid, loc.what, private=False)]
    removed = []
    for path in reversed(present):
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise NotFoundError(f"cannot remove {path}: {exc.strerror}") from None
        removed.append(path)
    for directory in store.directories():
        fsync_directory(directory)
    return removed
