"""The remembered verdict: what the libraries said of a token (or a user certificate), keyed to the files.

Judging a certificate takes ``cryptography`` and OpenSSL (:mod:`jenv.tokens.judge`); importing
them costs more than a whole login.  So jenv judges a token once, and remembers the verdict in one
private file, ``verdicts`` in the user's private directory (``$XDG_RUNTIME_DIR/jenv`` when that is the
user's own 0700 directory, else ``~/.cache/jenv``), with everything that identifies the files that
were judged: for each, device, inode, size, and modification and change times in nanoseconds.  A
later run compares only what ``stat`` says: all equal, and the verdict stands; anything different
(a rename over the file, a rewrite, ``touch``, ``cp -p``, ``rsync -t``: each changes the inode or
the change time, which no user can set) and the files are judged again.

One line per entry, tab-separated, each field %-escaped (``%``, tab, CR, LF, and every other
control character), first field the format's name.  The file is parsed, never executed; a line of
any other shape is skipped, and a file that is not the user's private regular file is ignored and
replaced.  Entries are keyed by host name and paths (a HOME shared between nodes never mixes two
hosts' ``/tmp``); PEM content given in the variables is keyed by its SHA-256.  Nothing here imports
more than the login path may.
"""

from __future__ import annotations

import os

from jenv.lite.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path: no typing at run time
    from typing import List, Optional, Sequence, Tuple

__all__ = ["Verdict", "MEMO_FILE", "FORMAT", "file_identity", "content_ref", "memo_directory", "recall",
           "remember", "recall_failure", "remember_failure", "forget_failure", "host_name"]

MEMO_FILE = "verdicts"
#: The first field of every line; a new layout gets a new name, and old lines are then skipped.
FORMAT = "jenv-verdict-1"
_MAX_ENTRIES = 32
_MAX_SIZE = 256 * 1024


class Verdict(record("Verdict", "pair detail not_before not_after subject issuer alien_subject alien_issuer "
                                "token_type user role hostname job_extension",
                     ("", 0, 0, "", "", "", "", "", "", "", "", ""))):
    """The libraries' verdict on a token pair (or on one certificate, with ``pair`` "cert").

    ``pair`` is "usable" (the pair loads and matches: its dates decide), "mismatch", "broken-cert" or
    "broken-key" (``detail`` says what the file holds), or "cert" for a certificate judged alone.
    The names are the grid DN and the official client's slashed RFC 4514 form; the identity fields
    are what the subject says as JAliEn reads it (empty when it is not a token subject).
    """

    __slots__ = ()

    @property
    def readable(self) -> bool:
        """True when the certificate was read (its dates and names are known)."""
        return self.pair in ("usable", "mismatch", "cert")


_FIELDS = len(Verdict._fields)


def host_name() -> str:
    return os.uname().nodename


def file_identity(st: os.stat_result) -> str:
    """What identifies one version of a file: device, inode, size, mtime and ctime in nanoseconds."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def content_ref(data: bytes) -> str:
    """The key of PEM content (never a path: paths are absolute)."""
    import hashlib

    return "=" + hashlib.sha256(data).hexdigest()


def _escape(value: object) -> str:
    text = str(value)
    if not any(char == "%" or char < " " or char == "\x7f" for char in text):
        return text
    return "".join(f"%{ord(char):02X}" if char == "%" or char < " " or char == "\x7f" else char for char in text)


def _unescape(text: str) -> str:
    if "%" not in text:
        return text
    parts = text.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:2]
        if len(code) != 2 or not all(char in "0123456789ABCDEF" for char in code):
            raise ValueError("bad escape")
        out.append(chr(int(code, 16)) + part[2:])
    return "".join(out)


def memo_directory(candidates: Sequence[str], uid: int, create: bool = False) -> Optional[str]:
    """The first of ``candidates`` (:func:`jenv.locations.lock_directories`) that is the user's private
    directory, or None when there is none; ``create`` makes the last one (``~/.cache/jenv``, 0700) when
    it is missing."""
    from jenv.errors import JenvError
    from jenv.safefile import private_directory

    try:
        return private_directory(tuple(candidates), uid, create=create)
    except JenvError:
        return None


def _read_lines(directory: Optional[str], uid: int) -> List[List[str]]:
    """The memo's lines of this format, split into fields; [] when there is no usable memo."""
    if directory is None:
        return []
    from jenv.errors import JenvError
    from jenv.safefile import read_private_file

    try:
        data = read_private_file(os.path.join(directory, MEMO_FILE), uid, "verdict file", True, _MAX_SIZE,
                                 guard=False)
    except JenvError:
        return []
    if data is None:
        return []
    lines = []
    for line in data.decode("utf-8", "replace").split("\n"):
        fields = line.split("\t")
        if fields[0] == FORMAT:
            lines.append(fields)
    return lines


#: A line: format, kind, host and the references (the key); the files' identities; the payload.
def _entry(lines: List[List[str]], key: Sequence[str], identities: Sequence[str]) -> Optional[List[str]]:
    width = len(key) + len(identities)
    for fields in lines:
        if fields[:len(key)] == list(key) and fields[len(key):width] == list(identities):
            return fields[width:]
    return None


def _key(kind: str, refs: Sequence[str]) -> List[str]:
    return [FORMAT, kind, _escape(host_name())] + [_escape(ref) for ref in refs]


def recall(directory: Optional[str], uid: int, refs: Sequence[str], identities: Sequence[str],
           kind: str = "token") -> Optional[Verdict]:
    """The verdict remembered for these files (``refs``: paths or :func:`content_ref`) in exactly these
    versions (``identities``: :func:`file_identity`, '' for content), or None."""
    payload = _entry(_read_lines(directory, uid), _key(kind, refs), list(identities))
    if payload is None or len(payload) != _FIELDS:
        return None
    try:
        values = [_unescape(field) for field in payload]
        numbers = int(values[2]), int(values[3])
    except ValueError:
        return None
    if values[0] not in ("usable", "mismatch", "broken-cert", "broken-key", "cert"):
        return None
    return Verdict(values[0], values[1], numbers[0], numbers[1], *values[4:])


def _rewrite(directory: str, uid: int, key: List[str], line: Optional[List[str]]) -> None:
    """Replace the memo's entries for ``key`` by ``line`` (None: just remove them), keeping the newest
    entries; quietly nothing when the memo cannot be written (it only saves time)."""
    from jenv.safefile import replace_file

    kept = [fields for fields in _read_lines(directory, uid) if fields[:len(key)] != key]
    if line is not None:
        kept.append(line)
    text = "".join("\t".join(fields) + "\n" for fields in kept[-_MAX_ENTRIES:])
    old_umask = os.umask(0o077)
    try:
        replace_file(os.path.join(directory, MEMO_FILE), text.encode("utf-8", "surrogateescape"), 0o600)
    except OSError:
        pass
    finally:
        os.umask(old_umask)


def remember(directory: Optional[str], uid: int, refs: Sequence[str], identities: Sequence[str],
             verdict: Verdict, kind: str = "token") -> None:
    """Remember ``verdict`` for these files in these versions (replacing what was said of the same paths)."""
    if directory is None:
        return
    key = _key(kind, refs)
    _rewrite(directory, uid, key, key + [_escape(identity) for identity in identities]
             + [_escape(value) for value in verdict])


def recall_failure(directory: Optional[str], uid: int, refs: Sequence[str]) -> Optional[Tuple[int, int, str]]:
    """(when, exit code, what) of the last failure to get a token for these token files, or None."""
    payload = _entry(_read_lines(directory, uid), _key("failure", refs), [])
    if payload is None or len(payload) != 3:
        return None
    try:
        return int(payload[0]), int(payload[1]), _unescape(payload[2])
    except ValueError:
        return None


def remember_failure(directory: Optional[str], uid: int, refs: Sequence[str], when: int, code: int,
                     what: str) -> None:
    """Remember that getting a token for these token files failed at ``when`` (with ``code``: ``what``)."""
    if directory is not None:
        key = _key("failure", refs)
        _rewrite(directory, uid, key, key + [str(int(when)), str(int(code)), _escape(what)])


def forget_failure(directory: Optional[str], uid: int, refs: Sequence[str]) -> None:
    if directory is not None and recall_failure(directory, uid, refs) is not None:
        _rewrite(directory, uid, _key("failure", refs), None)
