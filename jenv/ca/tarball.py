"""Check a downloaded CA tarball and flatten it into the files of one CA directory.

Pure: bytes in, a :class:`FlatStore` (file name -> bytes, link name -> target)
out; nothing is written and nothing is extracted with ``tarfile``'s own
extraction, so no member can land outside the store.  The alien-cas layout
is ``<top>/<bundle>/<file>``, with hash names (``<hash>.0``,
``<hash>.signing_policy``) stored as symbolic links next to the files they
name.  Any member whose path or link target leaves the archive, any device
or FIFO, an unparsable certificate or a size beyond the limits refuses the
whole tarball.  The ``<hash>.N`` certificate links are not copied: they are
written afresh from each certificate's subject (:func:`jenv.lite.names.subject_hash`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import re
import tarfile
import time
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Dict, List, Optional, Tuple, Union

from jenv.lite.names import subject_hash
from jenv.errors import InvalidInputError
from jenv.pem import parse_certificates

__all__ = ["FlatStore", "flatten_ca_tarball", "MAX_UNPACKED", "MAX_MEMBER", "MAX_MEMBERS", "MAX_KEPT", "MAX_HEADERS",
           "MAX_HEADER_READS"]

MAX_UNPACKED = 256 << 20  # decompressed size and sum of member sizes: a gzip bomb stops here
MAX_MEMBER = 1 << 20  # no CA file is anywhere near this
MAX_MEMBERS = 50000
MAX_KEPT = 24 << 20  # the CA files held in memory until they are written
MAX_HEADERS = 1 << 20  # the headers of one member (long names, pax records, sparse maps)
MAX_HEADER_READS = 32  # reads of those headers (a real member needs 2 to 6)
BLOCK = tarfile.BLOCKSIZE
_CHUNK = 64 << 10

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@=-]*$")
_HASH_CERT = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")
_HASH_CRL = re.compile(r"^[0-9a-f]{8}\.r[0-9]+$")
_COMPANIONS = (".signing_policy", ".namespaces", ".crl_url", ".info")


@dataclass(frozen=True)
class FlatStore:
    """The content of a CA directory: regular files, symbolic links, and what they hold.

    ``links`` maps a link name to the file name it points to (both in the
    same directory); ``hash_links`` are the ``<hash>.N`` certificate links.
    """

    files: Dict[str, bytes]
    links: Dict[str, str]
    certificates: int
    hash_links: int
    skipped: Tuple[str, ...]


def _refuse(member: str, why: str) -> InvalidInputError:
    return InvalidInputError(f"CA tarball refused: {member!r} {why}; nothing was installed")


def _inside(path: str) -> bool:
    return bool(path) and not path.startswith("/") and path != ".." and not path.startswith("../")


def _check_member(member: tarfile.TarInfo) -> str:
    """The normalised path of a member, or raise when it could escape the store."""
    name = member.name
    if name.startswith("/") or ".." in name.split("/") or not _inside(posixpath.normpath(name)):
        raise _refuse(name, "has an absolute path or '..' in it")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise _refuse(name, "is a device, FIFO or other special file")
    if member.issym():
        target = member.linkname
        if target.startswith("/") or not _inside(posixpath.normpath(posixpath.join(posixpath.dirname(name), target))):
            raise _refuse(name, f"is a link pointing outside the archive ({target})")
    if member.islnk() and (member.linkname.startswith("/") or not _inside(posixpath.normpath(member.linkname))):
        raise _refuse(name, f"is a hard link pointing outside the archive ({member.linkname})")
    data_filter = getattr(tarfile, "data_filter", None)  # Python 3.12, and 3.9.17+ security backports
    if data_filter is not None:
        try:
            data_filter(member, "/nonexistent/jenv-ca-store")
        except tarfile.FilterError as exc:
            raise _refuse(name, f"is unsafe ({exc})") from None
    return posixpath.normpath(name)


def _wanted(base: str) -> bool:
    if not _SAFE_NAME.match(base):
        return False
    return (base.endswith(".pem") or base.endswith(_COMPANIONS) or bool(_HASH_CERT.match(base))
            or bool(_HASH_CRL.match(base)))


def _refused(why: str) -> InvalidInputError:
    return InvalidInputError(f"CA tarball refused: {why}; nothing was installed")


def _check_deadline(deadline: Optional[float]) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise _refused("it was not checked within JENV_TIMEOUT (counted from the start of the download)")


class _Unpacked:
    """The decompressed tarball as ``tarfile`` reads it, with every bound enforced before memory is spent.

    ``tarfile`` reads a GNU long name or link, a pax header (extended or global) and a pax sparse map
    whole, in one ``read`` of the size its header claims, and an old GNU sparse header's extension
    blocks until a flag ends them: a header claiming 4 GiB made it allocate 4 GiB.  Here each read
    spends an ``allowance`` that the caller grants per member (headers, then the member's own data),
    the decompressed total is capped, the deadline is checked on every read, and only forward seeks
    exist (``tarfile`` skips unwanted content by seeking; we decompress and drop it in chunks).
    """

    def __init__(self, source: BinaryIO, deadline: Optional[float]):
        self._gzip = gzip.GzipFile(fileobj=source, mode="rb")
        self._position = 0
        self._deadline = deadline
        self.next_member()

    def next_member(self) -> None:
        """Grant what the headers of one member may read: MAX_HEADERS bytes in MAX_HEADER_READS reads (tarfile
        calls itself once per extended header, so a chain of thousands of them would exhaust the stack)."""
        self.allowance = MAX_HEADERS
        self._reads_left: Optional[int] = MAX_HEADER_READS

    def grant(self, size: int) -> None:
        """Let the member's own content, ``size`` bytes, be read (in as many reads as tarfile likes)."""
        self.allowance += size
        self._reads_left = None

    def _pull(self, size: int) -> bytes:
        _check_deadline(self._deadline)
        if self._position + size > MAX_UNPACKED + BLOCK:
            raise _refused(f"it unpacks to more than {MAX_UNPACKED >> 20} MiB")
        data = self._gzip.read(size)
        self._position += len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self.allowance:
            raise _refused(f"the headers of the member at byte {self._position} claim more than "
                           f"{MAX_HEADERS >> 20} MiB (long names, pax records or sparse maps)")
        if self._reads_left is not None:
            self._reads_left -= 1
            if self._reads_left < 0:
                raise _refused(f"the member at byte {self._position} has more than {MAX_HEADER_READS} headers")
        self.allowance -= size
        return self._pull(size)

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0 or offset < self._position:
            raise tarfile.ReadError("the tarball cannot be read front to back")
        while self._position < offset:
            if not self._pull(min(_CHUNK, offset - self._position)):
                break
        return self._position


def _read_members(source: BinaryIO, deadline: Optional[float]) -> Tuple[Dict[str, bytes], Dict[str, str], List[str]]:
    """Regular files and symbolic links at ``<top>/<bundle>/<name>`` (links as resolved archive paths)."""
    files: Dict[str, bytes] = {}
    links: Dict[str, str] = {}
    skipped: List[str] = []
    total = kept = 0
    tops = set()
    stream = _Unpacked(source, deadline)
    try:
        with tarfile.open(fileobj=stream, mode="r:") as tar:  # type: ignore[call-overload]
            count = 0
            while True:
                member = tar.next()
                if member is None:
                    break
                tar.members.clear()  # tarfile remembers every member; we need none of them afterwards
                count += 1
                if count > MAX_MEMBERS:
                    raise _refused(f"more than {MAX_MEMBERS} members")
                path = _check_member(member)
                total += max(member.size, 0)
                if total > MAX_UNPACKED:
                    raise _refused(f"it unpacks to more than {MAX_UNPACKED >> 20} MiB")
                stream.next_member()
                parts = path.split("/")
                tops.add(parts[0])
                if member.isdir():
                    continue
                if len(parts) != 3 or not _wanted(parts[2]):
                    skipped.append(path)
                    continue
                if member.issym():
                    links[path] = posixpath.normpath(posixpath.join(posixpath.dirname(path), member.linkname))
                elif member.islnk():
                    links[path] = posixpath.normpath(member.linkname)
                else:
                    if member.size > MAX_MEMBER:
                        raise _refuse(path, f"is larger than {MAX_MEMBER >> 10} KiB")
                    kept += member.size
                    if kept > MAX_KEPT:
                        raise _refused(f"its CA files hold more than {MAX_KEPT >> 20} MiB")
                    stream.grant(member.size)
                    handle = tar.extractfile(member)
                    files[path] = handle.read() if handle is not None else b""
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError, IndexError) as exc:
        # ValueError, IndexError: what tarfile's sparse readers raise on a map or block cut short
        raise InvalidInputError(f"CA download is not a valid gzip tarball ({exc or type(exc).__name__}); "
                                "nothing was installed") from None
    if len(tops) > 1:
        raise _refused(f"several top folders ({', '.join(sorted(tops)[:3])}...)")
    return files, links, skipped


def _flat_name(path: str, taken: Dict[str, bytes], content: bytes) -> str:
    """The file name in the flat store; a clash with other content gets the bundle as prefix."""
    _top, bundle, base = path.split("/")
    if base not in taken or taken[base] == content:
        return base
    return f"{bundle}-{base}"


def flatten_ca_tarball(data: Union[bytes, BinaryIO], deadline: Optional[float] = None) -> FlatStore:
    """Check a gzip tarball (bytes or a binary file) in the alien-cas layout and flatten all its bundle folders.

    Returns the files and links of the new CA directory, with ``<hash>.N``
    links (``.1`` and up when subjects share a hash) for every certificate.
    Raises InvalidInputError when the tarball is corrupt, unsafe, too large,
    holds an unparsable certificate, holds no certificate at all, or is not
    checked by ``deadline`` (a ``time.monotonic()`` value).
    """
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    members, links, skipped = _read_members(source, deadline)
    files: Dict[str, bytes] = {}
    placed: Dict[str, str] = {}  # archive path -> flat name
    seen_certs: Dict[bytes, str] = {}  # DER digest -> flat name
    cert_files: List[Tuple[str, bytes]] = []  # (flat name, DER subject): not the parsed certificates, to bound memory
    for path in sorted(members):
        _check_deadline(deadline)
        content = members[path]
        base = path.rsplit("/", 1)[1]
        is_cert = base.endswith(".pem") or bool(_HASH_CERT.match(base))
        try:
            certs = parse_certificates(content, path) if is_cert else []
        except InvalidInputError:
            raise _refuse(path, "is not a valid PEM certificate") from None
        # A certificate stored under its hash name keeps the name, as a .pem: <hash>.N are links here.
        flat = _flat_name(path + ".pem" if is_cert and _HASH_CERT.match(base) else path, files, content)
        placed[path] = flat
        if flat in files:
            continue
        files[flat] = content
        if len(certs) == 1:  # like `openssl rehash`: only single-certificate files get hash links
            digest = hashlib.sha256(certs[0].tbs_certificate_bytes + certs[0].signature).digest()
            if digest not in seen_certs:
                seen_certs[digest] = flat
                cert_files.append((flat, certs[0].subject.public_bytes()))
    if not cert_files:
        raise InvalidInputError("CA tarball holds no CA certificate; nothing was installed")
    flat_links: Dict[str, str] = {}
    for flat, subject in cert_files:
        digest_name = subject_hash(subject)
        index = 0
        while f"{digest_name}.{index}" in flat_links:
            index += 1
        flat_links[f"{digest_name}.{index}"] = flat
    hash_links = len(flat_links)
    for path, target in sorted(links.items()):
        base = path.rsplit("/", 1)[1]
        if _HASH_CERT.match(base) or target not in placed:
            continue  # certificate links are rewritten above; dangling links are dropped
        if base not in files and base not in flat_links:
            flat_links[base] = placed[target]
    return FlatStore(files, flat_links, len(cert_files), hash_links, tuple(skipped))
