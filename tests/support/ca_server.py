"""A local HTTPS server for ca-fetch tests, a CONNECT proxy, and tarballs in the alien-cas layout.

``serve(routes)`` runs a ThreadingHTTPServer on 127.0.0.1:0 in a thread
(websockets' tests/sync/server.py shape), over TLS with a certificate from
this module's own CA (``TRUST``, for REQUESTS_CA_BUNDLE), and yields its
base URL; ``tls=`` gives another certificate, ``plain=True`` plain HTTP
(which ca-fetch refuses).  A
route answers with a body, a status, or one of the misbehaviours a download
must survive: a truncated body, a lying Content-Length, an endless stream, a redirect.
"""

from __future__ import annotations

import contextlib
import io
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from support.ca_corpus import DAY, NOW, issue, make_keys, name
from support.faultservers import pipe


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    mode: str = "normal"  # normal | truncate | claim-huge | stream-huge | drip | redirect (to ``location``)
    location: str = ""
    hits: List[str] = field(default_factory=list)  # the paths this route answered


def _handler(routes: Dict[str, Route]):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            route = routes.get(self.path)
            if route is None:
                route = Route(b"not found", 404)
            route.hits.append(self.path)
            if route.mode == "redirect":
                self.send_response(route.status if 300 <= route.status < 400 else 302)
                self.send_header("Location", route.location)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                return
            self.send_response(route.status)
            self.send_header("Content-Type", "application/x-gzip")
            if route.mode == "drip":  # one byte every 0.3 s: never idle long enough for a read timeout
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    for byte in route.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.3)
                return
            if route.mode == "stream-huge":
                self.send_header("Connection", "close")
                self.end_headers()
                block = b"\0" * (1 << 20)
                with contextlib.suppress(OSError):
                    for _ in range(40):
                        self.wfile.write(block)
                return
            length = (1 << 30) if route.mode == "claim-huge" else len(route.body)
            self.send_header("Content-Length", str(length))
            self.send_header("Connection", "close")
            self.end_headers()
            body = route.body[: len(route.body) // 2] if route.mode == "truncate" else route.body
            with contextlib.suppress(OSError):
                self.wfile.write(body)
                self.wfile.flush()

    return Handler


#: Host names the default server certificate holds (the proxy test asks for the second one).
SERVER_NAMES = ("127.0.0.1", "cas.example.invalid")


def _default_tls() -> Tuple[Path, Path, Path]:
    """(CA bundle, server cert, server key) of this module's throwaway server CA, made once."""
    from support.pki import TestCA

    global _TLS
    if _TLS is None:
        directory = Path(tempfile.mkdtemp(prefix="jenv-ca-server-"))
        ca = TestCA("/C=ch/O=jenv-test/CN=ca-fetch test server CA")
        cert, key = ca.issue("/C=ch/O=jenv-test/CN=127.0.0.1", sans=SERVER_NAMES).write(directory, "server")
        _TLS = (ca.write_bundle(directory / "trust.pem"), cert, key)
    return _TLS


_TLS: Optional[Tuple[Path, Path, Path]] = None


def trust() -> Dict[str, str]:
    """The environment that makes requests trust :func:`serve`'s default certificate."""
    return {"REQUESTS_CA_BUNDLE": str(_default_tls()[0])}


@contextlib.contextmanager
def serve(routes: Dict[str, Route], tls: Optional[Tuple[Path, Path]] = None, plain: bool = False) -> Iterator[str]:
    """Serve ``routes`` on 127.0.0.1 over HTTPS (``tls`` = other (cert, key) files; ``plain`` = HTTP).
    Yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes))
    server.daemon_threads = True
    if tls is None and not plain:
        tls = _default_tls()[1:]
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "https" if tls else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def connect_proxy(target_port: int) -> Iterator[str]:
    """An HTTP proxy that tunnels every CONNECT to 127.0.0.1:``target_port``; yields its URL and records
    the requested authorities in ``connect_proxy.seen``."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    connect_proxy.seen = []

    def one(client):
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            request += chunk
        connect_proxy.seen.append(request.split(b" ")[1].decode())
        upstream = socket.create_connection(("127.0.0.1", target_port))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def loop():
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                threading.Thread(target=one, args=(client,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def fetch_env(home: Path, **extra: str) -> Dict[str, str]:
    """A clean environment in which requests trusts the test server's CA (REQUESTS_CA_BUNDLE)."""
    from support.launcher import clean_env

    env = clean_env(home, **extra)
    for name, value in trust().items():
        env.setdefault(name, value)
    return env


def openssl_ok(store: Path, cert_pem: bytes, tmp: Path) -> bool:
    """``openssl verify -CApath store`` accepts the certificate (the independent oracle)."""
    cert = tmp / "check.pem"
    cert.write_bytes(cert_pem)
    proc = subprocess.run(["openssl", "verify", "-CApath", str(store), "-no-CAfile", "-no-CAstore", str(cert)],
                          capture_output=True, text=True)
    return proc.returncode == 0


def openssl_hash(pem: bytes) -> str:
    """The subject hash as the openssl command computes it (independent of jenv)."""
    with tempfile.NamedTemporaryFile(suffix=".pem") as fh:
        fh.write(pem)
        fh.flush()
        return subprocess.run(["openssl", "x509", "-noout", "-subject_hash", "-in", fh.name],
                              capture_output=True, text=True, check=True).stdout.strip()


class Tarball:
    """Builds a gzip tarball member by member (files, symlinks, anything hostile)."""

    def __init__(self, top: str = "alien-cas-master"):
        self.top = top
        self.members: List[Tuple[tarfile.TarInfo, bytes]] = []

    def file(self, path: str, data: bytes) -> "Tarball":
        info = tarfile.TarInfo(path)
        info.size, info.mode = len(data), 0o644
        self.members.append((info, data))
        return self

    def link(self, path: str, target: str, hard: bool = False) -> "Tarball":
        info = tarfile.TarInfo(path)
        info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
        info.linkname = target
        self.members.append((info, b""))
        return self

    def special(self, path: str, kind: bytes = tarfile.FIFOTYPE) -> "Tarball":
        info = tarfile.TarInfo(path)
        info.type = kind
        self.members.append((info, b""))
        return self

    def ca(self, bundle: str, alias: str, pem: bytes, index: int = 0) -> "Tarball":
        """One CA the IGTF way: alias files, and hash names as symbolic links next to them."""
        folder = f"{self.top}/{bundle}"
        digest = openssl_hash(pem)
        self.file(f"{folder}/{alias}.pem", pem)
        self.file(f"{folder}/{alias}.info", f"alias = {alias}\n".encode())
        self.file(f"{folder}/{alias}.namespaces", f'TO Issuer "/CN={alias}" PERMIT Subject "/*"\n'.encode())
        self.file(f"{folder}/{alias}.signing_policy", f"access_id_CA X509 '/CN={alias}'\n".encode())
        self.file(f"{folder}/{alias}.crl_url", f"http://crl.example.org/{alias}.crl\n".encode())
        self.link(f"{folder}/{digest}.{index}", f"{alias}.pem")
        self.link(f"{folder}/{digest}.signing_policy", f"{alias}.signing_policy")
        self.link(f"{folder}/{digest}.namespaces", f"{alias}.namespaces")
        return self

    def build(self, extra_top_files: Sequence[str] = ("README.md", "get_current_igtf")) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
            top = tarfile.TarInfo(self.top)
            top.type, top.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(top)
            for name in extra_top_files:
                data = b"CA certificates for AliEn\n"
                info = tarfile.TarInfo(f"{self.top}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            for info, data in self.members:
                tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
        return out.getvalue()


# --- the PKI and tarball the fetch and info tests share ------------------------------------

K = make_keys()
ROOT = issue(name("Fetch Root"), K["rsa0"])
INTER = issue(name("Fetch Grid CA"), K["rsa1"], ROOT)
TWIN_A = issue(name("Fetch Twin CA"), K["rsa2"])
TWIN_B = issue(name("Fetch Twin CA"), K["rsa3"])
OLD = issue(name("Fetch Old CA"), K["ec0"], not_before=NOW - 900 * DAY, not_after=NOW - DAY)
SOON = issue(name("Fetch Soon CA"), K["ec1"], not_after=NOW + 10 * DAY)
USER = issue(name("Fetch User"), K["ec2"], INTER, ca=False)
TWIN_USER = issue(name("Twin User"), K["ec3"], TWIN_B, ca=False)


def alien_cas() -> Tarball:
    return (Tarball()
            .ca("igtf-preinstalled-bundle-classic", "Fetch-Root", ROOT.pem)
            .ca("igtf-preinstalled-bundle-classic", "Fetch-Twin-A", TWIN_A.pem)
            .ca("igtf-preinstalled-bundle-classic", "Fetch-Old", OLD.pem)
            .ca("igtf-preinstalled-bundle-iota", "Fetch-Root", ROOT.pem)  # same CA in two bundles
            .ca("igtf-preinstalled-bundle-iota", "Fetch-Soon", SOON.pem)
            .ca("alien-ca", "AliEn-Grid-CA", INTER.pem)
            .ca("alien-ca", "Fetch-Twin-B", TWIN_B.pem))  # same subject as Twin-A: its own <hash>.0 here


GOOD = alien_cas().build()
