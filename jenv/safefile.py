"""The one home of how jenv opens files: each function names the threat it handles.

jenv reads and writes in places it does not control: a shared ``/tmp``
(token files: other users, symbolic links, FIFOs), ``~/.globus`` and
variables that may point anywhere (user credentials: FIFOs, devices, huge
files), and CA directories (hundreds of files OpenSSL would open blindly).
Every open in jenv goes through here, so the flags are chosen once, and so
does the rule for the directories jenv writes in (:func:`check_directory`).
"""

from __future__ import annotations

import errno
import os
import stat

from jenv.errors import NotFoundError, UnsafeFileError

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing
    from typing import Optional

__all__ = ["open_without_blocking", "read_limited", "read_regular_file", "create_new_file", "check_directory",
           "PRIVATE_TMP_FIX", "open_own_file_to_append",
           "keep_secrets_out_of_core_dumps", "use_light_core_guard", "restore_core_dumps", "exec_with_core_dumps"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


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


def read_regular_file(path: str, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of a regular file, such as a CA certificate.

    Threat: a FIFO or device where a file was expected (in a CA directory or
    a bundle variable), which would hang the read for ever.  Raises OSError
    for a missing or unreadable path, and EINVAL for anything but a regular
    file.
    """
    fd = open_without_blocking(path)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return read_limited(fd, limit)
    finally:
        os.close(fd)


#: What to do when the shared token directory cannot be used safely: the login hook's private TMPDIR.
#: Said without any one shell's syntax: these messages are made where nobody knows the user's shell
#: (export in sh, setenv in csh, set -gx in fish).
PRIVATE_TMP_FIX = ("set JENV_PRIVATE_TMP to 1 (or JENV_TMPDIR to a private directory) before the jenv hook "
                   "in your login file, or set TMPDIR to a private directory (mkdir -m 700 ~/tmp)")


def check_directory(directory: str, what: str, uid: Optional[int] = None, fix: Optional[str] = None,
                    private: bool = False, stake: Optional[str] = None) -> None:
    """Refuse a missing directory for the ``what``, one that belongs to another user (who could replace
    the files there; root's directories, such as /tmp, are fine), and one that others can write: without
    the sticky bit they could rename a file of theirs over yours.  With ``private`` (the shims, which go
    on PATH, and the user certificate) a sticky shared directory is refused too: others could still put
    files of theirs beside yours there.

    Raises NotFoundError or UnsafeFileError, naming the directory, what others could replace there
    (``stake``, by default "your <what>") and the fix (``fix`` when the directory was named on the command
    line rather than by TMPDIR).
    """
    stake = stake or f"your {what}"
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
    problem = _writable_by_others(directory, st, what, private, stake)
    if problem:
        raise UnsafeFileError(problem + (fix or "set TMPDIR to a private directory (mkdir -m 700 ~/tmp, and "
                                                "TMPDIR=~/tmp in your login file)"))


def _writable_by_others(directory: str, st: os.stat_result, what: str, private: bool, stake: str) -> Optional[str]:
    """What is wrong with a directory others can write (up to the fix), or None when only its owner can,
    or (unless ``private``) when its sticky bit keeps others from renaming over what is not theirs."""
    sticky = bool(st.st_mode & stat.S_ISVTX)
    if not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or (sticky and not private):
        return None
    classes = ("g" if st.st_mode & stat.S_IWGRP else "") + ("o" if st.st_mode & stat.S_IWOTH else "")
    who, anyone = (("everyone", "anyone") if st.st_mode & stat.S_IWOTH else
                   (f"its group (gid {st.st_gid})", "any member of that group"))
    if private:
        return (f"directory {directory} of the {what} is writable by {who}, so {anyone} could put files there "
                f"beside {stake}{' (the sticky bit does not stop that)' if sticky else ''}: "
                f"run 'chmod {classes}-w {directory}', or ")
    return (f"directory {directory} of the {what} is writable by {who} and has no sticky bit, so {anyone} "
            f"could replace {stake} there: run 'chmod {classes}-w {directory}' or 'chmod +t {directory}', or ")


def create_new_file(path: str, data: bytes, mode: int, sync: bool = False) -> None:
    """Create ``path`` holding ``data``, with its final ``mode`` from the first instant.

    Threats: a window in which a key file is readable by others (the mode is
    given to ``open`` itself, never set afterwards by chmod), an existing
    file or a symbolic link planted at the name (``O_EXCL`` and
    ``O_NOFOLLOW``: FileExistsError), and a crash that leaves a short file
    (``sync=True`` fsyncs before returning).  On failure the new file is
    removed and OSError propagates.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    os.close(fd)


def open_own_file_to_append(path: str, mode: int = 0o600) -> int:
    """A write-only, append-only descriptor of ``path``: the user's own regular file, created with
    ``mode`` when missing.

    Threats: a symbolic link planted at the name, say in /tmp, that would
    send the writes into a file of the victim's (``O_NOFOLLOW``: ELOOP), a
    FIFO that would block ``open`` (``O_NONBLOCK``: ENXIO without a reader;
    any other kind: EINVAL), and a file someone else created there first to
    read what is written (EPERM when another user owns it).  Raises OSError.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | _NOFOLLOW | _CLOEXEC,
                 mode)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        if info.st_uid != os.geteuid():
            raise OSError(errno.EPERM, f"belongs to uid {info.st_uid}", path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


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
