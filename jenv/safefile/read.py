"""Reading small files that someone else may have put in the way: the one reader, its table of file
kinds and its size limits.

Threats: a FIFO that would block ``open`` until a writer comes, a terminal
device that would become the controlling terminal, a directory or device
where a file was expected, a symbolic link planted in a shared directory,
a file of another user (who could change it at any time), one others can
read, and a file far larger than what it claims to be.  :func:`read_small_file`
handles each, as its caller's options ask; callers turn its refusal into
their own message.

The token files and jenv's private state live in a shared directory such as /tmp, which every user of
the machine can write to; :func:`read_checked` applies their rules with their messages:

* a symbolic link is never followed (``O_NOFOLLOW``), a non-regular file is
  never read or replaced, and a file owned by another user is never read,
  replaced or chmod-ed: each refusal names the path and the fix;
* a file readable or writable by group or others is refused (jenv writes
  0400; the official client writes 0400 too).

The rule for their directories is :func:`jenv.safefile.dirs.check_directory`.  Part of
:mod:`jenv.safefile`; nothing here imports ``cryptography``.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing
    from typing import Optional, Tuple

from jenv.errors import InvalidInputError, NotFoundError, UnsafeFileError
from jenv.safefile.core import keep_secrets_out_of_core_dumps
from jenv.safefile.dirs import PRIVATE_TMP_FIX

__all__ = ["FILE_KINDS", "file_kind", "MAX_PEM_SIZE", "MAX_CA_FILE", "MAX_TOKEN_FILE_SIZE", "MAX_STATE_FILE",
           "FileRefusedError", "FileReadError", "open_without_blocking", "read_limited", "read_regular_file",
           "read_small_file", "lstat_if_there", "lstat_checked", "check_target", "read_checked", "read_private_file"]

#: What is not a regular file, as messages name it ("... is a FIFO, not a file").
FILE_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
              stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFLNK: "a symbolic link"}

#: No certificate, key or token is anywhere near this; a larger file is a mistake.
MAX_PEM_SIZE = 1 << 20
#: A CA file or bundle larger than this is not one (a full IGTF bundle is about 1 MB).
MAX_CA_FILE = 16 << 20
#: A token certificate or key is a few kilobytes; anything larger is not one.
MAX_TOKEN_FILE_SIZE = 64 * 1024
#: jenv's own small state files (a line or two of numbers and names).
MAX_STATE_FILE = 4096

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def file_kind(mode: int) -> Optional[str]:
    """What a file of ``mode`` (``st_mode``) is when it is not a regular file ("a FIFO", ...), else None."""
    return FILE_KINDS.get(stat.S_IFMT(mode), None if stat.S_ISREG(mode) else "not a regular file")


class FileRefusedError(OSError):
    """:func:`read_small_file` refused what it opened: ``reason`` is "kind" (not a regular file), "owner"
    (another user's), "mode" (open to others) or "size" (larger than the limit); ``st`` its fstat."""

    def __init__(self, path: str, reason: str, st: os.stat_result):
        super().__init__(errno.EINVAL if reason in ("kind", "size") else errno.EPERM, _REASONS[reason], path)
        self.reason, self.st = reason, st


class FileReadError(OSError):
    """:func:`read_small_file` opened the file but could not read it (EIO, ...): errno and strerror are
    the read's."""


_REASONS = {"kind": "not a regular file", "owner": "belongs to another user", "mode": "open to other users",
            "size": "too large"}


def open_without_blocking(path: str, follow_links: bool = True) -> int:
    """A read-only descriptor that cannot hang or grab a terminal.

    Threats: a FIFO that would block ``open`` until a writer comes
    (``O_NONBLOCK``), a terminal device that would become the controlling
    terminal (``O_NOCTTY``), and, with ``follow_links=False`` (shared
    directories), a symbolic link planted by someone else (``O_NOFOLLOW``,
    which fails with ELOOP).  Callers ``fstat`` the descriptor before
    reading.  Raises OSError.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | _CLOEXEC | (0 if follow_links else _NOFOLLOW)
    return os.open(path, flags)


def read_limited(fd: int, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes from ``fd`` (callers compare with ``limit``: a 100 MB "key" is refused
    after one read, never loaded whole)."""
    chunks, total = [], 0
    while total <= limit:
        chunk = os.read(fd, min(65536, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_small_file(path: str, limit: int, follow_links: bool = True, uid: Optional[int] = None,
                    private: bool = False, missing_ok: bool = False,
                    whole: bool = True) -> Optional[Tuple[bytes, os.stat_result]]:
    """(bytes, fstat of what was read) of the small regular file ``path``; None when it is missing and
    ``missing_ok``.

    The one reader of small files: never blocks (:func:`open_without_blocking`), follows a symbolic
    link only when ``follow_links`` (else OSError ELOOP), and checks the descriptor it reads, not the
    name: a regular file, owned by ``uid`` when given, not open to group or others when ``private``,
    at most ``limit`` bytes (with ``whole=False``: its first ``limit`` bytes, whatever its size).
    Raises FileRefusedError (an OSError) for a refusal, FileReadError (an OSError) when it cannot be
    read, and the open's OSError when it cannot be opened.
    """
    try:
        fd = open_without_blocking(path, follow_links)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefusedError(path, "kind", st)
        if uid is not None and st.st_uid != uid:
            raise FileRefusedError(path, "owner", st)
        if private and st.st_mode & 0o077:
            raise FileRefusedError(path, "mode", st)
        if whole and st.st_size > limit:
            raise FileRefusedError(path, "size", st)
        try:
            data = read_limited(fd, limit)
        except OSError as exc:
            raise FileReadError(exc.errno, exc.strerror, path) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        if whole:
            raise FileRefusedError(path, "size", st)
        data = data[:limit]
    return data, st


def read_regular_file(path: str, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of a regular file, such as a CA certificate (callers compare with
    ``limit``: a bundle variable pointing at a huge file is named as too large).

    Threat: a FIFO or device where a file was expected (in a CA directory or
    a bundle variable), which would hang the read for ever.  Raises OSError
    for a missing or unreadable path, and EINVAL for anything but a regular
    file.
    """
    found = read_small_file(path, limit + 1, whole=False)
    assert found is not None  # missing_ok is off
    return found[0]


def _remove_hint(path: str) -> str:
    return f"remove it yourself if it is yours (rm {path}), or set TMPDIR to a private directory"


def _problem(path: str, st: os.stat_result, uid: int, what: str, private: bool = True) -> Optional[str]:
    kind = None if stat.S_ISREG(st.st_mode) else file_kind(st.st_mode)
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


def lstat_checked(path: str, uid: int, what: str, private: bool = True) -> Optional[os.stat_result]:
    """``os.lstat(path)`` of a file that passes the token files' rules, or None when nothing is there.

    Raises UnsafeFileError for a link, a non-regular file, another user's
    file or (when ``private``) a file open to others.
    """
    st = lstat_if_there(path, what)
    if st is not None:
        problem = _problem(path, st, uid, what, private)
        if problem:
            raise UnsafeFileError(problem)
    return st


def check_target(path: str, uid: int, what: str, private: bool = True) -> bool:
    """Whether a file may be replaced at ``path``: True when it exists, False when absent (raises as
    :func:`lstat_checked`)."""
    return lstat_checked(path, uid, what, private) is not None


def read_private_file(path: str, uid: int, what: str, private: bool = True, limit: int = MAX_TOKEN_FILE_SIZE,
                      guard: Optional[bool] = None) -> Optional[bytes]:
    """The bytes of a token file, or None when it does not exist (see :func:`read_checked`)."""
    found = read_checked(path, uid, what, private, limit, guard)
    return None if found is None else found[0]


def read_checked(path: str, uid: int, what: str, private: bool = True, limit: int = MAX_TOKEN_FILE_SIZE,
                 guard: Optional[bool] = None) -> Optional[Tuple[bytes, os.stat_result]]:
    """(bytes, fstat of what was read) of a token file, or None when it does not exist.

    The reader of the token files and of jenv's private state (:func:`jenv.safefile.read.read_small_file`
    without links, owned by ``uid``): never follows a symbolic link, never blocks on a FIFO, reads at
    most ``limit`` bytes.  Raises UnsafeFileError (link, not a file, other owner, open to others when
    ``private``) or NotFoundError (unreadable, too large).  A file that may hold a key (``guard``, by
    default ``private``) first keeps core dumps off.
    """
    if private if guard is None else guard:
        keep_secrets_out_of_core_dumps()
    try:
        return read_small_file(path, limit, follow_links=False, uid=uid, private=private, missing_ok=True)
    except FileRefusedError as exc:
        _refuse(path, exc.st, uid, what, private, limit)
        return None  # unreachable: _refuse raises
    except FileReadError as exc:
        raise NotFoundError(f"{what} {path} cannot be read: {exc.strerror}") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EACCES, errno.EPERM, errno.ENXIO):
            lstat_checked(path, uid, what, private)  # a link, another user's file: the message with its fix
        raise NotFoundError(f"{what} {path} cannot be opened: {exc.strerror}") from None


def _refuse(path: str, st: os.stat_result, uid: int, what: str, private: bool, limit: int) -> None:
    """Raise the token files' message for what :func:`read_small_file` refused."""
    problem = _problem(path, st, uid, what, private)
    if problem:
        raise UnsafeFileError(problem)
    size = f"{st.st_size} bytes, too large" if st.st_size > limit else "too large"
    raise InvalidInputError(f"{what} {path} is {size} for a token: remove it (rm {path}) and run 'jenv token-init'")
