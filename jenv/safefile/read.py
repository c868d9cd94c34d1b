"""Reading small files that someone else may have put in the way: the one reader, its table of file
kinds and its size limits.

Threats: a FIFO that would block ``open`` until a writer comes, a terminal
device that would become the controlling terminal, a directory or device
where a file was expected, a symbolic link planted in a shared directory,
a file of another user (who could change it at any time), one others can
read, and a file far larger than what it claims to be.  :func:`read_small_file`
handles each, as its caller's options ask; callers turn its refusal into
their own message.  Part of :mod:`jenv.safefile`.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing
    from typing import Optional, Tuple

__all__ = ["FILE_KINDS", "file_kind", "MAX_PEM_SIZE", "MAX_CA_FILE", "MAX_TOKEN_FILE_SIZE", "MAX_STATE_FILE",
           "FileRefusedError", "FileReadError", "open_without_blocking", "read_limited", "read_regular_file", "read_small_file"]

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
