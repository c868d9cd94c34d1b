"""What is at a path, to prove that a command changed nothing (or changed something).

``snapshot(path)`` never follows a link and reads a directory's whole tree, so one call covers a token
file, a planted link and a CA store alike; two snapshots are equal only when the kind, permission bits,
owner, modification time and content (a file's bytes, a link's target) of every entry are.  A command
that stages its work in a temporary entry beside its target and removes it on failure changes the
directory's modification time and nothing else: ``directory_times=False`` leaves those times out.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ["Snapshot", "snapshot"]

_KINDS = ((stat.S_ISREG, "file"), (stat.S_ISLNK, "link"), (stat.S_ISDIR, "dir"), (stat.S_ISFIFO, "fifo"),
          (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "char device"), (stat.S_ISBLK, "block device"))


@dataclass(frozen=True)
class Snapshot:
    """One entry: its kind, permission bits, owner, mtime (0 for a directory whose times are left out),
    and a file's bytes, a link's target or a
    directory's entries (sorted by name)."""

    kind: str
    mode: int
    uid: int
    mtime_ns: int
    content: Optional[bytes] = None
    entries: Tuple[Tuple[str, "Snapshot"], ...] = ()


def snapshot(path: "os.PathLike[str] | str", directory_times: bool = True) -> Optional[Snapshot]:
    """The state of ``path`` without following links; None when nothing is there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    kind = next(name for test, name in _KINDS if test(st.st_mode))
    content: Optional[bytes] = None
    entries: Tuple[Tuple[str, Snapshot], ...] = ()
    if kind == "file":
        try:
            with open(path, "rb") as fh:  # O_NONBLOCK is not needed: lstat said it is a regular file
                content = fh.read()
        except PermissionError:  # a test running as a user who may not read it: the rest still counts
            content = None
    elif kind == "link":
        content = os.fsencode(os.readlink(path))
    elif kind == "dir":
        entries = tuple((name, snapshot(os.path.join(path, name), directory_times))
                        for name in sorted(os.listdir(path)))
    mtime_ns = st.st_mtime_ns if kind != "dir" or directory_times else 0
    return Snapshot(kind, stat.S_IMODE(st.st_mode), st.st_uid, mtime_ns, content, entries)
