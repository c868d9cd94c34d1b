"""Misbehaving JCentral servers on 127.0.0.1 for fault-injection tests.

``ws_server`` runs a real websockets server with a handler that does the wrong
thing; ``raw_server`` hands accepted TCP connections to a function (to stall,
or to cut a frame in half after ``accept_upgrade`` did the handshake by hand).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import ssl
import threading
from typing import Callable, Iterator

from websockets.sync.server import serve

__all__ = ["ws_server", "raw_server", "accept_upgrade", "server_frame", "pipe"]


@contextlib.contextmanager
def ws_server(context: ssl.SSLContext, handler: Callable, process_request=None) -> Iterator[int]:
    """A websockets server with our TLS and a misbehaving handler; yields its port."""
    server = serve(handler, "127.0.0.1", 0, ssl=context, process_request=process_request)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.socket.getsockname()[1]
    finally:
        server.shutdown()
        thread.join(5)


@contextlib.contextmanager
def raw_server(serve_one: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP listener whose accepted connections are handed to ``serve_one`` in a thread."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held = []

    def loop():
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                held.append(conn)
                threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for conn in held:
            conn.close()


def pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until EOF, then half-close ``dst`` (one direction of a relay or tunnel)."""
    with contextlib.suppress(OSError):
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def server_frame(payload: bytes, opcode: int = 0x1, fin: bool = True) -> bytes:
    """One unmasked WebSocket frame as a server writes it (RFC 6455 5.2), payloads under 64 KiB."""
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    return head + bytes([126]) + len(payload).to_bytes(2, "big") + payload


def accept_upgrade(conn: socket.socket, context: ssl.SSLContext, then: bytes = b"") -> ssl.SSLSocket:
    """Do the server side of TLS and of the WebSocket handshake by hand; ``then`` goes out in the same
    write as the 101 answer."""
    tls = context.wrap_socket(conn, server_side=True)
    request = b""
    while b"\r\n\r\n" not in request:
        request += tls.recv(4096)
    key = [line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
           if line.lower().startswith(b"sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    tls.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + then)
    return tls
