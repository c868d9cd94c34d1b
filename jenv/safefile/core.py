"""Core dumps: keep the keys jenv holds out of them, and give a program jenv starts its own back.

Part of :mod:`jenv.safefile`, the one home of jenv's file rules.
"""

from __future__ import annotations

import os

__all__ = ["keep_secrets_out_of_core_dumps", "use_light_core_guard", "restore_core_dumps", "exec_with_core_dumps"]

_PROTECTED = False
#: The core-file limits jenv started with, before keep_secrets_out_of_core_dumps lowered them.
_CORE_LIMIT = None
#: The light guard of the login fast path is on: (the process's previous coredump_filter, or None).
_LIGHT: "list" = []


def _core_limit_zero() -> None:
    global _CORE_LIMIT
    try:
        import resource

        if _CORE_LIMIT is None:
            _CORE_LIMIT = resource.getrlimit(resource.RLIMIT_CORE)
        # The soft limit is what the kernel applies; the hard one stays, so nothing irreversible
        # reaches a child that jenv starts (the command of 'jenv sandbox').
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ImportError, ValueError, OSError):
        pass


def _write_coredump_filter(text: bytes) -> "bytes | None":
    """Set /proc/self/coredump_filter; its previous value, or None where there is none (not Linux)."""
    try:
        with open("/proc/self/coredump_filter", "rb+", buffering=0) as handle:
            previous = handle.read().strip()
            handle.seek(0)
            handle.write(text)
        return previous
    except OSError:
        return None


def use_light_core_guard(on: bool) -> None:
    """The guard of the login fast path (``jenv token``, ``prompt``, ``hook``), on or back off.

    There the only secret read is the token key, a 0400 file its owner can
    read at any time, so ptrace by the same user reveals nothing new; what
    must never happen is a copy in a core file or a crash collector.  That
    needs no ``ctypes`` (whose import alone costs the fast path more than
    its own work): RLIMIT_CORE 0 stops core files, and a coredump_filter of
    0 leaves all memory out of a dump piped to a crash handler.  Turning it
    off (when the command starts over on the full path) puts the filter
    back, since children inherit it; the full guard then applies.
    """
    global _PROTECTED
    if on and not _LIGHT:
        _LIGHT.append(None)
    elif not on and _LIGHT:
        previous = _LIGHT.pop()
        if previous is not None:
            _write_coredump_filter(previous)
        _PROTECTED = False


def keep_secrets_out_of_core_dumps() -> None:
    """Before a private key is read: no core file, and (Linux) not dumpable at all.

    Threat: a crash or ``kill -QUIT`` of a process that holds a decrypted key
    writes the key into a core file (or hands it to a crash collector), where
    other tools and users may read it.  RLIMIT_CORE 0 stops core files;
    ``prctl(PR_SET_DUMPABLE, 0)`` also stops ptrace attach by the same user
    and pipe-style crash handlers (it is reset by execve, so children are
    dumpable again).  Under :func:`use_light_core_guard` the filter stands in
    for prctl.  Idempotent; never raises.
    """
    global _PROTECTED
    if _PROTECTED:
        return
    _PROTECTED = True
    _core_limit_zero()
    if _LIGHT:
        if _LIGHT[0] is None:
            _LIGHT[0] = _write_coredump_filter(b"0")
        return
    if os.uname().sysname == "Linux":
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
        except (ImportError, OSError, AttributeError):
            pass


def restore_core_dumps() -> None:
    """In a child about to exec another program (``jenv exec``): the core-file limit jenv started with.

    The child holds no key of jenv's, and a batch job's crash may need its core file.  Never raises.
    """
    if _CORE_LIMIT is None:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, _CORE_LIMIT)
    except (ImportError, ValueError, OSError):
        pass


def exec_with_core_dumps(path: str, argv: "list", environ: "dict") -> None:
    """``os.execve`` with the core-file limit jenv started with (the new program holds no key of jenv's).

    Returns only by raising the exec's OSError, and then the limit is lowered again first: jenv goes
    on, and may still hold a key.
    """
    restore_core_dumps()
    try:
        os.execve(path, argv, environ)
    except OSError:
        if _PROTECTED:
            _core_limit_zero()
        raise
