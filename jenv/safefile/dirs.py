"""The directories jenv writes in: whether others could replace what it puts there, and its private
directory.  Part of :mod:`jenv.safefile`.
"""

from __future__ import annotations

import os
import stat

from jenv.errors import NotFoundError, UnsafeFileError

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing
    from typing import Optional, Tuple

__all__ = ["PRIVATE_TMP_FIX", "check_directory", "private_directory", "only_yours", "make_directory",
           "new_private_directory", "make_symbolic_link"]


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


def private_directory(candidates: Tuple[str, ...], uid: int, fix: Optional[str] = None, create: bool = True) -> str:
    """The first candidate that is a directory of ``uid``'s only (mode 0700 or stricter), with ``create``
    the last one created 0700 when missing (it is the user's own cache directory, so it may be made).

    Threat: a lock (or any state) in a shared directory, where another user can pre-create it.
    Raises UnsafeFileError when none is private, naming ``fix`` (by default: create the last one).
    """
    problems = []
    for index, directory in enumerate(candidates):
        if create and index == len(candidates) - 1:
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
    reasons = "; ".join(problems) or "HOME is not an absolute path"
    default_fix = f"run 'mkdir -p -m 700 {candidates[-1]}'" if candidates else "set HOME to your home directory"
    raise UnsafeFileError(f"no private directory for the token lock ({reasons}): {fix or default_fix}")


def only_yours(directory: str, uid: int) -> bool:
    """Whether ``directory`` is a directory of ``uid`` that nobody else can write (no group or other write
    permission, whatever the sticky bit): nobody else can create, rename or remove anything there."""
    try:
        st = os.stat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def make_directory(path: str, mode: int) -> None:
    """``path`` and its missing parents, each created with ``mode`` (under the umask); nothing when it
    is there already.  Callers check what they got (:func:`check_directory`, :func:`private_directory`):
    an existing directory keeps its own mode.  Raises OSError."""
    os.makedirs(path, mode=mode, exist_ok=True)


def new_private_directory(prefix: str, parent: Optional[str] = None) -> str:
    """A new directory of this process's only (0700, a fresh unique name, ``tempfile.mkdtemp``) in
    ``parent`` (by default the temporary directory); its path.  Threat: a name another user chose
    first.  Raises OSError."""
    import tempfile

    return tempfile.mkdtemp(prefix=prefix, dir=parent)


def make_symbolic_link(points_to: str, path: str) -> None:
    """A new symbolic link ``path`` -> ``points_to`` (OpenSSL's ``<hash>.N`` names in a CA directory).
    Raises OSError (FileExistsError when anything is at ``path``)."""
    os.symlink(points_to, path)
