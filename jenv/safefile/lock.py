"""The lock file of the token store: created 0600, never through a link, only the user's own.
Part of :mod:`jenv.safefile`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time

from jenv.errors import UnsafeFileError
from jenv.safefile.read import check_target

__all__ = ["hold_lock"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


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
