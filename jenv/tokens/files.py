"""Safe file primitives for the token files in a shared directory such as /tmp.

The token files normally live in ``/tmp``, which every user of the machine
can write to.  The rules, applied to each token file and its directory:

* a symbolic link is never followed (``O_NOFOLLOW``), a non-regular file is
  never read or replaced, and a file owned by another user is never read,
  replaced or chmod-ed: each refusal names the path and the fix;
* a token file readable or writable by group or others is refused (jenv
  writes 0400; the official client writes 0400 too);
* a directory writable by everyone without the sticky bit is refused: anyone
  could rename another file over the token there.

Temporary files are created ``O_CREAT|O_EXCL|O_NOFOLLOW`` with their final
mode (never a chmod after the fact) under umask 077, written, fsync-ed and
renamed; they have fixed names (the write holds the store's lock), so a later run finds a
killed one's leftovers by name, without listing the directory.  Nothing here imports ``cryptography``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing, no contextlib
    from typing import List, Optional, Tuple

from jenv.errors import NotFoundError, UnsafeFileError
from jenv.safefile import create_new_file, keep_secrets_out_of_core_dumps, open_without_blocking

__all__ = [
    "MAX_TOKEN_FILE_SIZE",
    "check_directory",
    "check_target",
    "lstat_if_there",
    "signals_held",
    "private_directory",
    "HELD_SIGNALS",
    "read_private_file",
    "write_temp_file",
    "fsync_directory",
    "temp_name",
    "replace_file",
    "leftover_files",
    "slot_name",
    "hold_lock",
]

#: A token certificate or key is a few kilobytes; anything larger is not one.
MAX_TOKEN_FILE_SIZE = 64 * 1024

_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a device", stat.S_IFBLK: "a device", stat.S_IFLNK: "a symbolic link"}
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _remove_hint(path: str) -> str:
    return f"remove it yourself if it is yours (rm {path}), or set TMPDIR to a private directory"


#: What to do when the shared token directory cannot be used safely: the login hook's private TMPDIR.
#: Said without any one shell's syntax: these messages are made where nobody knows the user's shell
#: (export in sh, setenv in csh, set -gx in fish).
PRIVATE_TMP_FIX = ("set JENV_PRIVATE_TMP to 1 (or JENV_TMPDIR to a private directory) before the jenv hook "
                   "in your login file, or set TMPDIR to a private directory (mkdir -m 700 ~/tmp)")


def check_directory(directory: str, what: str, uid: Optional[int] = None, fix: Optional[str] = None,
                    stake: str = "your token") -> None:
    """Refuse a missing token directory, one writable by everyone without the sticky bit, and one that
    belongs to another user (who could replace the token there); root's directories (/tmp) are fine.

    Raises NotFoundError or UnsafeFileError, naming the directory, what others could replace there
    (``stake``) and the fix (``fix`` when the directory was named on the command line rather than by TMPDIR).
    """
    try:
        st = os.stat(directory)
    except OSError as exc:
        raise NotFoundError(f"directory {directory} of the {what} cannot be used ({exc.strerror}): "
                            "create it or set TMPDIR to an existing private directory") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(f"{directory} (directory of the {what}) is not a directory: "
                              "set TMPDIR to a private directory")
    if uid is not None and st.st_uid not in (uid, 0):
        raise UnsafeFileError(f"directory {directory} of the {what} belongs to uid {st.st_uid}, not to you "
                              f"(uid {uid}), so its owner could replace {stake}: {fix or PRIVATE_TMP_FIX}")
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise UnsafeFileError(f"directory {directory} of the {what} is writable by everyone and has no sticky "
                              f"bit, so anyone could replace {stake} there: run 'chmod +t {directory}' or "
                              + (fix or "set TMPDIR to a private directory (mkdir -m 700 ~/tmp, and TMPDIR=~/tmp in your "
                                     "login file)"))


def _problem(path: str, st: os.stat_result, uid: int, what: str, private: bool = True) -> Optional[str]:
    kind = _KINDS.get(stat.S_IFMT(st.st_mode))
    if kind == "a symbolic link":
        return (f"{what} {path} is a symbolic link; jenv never follows links in the token location: "
                f"{_remove_hint(path)}")
    if kind:
        return f"{what} {path} is {kind}, not a file: {_remove_hint(path)}"
    if st.st_uid != uid:
        return (f"{what} {path} belongs to uid {st.st_uid}, not to you (uid {uid}); jenv never reads or "
                f"replaces another user's file: {PRIVATE_TMP_FIX}")
    if private and st.st_mode & 0o077:
        mode = stat.S_IMODE(st.st_mode)
        return (f"{what} {path} has mode {mode:04o}, open to other users (jenv writes 0400): "
                f"remove it (rm {path}) and run 'jenv token-init'")
    return None


def lstat_if_there(path: str, what: str) -> Optional[os.stat_result]:
    """``os.lstat(path)`` (a link is not followed), or None when nothing is there; NotFoundError otherwise."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise NotFoundError(f"{what} {path} cannot be checked: {exc.strerror}") from None


def check_target(path: str, uid: int, what: str, private: bool = True) -> bool:
    """Whether a file may be replaced at ``path``: True when it exists, False when absent.

    Raises UnsafeFileError for a link, a non-regular file, another user's
    file or (when ``private``) a file open to others.
    """
    st = lstat_if_there(path, what)
    if st is None:
        return False
    problem = _problem(path, st, uid, what, private)
    if problem:
        raise UnsafeFileError(problem)
    return True


def read_private_file(path: str, uid: int, what: str, private: bool = True) -> Optional[bytes]:
    """The bytes of a token file, or None when it does not exist.

    Never follows a symbolic link and never blocks on a FIFO.  Raises
    UnsafeFileError (link, not a file, other owner, open to others when
    ``private``) or NotFoundError (unreadable, too large).
    """
    if private:
        keep_secrets_out_of_core_dumps()
    try:
        fd = open_without_blocking(path, follow_links=False)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            check_target(path, uid, what)  # raises the symbolic-link message
        raise NotFoundError(f"{what} {path} cannot be opened: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        problem = _problem(path, st, uid, what, private)
        if problem:
            raise UnsafeFileError(problem)
        if st.st_size > MAX_TOKEN_FILE_SIZE:
            raise NotFoundError(f"{what} {path} is {st.st_size} bytes, too large for a token: "
                                f"remove it (rm {path}) and run 'jenv token-init'")
        data = os.read(fd, MAX_TOKEN_FILE_SIZE + 1)
    except OSError as exc:
        raise NotFoundError(f"{what} {path} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    return data


def temp_name(path: str, suffix: str = "tmp") -> str:
    """A fresh hidden name next to ``path`` that says which process made it."""
    directory, base = os.path.split(path)
    return os.path.join(directory, f".{base}.jenv-{os.getpid()}-{os.urandom(4).hex()}.{suffix}")


def replace_file(path: str, data: bytes, mode: int) -> None:
    """Put ``data`` at ``path`` atomically: written under a fresh :func:`temp_name` beside it, created
    with ``mode`` (:func:`jenv.safefile.create_new_file`), then renamed over ``path``.  A reader sees
    the old file or the whole new one; on failure the temporary is removed and OSError propagates.
    """
    temp = temp_name(path)
    try:
        create_new_file(temp, data, mode)
        os.replace(temp, path)
    except BaseException:
        _unlink_quietly(temp)
        raise


def slot_name(path: str, kind: str = "tmp") -> str:
    """The one name of ``path``'s temporary ("tmp") or backup ("old") file during a token write.

    Token files are written only under the store's lock, so one name per kind
    is enough, and recovery finds a killed writer's files by name: no listing
    of a shared directory (a /tmp of 100,000 files costs every renewal a
    third of a second per listing).
    """
    directory, base = os.path.split(path)
    return os.path.join(directory, f".{base}.jenv-{kind}")


def write_temp_file(path: str, data: bytes, mode: int = 0o400) -> str:
    """Write ``data`` to a new temporary file next to ``path`` and fsync it; returns its name.

    The name is :func:`slot_name`'s; when something else holds it (another
    user's planted file, which must not be able to stop renewals), a fresh
    :func:`temp_name`.  The file is created with its final ``mode`` (the
    caller sets umask 077), exclusively and without following links.  On any
    failure the temporary file is removed and OSError propagates.
    """
    name = slot_name(path)
    try:
        create_new_file(name, data, mode, sync=True)
    except FileExistsError:
        name = temp_name(path)
        create_new_file(name, data, mode, sync=True)
    return name


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def fsync_directory(directory: str) -> None:
    """Make renames in ``directory`` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def leftover_files(path: str, uid: int) -> List[Tuple[str, str]]:
    """The temporary ("tmp") and backup ("old") files a killed token write left next to ``path``.

    Call with the store's lock held: then no writer is alive, and what stands
    at :func:`slot_name`'s names is a dead one's.  Found by name (lstat), never
    by listing the directory; only regular files owned by ``uid``.
    """
    found = []
    for kind in ("tmp", "old"):
        name = slot_name(path, kind)
        try:
            st = os.lstat(name)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_uid == uid:
            found.append((name, kind))
    return found


def _open_lock_file(path: str, uid: int) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EACCES, errno.EPERM):
            check_target(path, uid, "token lock file", private=False)  # names links, directories, owners
        raise UnsafeFileError(f"token lock file {path} cannot be opened ({exc.strerror}): "
                              "set TMPDIR to a private directory") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != uid:
        os.close(fd)
        check_target(path, uid, "token lock file", private=False)
        raise UnsafeFileError(f"token lock file {path} is not your regular file: set TMPDIR to a private directory")
    return fd


def private_directory(candidates: Tuple[str, ...], uid: int) -> str:
    """The first candidate that is a directory of ``uid``'s only (mode 0700 or stricter), created 0700
    when missing (the last candidate is the user's own cache directory, so it may be made).

    Threat: a lock (or any state) in a shared directory, where another user can pre-create it.
    Raises UnsafeFileError when none is private.
    """
    problems = []
    for index, directory in enumerate(candidates):
        if index == len(candidates) - 1:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError:
                pass  # reported below, with the stat's reason
        try:
            st = os.stat(directory)
        except OSError as exc:
            problems.append(f"{directory}: {exc.strerror}")
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
            problems.append(f"{directory} is not a private directory of yours (mode 0700)")
            continue
        return directory
    raise UnsafeFileError("no private directory for the token lock (" + "; ".join(problems) + "): "
                          f"run 'mkdir -p -m 700 {candidates[-1]}'" if candidates else "no directory for the lock")


class hold_lock:
    """``with hold_lock(path, uid, wait) as fd``: an exclusive ``flock`` on the lock file ``path``
    (created 0600, never through a link).

    The block gets the descriptor.  Raises UnsafeFileError when the lock file
    is a link, not a regular file or not the user's, and TimeoutError after
    ``wait`` seconds of another holder.  The lock ends with the process too.
    """

    def __init__(self, path: str, uid: int, wait: float) -> None:
        self.path, self.uid, self.wait = path, uid, wait
        self.fd = -1

    def __enter__(self) -> int:
        fd = _open_lock_file(self.path, self.uid)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise TimeoutError(self.path) from None
                time.sleep(0.02)
            except BaseException:
                os.close(fd)
                raise
        self.fd = fd
        return fd

    def __exit__(self, *exc_info) -> None:
        os.close(self.fd)  # also releases the lock


#: The signals a user or the system sends to end jenv politely (Ctrl-C, kill, a closed terminal).
HELD_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class signals_held:
    """``with signals_held():`` holds SIGINT, SIGTERM and SIGHUP back for the block; they act (once)
    when it ends.

    Threat: a signal between the two renames of a token write, which would
    leave a new key beside the old certificate.  SIGKILL cannot be held; its
    state stays repairable (see :func:`jenv.tokens.store.recover_store`).
    Only the main thread can hold them; elsewhere the block runs as is.
    """

    def __enter__(self) -> None:
        import signal
        import threading

        self.previous = None
        if threading.current_thread() is threading.main_thread():
            held = {getattr(signal, name) for name in HELD_SIGNALS}
            self.previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)

    def __exit__(self, *exc_info) -> None:
        if self.previous is not None:
            import signal

            signal.pthread_sigmask(signal.SIG_SETMASK, self.previous)
