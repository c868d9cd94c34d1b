"""The rules for files in a shared directory such as /tmp: the token files and jenv's private state.

The token files normally live in ``/tmp``, which every user of the machine
can write to.  The rules, applied to each such file:

* a symbolic link is never followed (``O_NOFOLLOW``), a non-regular file is
  never read or replaced, and a file owned by another user is never read,
  replaced or chmod-ed: each refusal names the path and the fix;
* a file readable or writable by group or others is refused (jenv writes
  0400; the official client writes 0400 too).

The rule for their directories is :func:`jenv.safefile.dirs.check_directory`.
Part of :mod:`jenv.safefile`; nothing here imports ``cryptography``.
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
from jenv.safefile.read import MAX_TOKEN_FILE_SIZE, FileReadError, FileRefusedError, file_kind, read_small_file

__all__ = ["lstat_if_there", "lstat_checked", "check_target", "read_checked", "read_private_file"]


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
