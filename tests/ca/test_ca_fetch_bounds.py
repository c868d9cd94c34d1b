"""ca-fetch against hostile tarballs and redirects: bounded memory and time, HTTPS on every hop.

Each bomb is built here header by header (``TarInfo.tobuf`` for one block, patched
by hand where tarfile would not write such a header) and served over HTTPS by
``ca_server.serve``.  ``ca-fetch`` runs as a
process because the bound under test is the process's own: its address space
is limited (RLIMIT_AS) to what a process needs to import ca-fetch's libraries
plus 64 MiB, and ``JENV_TIMEOUT`` is short.  A bomb is refused with exit 4 and
one line, and the previous store is untouched.  The same limit lets the
ordinary tarball through, so the limit is not what refuses the bombs.
"""

from __future__ import annotations

import gzip
import io
import resource
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

from support.ca_server import GOOD, ROOT, USER, Route, fetch_env, openssl_ok, serve
from support.snapshot import snapshot
from support.launcher import Result, scan

pytestmark = pytest.mark.slow

HEADROOM = 64 << 20  # what a fetch may use above the start-up of a process that imported its libraries
GIB4 = 4 << 30
TOP = "alien-cas-master"


def _baseline_address_space() -> int:
    """VmPeak (bytes) of a Python process that imported what ca-fetch imports and made a TLS context."""
    code = ("import ssl, requests, urllib3, cryptography.x509, jenv.cli, jenv.commands.ca, jenv.ca.fetch, "
            "jenv.ca.tarball, jenv.pem; ssl.create_default_context()\n"
            "print([l for l in open('/proc/self/status') if l.startswith('VmPeak')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out) * 1024


@pytest.fixture(scope="module")
def memory_limit() -> int:
    return _baseline_address_space() + HEADROOM


def run_limited(args: List[str], env: Dict[str, str], limit: Optional[int] = None) -> Result:
    """``python -m jenv`` (a process: the limits are the process's own), its address space limited to
    ``limit`` bytes when given (set in the child before exec)."""
    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "jenv", *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, preexec_fn=None if limit is None else limit_memory)
    scan(args, proc.stdout, proc.stderr)
    return Result(proc.returncode, proc.stdout, proc.stderr)


# --- hostile tarballs ------------------------------------------------------------------------

def _good_prefix() -> bytes:
    """The ordinary alien-cas tarball, uncompressed, without its end-of-archive blocks: a bomb follows."""
    raw = gzip.decompress(GOOD)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for _ in tar:
            pass
        end = tar.offset
    return raw[:end]


def _header(kind: bytes, size: int, name: str = "././@LongLink") -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(tarfile.GNU_FORMAT)


def _checksummed(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)


def _gz(*parts: bytes) -> bytes:
    return gzip.compress(_good_prefix() + b"".join(parts) + b"\0" * 1024, compresslevel=6)


def claims_4gib(kind: bytes) -> Callable[[], bytes]:
    """An extended header (GNU long name or link, pax, pax global) whose size field says 4 GiB,
    followed by 8 MiB of zeros: tarfile reads such a header whole, in one read."""
    return lambda: _gz(_header(kind, GIB4), b"\0" * (8 << 20))


def old_gnu_sparse() -> bytes:
    """An old GNU sparse member whose chain of extension blocks never ends (100 MB of them)."""
    head = bytearray(_header(tarfile.GNUTYPE_SPARSE, 0, f"{TOP}/alien-ca/Sparse.info"))
    head[482] = 1  # isextended
    head[483:495] = b"%011o\0" % 1
    entry = b"%011o\0" % 1 + b"%011o\0" % 1
    extension = entry * 21 + b"\x01" + b"\0" * 7
    return _gz(_checksummed(head), extension * 200_000)


def pax_sparse_map() -> bytes:
    """A pax GNU sparse 1.0 member whose map announces 10^9 entries and holds 50 million."""
    info = tarfile.TarInfo(f"{TOP}/alien-ca/Sparse.info")
    data = b"1000000000\n" + b"1\n" * 50_000_000
    info.size = len(data)
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                        "GNU.sparse.name": f"{TOP}/alien-ca/Sparse.info", "GNU.sparse.realsize": "1"}
    return _gz(info.tobuf(tarfile.PAX_FORMAT), data)


def chained_headers(kind: bytes) -> Callable[[], bytes]:
    """A few thousand small extended headers in a row, all for one member: tarfile reads each one by
    calling itself again."""
    return lambda: _gz(*[_header(kind, 2) + b"x\0" + b"\0" * 510 for _ in range(3000)])


def member_claims_a_terabyte() -> bytes:
    return _gz(_header(tarfile.REGTYPE, 1 << 40, f"{TOP}/README.txt"), b"\0" * (1 << 20))


def many_big_kept_files() -> bytes:
    """80 companion files of 1 MiB each (each within the per-file limit): 80 MiB to keep."""
    body = b"a" * ((1 << 20) - 512)
    parts = []
    for index in range(80):
        parts.append(_header(tarfile.REGTYPE, len(body), f"{TOP}/alien-ca/Big{index}.info") + body)
    return _gz(*parts)


BOMBS = {
    "GNU long name": claims_4gib(tarfile.GNUTYPE_LONGNAME),
    "GNU long link": claims_4gib(tarfile.GNUTYPE_LONGLINK),
    "pax extended header": claims_4gib(tarfile.XHDTYPE),
    "pax global header": claims_4gib(tarfile.XGLTYPE),
    "chained GNU long names": chained_headers(tarfile.GNUTYPE_LONGNAME),
    "chained pax headers": chained_headers(tarfile.XHDTYPE),
    "old GNU sparse": old_gnu_sparse,
    "pax sparse map": pax_sparse_map,
    "one member of a terabyte": member_claims_a_terabyte,
    "80 MiB of kept files": many_big_kept_files,
}


def test_the_ordinary_tarball_installs_under_the_same_limits(home: Path, old_store: Path, memory_limit: int,
                                                            tmp_path: Path) -> None:
    """The positive twin: the limits below refuse bombs, not tarballs."""
    with serve({"/t.tgz": Route(GOOD)}) as url:
        result = run_limited(["ca-fetch", "--url", f"{url}/t.tgz"], fetch_env(home, JENV_TIMEOUT="3"),
                             memory_limit)
    assert result.returncode == 0, result.stderr
    assert openssl_ok(old_store, USER.pem, tmp_path)


@pytest.mark.parametrize("bomb", list(BOMBS), ids=list(BOMBS))
def test_a_tarball_bomb_is_refused_within_the_limits(bomb: str, home: Path, old_store: Path, memory_limit: int,
                                                     tmp_path: Path) -> None:
    body = BOMBS[bomb]()
    assert len(body) < 4 << 20  # small on the wire; what it unpacks to is the attack
    env = fetch_env(home, JENV_TIMEOUT="3")
    before = snapshot(home)
    with serve({"/t.tgz": Route(body)}) as url:
        result = run_limited(["ca-fetch", "--url", f"{url}/t.tgz"], env, memory_limit)
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jenv: CA tarball refused"), result.stderr
    assert "nothing was installed" in lines[0] and result.stdout == ""
    assert snapshot(home) == before
    assert openssl_ok(old_store, ROOT.pem, tmp_path)


def test_unpacking_stops_at_the_deadline() -> None:
    """JENV_TIMEOUT holds while decompressing and unpacking too: a deadline already passed refuses the
    tarball, one that has not lets it through."""
    from jenv.ca.tarball import flatten_ca_tarball
    from jenv.errors import InvalidInputError

    assert flatten_ca_tarball(GOOD, deadline=time.monotonic() + 3600).certificates == 6
    with pytest.raises(InvalidInputError, match="JENV_TIMEOUT"):
        flatten_ca_tarball(GOOD, deadline=time.monotonic() - 1)


# --- redirects ------------------------------------------------------------------------------

@pytest.mark.parametrize("hops", [1, 2], ids=["first hop", "second hop"])
def test_a_redirect_to_plain_http_is_refused_before_it_is_followed(hops: int, home: Path,
                                                                    old_store: Path) -> None:
    """What ca-fetch installs decides whom jenv trusts: no hop of the download may be plain HTTP."""
    plain_route = Route(GOOD)
    env = fetch_env(home)
    before = snapshot(home)
    with serve({"/t.tgz": plain_route}, plain=True) as plain:
        routes = {"/start": Route(mode="redirect", location="/next" if hops == 2 else f"{plain}/t.tgz"),
                  "/next": Route(mode="redirect", location=f"{plain}/t.tgz")}
        with serve(routes) as url:
            result = run_limited(["ca-fetch", "--url", f"{url}/start"], env)
    assert result.returncode == 4, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("jenv: ")
    assert f"{plain}/t.tgz" in result.stderr and "only over HTTPS" in result.stderr
    assert plain_route.hits == []  # never asked
    assert snapshot(home) == before


def test_https_redirects_are_followed(home: Path, tmp_path: Path) -> None:
    """The positive twin: GitHub answers the archive URL with a redirect to another HTTPS host."""
    with serve({"/t.tgz": Route(GOOD)}) as other:
        routes = {"/start": Route(mode="redirect", location="/next"),
                  "/next": Route(mode="redirect", status=301, location=f"{other}/t.tgz")}
        with serve(routes) as url:
            result = run_limited(["ca-fetch", "--url", f"{url}/start", str(tmp_path / "cas")], fetch_env(home))
    assert result.returncode == 0, result.stderr
    assert openssl_ok(tmp_path / "cas", USER.pem, tmp_path)


def test_endless_redirects_end(home: Path, old_store: Path) -> None:
    env = fetch_env(home)
    before = snapshot(home)
    with serve({"/loop": Route(mode="redirect", location="/loop")}) as url:
        result = run_limited(["ca-fetch", "--url", f"{url}/loop"], env)
    assert result.returncode == 9, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "redirect" in result.stderr
    assert snapshot(home) == before
