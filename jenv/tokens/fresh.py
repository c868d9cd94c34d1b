"""The fresh-token line: what a shell needs to decide, without starting a process, that the token is fresh.

The remembered verdict (:mod:`jenv.tokens.memo`) is keyed to ``stat``, which a shell cannot read.  So
when ``jenv token`` (or the login hook) finds a usable token in files, it also writes, for the shell
files in jenv/data/shell (``login.sh``, ``login.fish``), one line to ``~/.cache/jenv/fresh-<host>``
(the user's own 0700 directory; one file per host, since a HOME may be shared between nodes)::

    jenv-fresh-1 <TAB> uid <TAB> host <TAB> cert path <TAB> key path <TAB> notBefore <TAB> notAfter <TAB> until

(epoch seconds; ``until`` is notAfter less the default minimum validity, or earlier: the day the user
certificate's expiry notice starts, which only jenv prints), and beside it two empty files,
``fresh-<host>.cert`` and ``fresh-<host>.key``, whose modification times are set to the token files'
to the nanosecond.  A shell uses the line only when it is of exactly this shape, names the files the
login would export, both files' mtimes equal their references (neither ``-nt`` nor ``-ot``) and its own
clock is before ``until``; on any doubt it runs jenv.  The line is written only from a verdict that
``stat`` ties to the files as they are now, and only when every field is one a shell reads back intact
(no tab, newline or other control character).  It is read, never executed.

The line's own mtime is set last to the certificate's, and the shells require that too: a seal that shells
without access to mode bits (bash, ksh93, fish) can check.  Only a file's owner (or root) may give it a
chosen mtime; anyone else who writes to the line or a reference, through a mode the user opened, leaves the
current time there, so the three mtimes no longer agree and the shell runs jenv (which removes a line open
to others, :func:`forget_open_fresh`).  What the seal cannot show is a line others may merely read (its
paths and dates are no secret).

The references are removed first and made last, so at every instant a shell sees either the old line
with the old references, or something that does not match (and runs jenv).  What a shell cannot see:
another token put in place with the very same mtime to the nanosecond (``cp -p`` of a copy of the same
file); jenv, which compares inode and change time too, judges that one again at its next start.
"""

from __future__ import annotations

import os

from jenv.tokens import memo

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path: no typing at run time
    from typing import Optional

    from jenv.tokens.check import TokenStore

__all__ = ["FORMAT", "fresh_directory", "fresh_file", "note_fresh", "forget_fresh", "forget_open_fresh"]

FORMAT = "jenv-fresh-1"
_USER_CERT_NOTICE = 30 * 86400  # jenv.tokens.expiry.WARN_DAYS: from then on, every login runs jenv


def fresh_directory(home: str) -> str:
    """``~/.cache/jenv``: a fixed place, so that the shell finds it without asking jenv."""
    return os.path.join(home, ".cache", "jenv")


def fresh_file(home: str, host: Optional[str] = None) -> str:
    return os.path.join(fresh_directory(home), "fresh-" + (host or memo.host_name()))


def _plain(text: str) -> bool:
    return bool(text) and not any(char < " " or char == "\x7f" for char in text)


def _host_ok(host: str) -> bool:
    return bool(host) and all(char.isascii() and (char.isalnum() or char in "._-") for char in host) \
        and not host.startswith(".")


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def forget_fresh(home: str, uid: int) -> None:
    """Remove this host's line (and its references): every shell then runs jenv.  Also where the directory
    is no longer private (unlink never follows a link, and a line there must not outlive the change)."""
    if not (os.path.isabs(home) and _host_ok(memo.host_name())):
        return
    path = fresh_file(home)
    for name in (path + ".cert", path + ".key", path):
        _unlink(name)


def forget_open_fresh(home: str, uid: int) -> bool:
    """Remove this host's line when ``~/.cache/jenv``, the line or a reference is not the user's own private
    directory or regular file: one another user could read or write (bash, ksh93 and fish cannot read mode
    bits without a process; only zsh checks them itself).  Returns whether it removed one.  Called at every
    jenv run that looks at the token (``token``, ``prompt``, ``hook``), so such a line lasts until the next
    of those at most."""
    import stat

    if not (os.path.isabs(home) and _host_ok(memo.host_name())):
        return False
    path = fresh_file(home)
    try:
        line = os.lstat(path)
    except OSError:
        return False  # no line: nothing a shell could take
    private = stat.S_ISREG(line.st_mode) and line.st_uid == uid and not line.st_mode & 0o077
    for name, kind in ((fresh_directory(home), stat.S_ISDIR), (path + ".cert", stat.S_ISREG),
                       (path + ".key", stat.S_ISREG)):
        try:
            st = os.lstat(name)
        except OSError:
            continue  # a missing reference already sends the shells to jenv
        private = private and kind(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077
    if private:
        return False
    forget_fresh(home, uid)
    return True


def note_fresh(store: "TokenStore", home: str, until_limit: int, user_cert_not_after: Optional[int],
               now: float) -> bool:
    """Write the line for ``store``'s token files as they are now, if their remembered verdict says
    "usable" and there is time left before ``until_limit`` (notAfter less the minimum validity the line
    is for) and before the user certificate's expiry notice starts.  Returns whether it was written;
    quietly False whenever anything is not as expected (the line only saves time)."""
    host = memo.host_name()
    if not (store.in_files and os.path.isabs(home) and _host_ok(host)):
        return False
    cert, key = store.refs()
    if not (_plain(cert) and _plain(key) and cert.startswith("/") and key.startswith("/")):
        return False
    try:
        stats = os.lstat(cert), os.lstat(key)
    except OSError:
        return False
    verdict = memo.recall(store.memo_directory(), store.uid, store.refs(),
                          (memo.file_identity(stats[0]), memo.file_identity(stats[1])))
    if verdict is None or verdict.pair != "usable":
        return False
    until = verdict.not_after - until_limit
    if user_cert_not_after is not None:
        until = min(until, user_cert_not_after - _USER_CERT_NOTICE)
    if until <= now or verdict.not_before <= 0:  # nothing to leave (and no directory made for it)
        forget_fresh(home, store.uid)
        return False
    directory = memo.memo_directory((fresh_directory(home),), store.uid, create=True)
    if directory is None:  # not (or no longer) the user's private directory: no line there
        forget_fresh(home, store.uid)
        return False
    path = os.path.join(directory, "fresh-" + host)
    fields = [FORMAT, str(store.uid), host, cert, key, str(int(verdict.not_before)), str(int(verdict.not_after)),
              str(int(until))]
    line = ("\t".join(fields) + "\n").encode("utf-8", "surrogateescape")
    from jenv.safefile import read_private_file

    refs = ((path + ".cert", stats[0]), (path + ".key", stats[1]))
    try:
        if read_private_file(path, store.uid, "fresh-token line", True, 4096, guard=False) == line and \
                all(_same_mtime(ref, st, store.uid) for ref, st in refs + ((path, stats[0]),)):
            return True
    except Exception:  # noqa: BLE001 - anything odd there is replaced below
        pass
    from jenv.safefile import replace_file  # only now: a login that finds its line current writes nothing

    old_umask = os.umask(0o077)
    try:
        for ref, _st in refs:
            _unlink(ref)
        replace_file(path, line, 0o600)
        for ref, st in refs + ((path, stats[0]),):  # the line's own mtime last: the seal (module docstring)
            if ref != path:
                replace_file(ref, b"", 0o600)
            os.utime(ref, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)
    except OSError:
        for ref, _st in refs:
            _unlink(ref)
        return False
    finally:
        os.umask(old_umask)
    return True


def _same_mtime(ref: str, st: os.stat_result, uid: int) -> bool:
    """Whether ``ref`` (a reference, or the line) is already the user's private regular file with ``st``'s
    mtime (as the shells require it; else it is made again)."""
    try:
        mine = os.lstat(ref)
    except OSError:
        return False
    import stat

    return stat.S_ISREG(mine.st_mode) and mine.st_uid == uid and not mine.st_mode & 0o077 \
        and mine.st_mtime_ns == st.st_mtime_ns
