"""Writing files: created with their final mode from the first instant, replaced atomically, made
durable.  Part of :mod:`jenv.safefile`.

Temporary files are created ``O_CREAT|O_EXCL|O_NOFOLLOW`` with their final
mode (never a chmod after the fact), written, fsync-ed and renamed; the token
files' temporaries have fixed names (the write holds the store's lock), so a
later run finds a killed one's leftovers by name, without listing the directory.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing
    from typing import List, Mapping, Optional, Sequence, Tuple

__all__ = ["create_new_file", "open_own_file_to_append", "temp_name", "replace_file", "slot_name",
           "write_temp_file", "fsync_directory", "leftover_files", "HELD_SIGNALS", "signals_held", "rename_into_place",
           "replace_pair", "replace_directory"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


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


def rename_into_place(source: str, target: str) -> None:
    """``os.replace(source, target)``, made durable (the directory of ``target`` is fsync-ed).  Raises
    OSError."""
    os.replace(source, target)
    fsync_directory(os.path.dirname(target))


def _link_aside(path: str) -> Optional[str]:
    """A hard link to ``path``'s current file at its "old" slot (or a fresh name when something else holds
    that), so a failed second rename can put it back; None when there is no file there or no hard link
    can be made (some network filesystems: no undo, still safe to proceed)."""
    for name in (slot_name(path, "old"), temp_name(path, "old")):
        try:
            os.link(path, name, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:
            return None
        return name
    return None


def _copy_aside(path: str, copy: str) -> bool:
    """Copy the regular file at ``path`` (never followed) to the new file ``copy``, with the same mode,
    fsync-ed; False when nothing is there.  Raises OSError."""
    from jenv.safefile.read import MAX_PEM_SIZE, read_small_file

    found = read_small_file(path, MAX_PEM_SIZE, follow_links=False, missing_ok=True)
    if found is None:
        return False
    create_new_file(copy, found[0], stat.S_IMODE(found[1].st_mode), sync=True)
    return True


def replace_pair(first: Tuple[str, bytes, int], second: Tuple[str, bytes, int], umask: int = 0o077,
                 copies: Sequence[Optional[str]] = (None, None)) -> List[str]:
    """Put two files (``(path, data, mode)`` each) in place together: a reader sees the old pair or the
    new one, never one of each that a signal or a failure left behind.

    Each file is written and fsync-ed under its :func:`slot_name` (:func:`write_temp_file`, created with
    its final ``mode`` under ``umask``), the directories are fsync-ed, then, with SIGINT, SIGTERM and
    SIGHUP held (:class:`signals_held`), the present files are first copied to ``copies`` (where a name
    is given; same mode), ``first`` is renamed into place and ``second`` right after; when the second
    rename fails, the first path's previous file (kept as a hard link) is put back.  The directories are
    fsync-ed again.  A killed run leaves its temporaries at their slot names (:func:`leftover_files`).
    Returns the copies made.  On failure every temporary is removed and OSError propagates.
    """
    directories = sorted({os.path.dirname(first[0]), os.path.dirname(second[0])})
    old_umask = os.umask(umask)
    temps: List[str] = []
    made: List[str] = []
    try:
        temps.append(write_temp_file(first[0], first[1], first[2]))
        temps.append(write_temp_file(second[0], second[1], second[2]))
        undo = _link_aside(first[0]) if os.path.lexists(first[0]) else None
        if undo:
            temps.append(undo)
        for directory in directories:
            fsync_directory(directory)
        with signals_held():  # Ctrl-C, SIGTERM or SIGHUP between the renames act after them
            made.extend(copy for (path, _data, _mode), copy in zip((first, second), copies)
                        if copy is not None and _copy_aside(path, copy))
            os.replace(temps[0], first[0])
            try:
                os.replace(temps[1], second[0])
            except OSError:
                if undo is not None:
                    try:
                        os.replace(undo, first[0])
                    except OSError:
                        pass
                raise
        for directory in directories:
            fsync_directory(directory)
    finally:
        os.umask(old_umask)
        for path in temps:
            _unlink_quietly(path)
    return made


def replace_directory(target: str, files: Mapping[str, bytes], links: Mapping[str, str], file_mode: int = 0o644,
                      mode: int = 0o755) -> bool:
    """Make ``target`` a directory of exactly ``files`` (name -> content, created with ``file_mode``) and
    ``links`` (name -> what the symbolic link points to), replacing what is there as one rename.

    The new directory is built beside ``target`` under a fresh 0700 name, given ``mode`` once complete,
    then renamed over; the old one is first renamed aside and put back when that fails.  A reader sees
    the old directory or the whole new one.  Returns True when an old directory was replaced (and
    removed).  Raises OSError; then the old directory is untouched and the new one removed.
    """
    import shutil

    from jenv.safefile.dirs import make_symbolic_link, new_private_directory

    parent, base = os.path.split(target)
    new = new_private_directory(f".{base}.new-", parent)
    done = False
    try:
        for name, data in files.items():
            create_new_file(os.path.join(new, name), data, file_mode)
        for name, points_to in links.items():
            make_symbolic_link(points_to, os.path.join(new, name))
        os.chmod(new, mode)  # new_private_directory made it 0700
        replaced = _swap_directory(new, target)
        done = True
    finally:
        if not done:
            shutil.rmtree(new, ignore_errors=True)
    return replaced


def _swap_directory(new: str, target: str) -> bool:
    """Put directory ``new`` at ``target``; True when an old one was replaced (and removed)."""
    import shutil

    from jenv.safefile.dirs import new_private_directory

    old = None
    if os.path.lexists(target):
        old = new_private_directory(f".{os.path.basename(target)}.old-", os.path.dirname(target))
        os.rmdir(old)  # a unique free name; rename() needs it absent
        os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        if os.path.islink(old):
            os.unlink(old)
        else:
            shutil.rmtree(old, ignore_errors=True)
    return old is not None
