"""Download the grid CA bundle and install it as a CA directory, atomically.

``requests`` does the HTTPS (its usual environment applies:
REQUESTS_CA_BUNDLE, HTTPS_PROXY/NO_PROXY, ...), and follows a redirect only to
another https:// URL.  The download is streamed with a size cap, checked and
flattened by :mod:`jenv.ca.tarball` (within the same deadline), written into
a temporary sibling of the target directory, and swapped in with two
renames (old store aside, new store in); only then is the old store removed.
Any failure before the swap removes the temporary directory and leaves the
old store exactly as it was; a failure between the renames puts it back.
The old store's CRLs (``<hash>.rN``, from ``crl-fetch`` or fetch-crl) are
carried into the new one.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from dataclasses import dataclass
from typing import BinaryIO, Callable, Dict, Optional
from urllib.parse import urljoin, urlsplit

from jenv.ca.store import CRL_LINK, MAX_CRL
from jenv.ca.tarball import FlatStore, flatten_ca_tarball
from jenv.errors import InvalidInputError, NetworkError, NotFoundError
from jenv.safefile import check_directory, make_directory, read_regular_file, replace_directory

__all__ = ["DEFAULT_CA_URL", "MAX_DOWNLOAD", "Installed", "download_tarball", "install_flat_store",
           "fetch_ca_store", "Progress"]

#: The alien-cas repository (IGTF bundles plus the ALICE/AliEn CAs), master branch.
DEFAULT_CA_URL = "https://github.com/alisw/alien-cas/archive/refs/heads/master.tar.gz"
#: The real tarball is a few MB; anything far larger is not what we asked for.
MAX_DOWNLOAD = 32 << 20
MAX_REDIRECTS = 10
_CHUNK = 64 << 10

#: progress(received_bytes, total_bytes_or_None), called after each chunk.
Progress = Callable[[int, Optional[int]], None]


@dataclass(frozen=True)
class Installed:
    """What :func:`fetch_ca_store` installed."""

    path: str
    certificates: int
    hash_links: int
    files: int
    replaced: bool


def _https_only_session():
    """A requests session that refuses, before following it, any redirect to a URL that is not https://:
    what ca-fetch installs decides whom jenv trusts (a redirect to http:// once installed an attacker's CA)."""
    import requests

    class HttpsOnlySession(requests.Session):
        def get_redirect_target(self, resp):
            target = super().get_redirect_target(resp)
            if target is not None:
                where = urljoin(resp.url, target)
                if urlsplit(where).scheme.lower() != "https":
                    raise InvalidInputError(f"{resp.url} redirected to {where}: CA certificates are fetched "
                                            "only over HTTPS; nothing was installed (is the URL right?)")
            return target

    session = HttpsOnlySession()
    session.max_redirects = MAX_REDIRECTS
    return session


def download_tarball(url: str, timeout: float, progress: Optional[Progress] = None,
                     limit: int = MAX_DOWNLOAD, deadline: Optional[float] = None, what: str = "a CA bundle",
                     https_only: bool = True) -> BinaryIO:
    """The body of ``url`` (at most ``limit`` bytes), streamed into memory, as a file positioned at 0.

    ``deadline`` (``time.monotonic()``; default ``timeout`` from now) bounds the whole download.
    Raises NetworkError (connection, TLS, timeout, HTTP error status,
    truncated body, too many redirects) or InvalidInputError (larger than
    ``limit``, or redirected to a URL that is not https:// unless not ``https_only``: a CRL is
    signed, and checked against its CA before it is installed).  ``what`` names the download.
    """
    import requests  # only ca-fetch pays for importing requests
    import urllib3

    received = 0
    if deadline is None:
        deadline = time.monotonic() + timeout  # one bound for the whole download, not only for each read
    body = io.BytesIO()  # grows in place: no second copy of the body, as joining a list of chunks makes
    try:
        opened = _https_only_session() if https_only else requests.Session()
        with opened as session, session.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise NetworkError(f"downloading {url} failed: HTTP {response.status_code} {response.reason}; "
                                   "nothing was installed")
            length_text = response.headers.get("Content-Length", "")
            total = int(length_text) if length_text.isdigit() else None
            if total is not None and total > limit:
                raise InvalidInputError(f"{url} is {total} bytes, more than the {limit >> 20} MiB limit "
                                        f"for {what}; nothing was installed")
            for chunk in _chunks_as_they_come(response):
                received += len(chunk)
                if received > limit:
                    raise InvalidInputError(f"{url} sent more than the {limit >> 20} MiB limit for {what}; "
                                            "nothing was installed")
                body.write(chunk)
                if progress is not None:
                    progress(received, total)
                if time.monotonic() > deadline:
                    raise NetworkError(f"downloading {url} did not finish within {timeout:g}s (JENV_TIMEOUT sets "
                                       "the limit); nothing was installed")
    except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError):
        raise NetworkError(f"downloading {url} failed: the connection broke after {received} bytes; "
                           "nothing was installed, try again") from None
    except requests.TooManyRedirects:
        raise NetworkError(f"downloading {url} failed: more than {MAX_REDIRECTS} redirects; "
                           "nothing was installed (check the URL)") from None
    except requests.RequestException as exc:
        cause = _short(exc)
        hint = "REQUESTS_CA_BUNDLE names the CAs that vouch for the server" \
            if "CERTIFICATE_VERIFY_FAILED" in cause else "check the URL, the network and HTTPS_PROXY"
        raise NetworkError(f"downloading {url} failed: {cause}; nothing was installed ({hint})") from None
    if total is not None and received != total:
        raise NetworkError(f"downloading {url} failed: got {received} of {total} bytes; "
                           "nothing was installed, try again")
    body.seek(0)
    return body


def _chunks_as_they_come(response):
    """The body in pieces as the network delivers them (``read1``), so the overall deadline is checked
    between pieces even when a server sends one byte at a time; ``iter_content`` would wait for whole
    64 KiB chunks."""
    raw = response.raw
    if not hasattr(raw, "read1"):  # urllib3 < 2
        yield from response.iter_content(_CHUNK)
        return
    while True:
        chunk = raw.read1(_CHUNK)
        if not chunk:
            return
        yield chunk


#: urllib3's "HTTPSConnectionPool(host='x', port=443): " (or "<... object at 0x...>: ") before the cause.
_POOL_PREFIX = re.compile(r"^(?:\w+\(host=[^)]*\)|<[^>]*>): ")


def _short(exc: Exception) -> str:
    """The cause of a requests failure in a few words ("Failed to establish a new connection: [Errno 111]
    Connection refused"), not urllib3's retry wrapper, whose length cut the cause off."""
    inner = exc.args[0] if exc.args else None
    inner = getattr(inner, "reason", inner)  # MaxRetryError -> NewConnectionError, SSLError, ...
    text = str(inner if isinstance(inner, Exception) else exc) or type(exc).__name__
    text = _POOL_PREFIX.sub("", text)
    return text if len(text) < 200 else text[:200] + "..."


def _installed_crls(target: str) -> Dict[str, bytes]:
    """The ``<hash>.rN`` CRLs of the store being replaced (regular files only, none larger than MAX_CRL)."""
    found: Dict[str, bytes] = {}
    if not os.path.isdir(target):
        return found
    for name in os.listdir(target):
        if CRL_LINK.match(name):
            with contextlib.suppress(OSError):
                data = read_regular_file(os.path.join(target, name), MAX_CRL)
                if len(data) <= MAX_CRL:
                    found[name] = data
    return found


def _check_parent(target: str) -> None:
    """Refuse a CA directory whose parent others can write without the sticky bit: they could rename a
    directory of their own, with their CA in it, over the store (UnsafeFileError, naming the fix)."""
    check_directory(os.path.dirname(target), "CA store", os.getuid(),
                    fix="choose a CA directory inside a directory of your own (jenv ca-fetch <dir>)")


def install_flat_store(flat: FlatStore, target: str) -> Installed:
    """Write ``flat`` as the CA directory ``target``, replacing what is there atomically.

    Raises NotFoundError when ``target`` is not a directory or cannot be
    written, and UnsafeFileError when others can write its parent; the old
    store is then untouched.
    """
    target = os.path.abspath(target)
    parent = os.path.dirname(target)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise NotFoundError(f"{target} exists and is not a directory: choose another directory for the CAs")
    try:
        make_directory(parent, 0o700)
        _check_parent(target)
        files = dict(flat.files)
        for name, data in _installed_crls(target).items():  # crl-fetch's (or fetch-crl's) work is kept
            if name not in flat.files and name not in flat.links:
                files[name] = data
        replaced = replace_directory(target, files, flat.links)  # CA certificates are public: 0644, 0755
    except OSError as exc:
        raise NotFoundError(f"cannot install the CA certificates in {target}: "
                            f"{exc.strerror or exc} ({exc.filename or parent})") from None
    return Installed(target, flat.certificates, flat.hash_links, len(flat.files), replaced)


def fetch_ca_store(url: str, target: str, timeout: float, progress: Optional[Progress] = None) -> Installed:
    """Download, check and install the CA bundle at ``url`` into the directory ``target``.

    ``timeout`` bounds the download and the check of the tarball together.
    Raises NetworkError, InvalidInputError (bad, unsafe or oversized
    tarball, a redirect to plain HTTP), NotFoundError (target not writable) or
    UnsafeFileError (others can write its parent: before the download); in every
    case the previous store is left as it was.
    """
    if os.path.lexists(os.path.dirname(os.path.abspath(target))):  # a refusal costs no download
        _check_parent(os.path.abspath(target))
    deadline = time.monotonic() + timeout
    flat = flatten_ca_tarball(download_tarball(url, timeout, progress, deadline=deadline), deadline)
    return install_flat_store(flat, target)
