"""Memory for the one secret ``jenv agent`` keeps: the user key's passphrase, locked and wiped.

Threats, and the answer to each (the shape of gpg-agent's secure memory):

* the passphrase reaches swap: it lives in one anonymous page of its own, locked with ``mlock``; when
  the agent may lock all of its memory (RLIMIT_MEMLOCK unlimited, or root), ``mlockall`` locks every
  page, present and future, so the copies OpenSSL makes while it decrypts the key stay out of swap too;
* the passphrase reaches a core file or a crash collector: the process is not dumpable
  (:func:`jenv.safefile.keep_secrets_out_of_core_dumps`) and the page is ``MADV_DONTDUMP``;
* a child of the agent inherits it: the page is ``MADV_DONTFORK``;
* it outlives the agent: :meth:`LockedSecret.wipe` zeroes the page, and every copy lent out for one
  use, on every way out.

When a limit stops a lock the agent says so (its status and log) and goes on: the other guards stand.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import resource
from typing import Callable, Iterator, List, Optional, Tuple, Union

__all__ = ["LockedSecret", "lock_all_memory", "forget_bytes"]

_MCL_CURRENT, _MCL_FUTURE, _MCL_ONFAULT = 1, 2, 4


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def lock_all_memory() -> Tuple[bool, str]:
    """``mlockall`` of the whole process, when the limit allows it; (locked, what to say about it).

    Under a finite RLIMIT_MEMLOCK the agent does not try: MCL_FUTURE under a limit would make a later
    allocation fail (a MemoryError in the middle of a renewal) once the process grows past it.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft != resource.RLIM_INFINITY and os.geteuid() != 0:
        return False, (f"only the passphrase page is locked: RLIMIT_MEMLOCK is {soft // 1024} KiB (ulimit -l "
                       "unlimited, or LimitMEMLOCK=infinity in a system unit, lets the agent lock all its memory)")
    libc = _libc()
    for flags in (_MCL_CURRENT | _MCL_FUTURE | _MCL_ONFAULT, _MCL_CURRENT | _MCL_FUTURE):
        if libc.mlockall(flags) == 0:
            return True, "all memory locked (mlockall)"
    err = ctypes.get_errno()
    return False, f"mlockall failed ({os.strerror(err)}): only the passphrase page is locked"


class LockedSecret:
    """A secret in one locked, undumpable anonymous page; lent out for one use at a time, wiped at the end.

    ``locked`` says whether ``mlock`` took the page, ``lock_problem`` why not.
    """

    def __init__(self, data: Union[bytes, bytearray]):
        size = max(mmap.PAGESIZE, -(-len(data) // mmap.PAGESIZE) * mmap.PAGESIZE)
        self._page: Optional[mmap.mmap] = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        for advice in ("MADV_DONTDUMP", "MADV_DONTFORK"):
            if hasattr(mmap, advice):
                self._page.madvise(getattr(mmap, advice))
        view = ctypes.c_char.from_buffer(self._page)
        address = ctypes.addressof(view)
        del view  # an exported buffer would keep the page from closing
        self.locked = _libc().mlock(ctypes.c_void_p(address), ctypes.c_size_t(size)) == 0
        self.lock_problem = "" if self.locked else f"mlock of the passphrase page failed " \
                                                   f"({os.strerror(ctypes.get_errno())})"
        self._length = len(data)
        self._page[:self._length] = data
        self._lent: List[bytearray] = []

    @contextlib.contextmanager
    def lent(self) -> Iterator[Callable[[], bytearray]]:
        """A callable giving a copy of the secret (what OpenSSL's password callback takes); every copy it
        gave is zeroed when the block ends."""
        def give() -> bytearray:
            if self._page is None:
                raise ValueError("the secret was wiped")
            copy = bytearray(self._length)
            with memoryview(self._page) as page:  # straight from the page: no intermediate bytes object
                copy[:] = page[:self._length]
            self._lent.append(copy)
            return copy

        try:
            yield give
        finally:
            self._wipe_lent()

    def _wipe_lent(self) -> None:
        while self._lent:
            copy = self._lent.pop()
            copy[:] = bytes(len(copy))

    def wipe(self) -> None:
        """Zero the page and every copy still lent, then unmap the page.  Idempotent."""
        self._wipe_lent()
        if self._page is not None:
            self._page[:] = bytes(len(self._page))
            self._page.close()
            self._page = None
            self._length = 0


def forget_bytes(data: bytes) -> None:
    """Overwrite the buffer of a ``bytes`` object that held a secret and is about to be dropped (the
    passphrase as the terminal prompt returned it).  CPython only, and only for objects of two bytes or
    more: shorter ones are shared singletons."""
    if len(data) < 2 or not hasattr(ctypes.pythonapi, "PyBytes_AsString"):
        return
    ctypes.pythonapi.PyBytes_AsString.restype = ctypes.c_void_p
    ctypes.pythonapi.PyBytes_AsString.argtypes = [ctypes.py_object]
    ctypes.memset(ctypes.pythonapi.PyBytes_AsString(data), 0, len(data))
