"""Helpers for ``jenv doctor`` by fault injection: run it and check its output against the schema, and TLS
servers on 127.0.0.1 that get one thing wrong (a certificate, an answer, a clock).

A module of its own, not conftest.py: pytest imports every directory's conftest.py under one name."""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jenv.service.authority import Authority, Credential, general_names, new_rsa_key
from support.faultservers import raw_server
from support.launcher import Result, scan

SCHEMA = Path(__file__).resolve().parents[2] / "jenv" / "data" / "schemas" / "jenv.doctor.v1.json"


def validate(document) -> list:
    """The output against the documented schema (jenv.doctor/1); its findings."""
    import jsonschema

    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    return document["findings"]


def doctor(env: Dict[str, str], prefix=(), timeout: float = 60, **popen) -> "Report":
    """``jenv doctor --json`` as a process (it opens sockets, threads and may wait for the deadline), with
    the text form run too: both must say the same thing first."""
    runs = []
    for form in (["doctor", "--json"], ["doctor"]):
        proc = subprocess.run([*prefix, sys.executable, "-m", "jenv", *form], env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL, **popen)
        scan(form, proc.stdout, proc.stderr)
        runs.append(Result(proc.returncode, proc.stdout, proc.stderr))
    as_json, as_text = runs
    assert as_json.returncode == as_text.returncode, (as_json, as_text)
    findings = validate(json.loads(as_json.stdout))
    # the first failure, and only it, as the one "jenv:" line on stderr (each run's own: a clock moves)
    if as_json.returncode:
        fix = f" (fix: {findings[0]['fix']})" if findings[0]["fix"] else ""
        assert as_json.stderr.splitlines() == [f"jenv: {findings[0]['detail']}{fix}"], as_json.stderr
        detail = as_text.stdout.splitlines()[0][5:].split(" -- fix: ")[0]
        assert as_text.stderr.splitlines() == [f"jenv: {detail}{fix}"], as_text.stderr
    else:
        assert as_json.stderr == as_text.stderr == ""
    lines = as_text.stdout.splitlines()
    assert len(lines) == len(findings)
    for line, finding in zip(lines, findings):
        assert line.startswith(finding["state"].upper()) and line.endswith(f"[{finding['id']}]"), line
    return Report(as_json.returncode, findings, as_text.stdout, as_json.stderr + as_text.stderr)


class Report:
    def __init__(self, code: int, findings: List[dict], text: str, stderr: str):
        self.code, self.findings, self.text, self.stderr = code, findings, text, stderr

    @property
    def first(self) -> dict:
        return self.findings[0]

    def ids(self, state: str) -> List[str]:
        return [f["id"] for f in self.findings if f["state"] == state]

    def __repr__(self) -> str:
        return f"exit {self.code}\n{self.text}{self.stderr}"


def leaf(authority: Authority, names=("localhost", "127.0.0.1", "::1"), not_before: Optional[dt.datetime] = None,
         not_after: Optional[dt.datetime] = None) -> Credential:
    """A server certificate of ``authority`` with the given names and dates (the defaults: a year, from now)."""
    key = new_rsa_key()
    now = dt.datetime.now(dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = authority.sign(subject, key.public_key(), not_before or now - dt.timedelta(hours=1),
                          not_after or now + dt.timedelta(days=365),
                          [(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
                           (x509.SubjectAlternativeName(general_names(names)), False)])
    return Credential(cert, key)


def server_context(credential: Credential, tmp: Path, client_ca: Optional[Authority] = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tmp.mkdir(parents=True, exist_ok=True)
    cert, key = tmp / "server.pem", tmp / "server.key"
    cert.write_bytes(credential.cert_pem)
    key.write_bytes(credential.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    context.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=client_ca.credential.cert_pem.decode())
    return context


def http_date(offset: float = 0.0) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


@contextlib.contextmanager
def answering(context: ssl.SSLContext, answer: Optional[Callable[[bytes], bytes]]) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that reads the HTTP upgrade and sends ``answer(request)``, then closes;
    with ``answer`` None it completes TLS and then never speaks."""

    def serve_one(conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            tls = context.wrap_socket(conn, server_side=True)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                request += chunk
            if answer is None:
                time.sleep(60)
                return
            tls.sendall(answer(request))
            tls.close()

    with raw_server(serve_one) as port:
        yield port


def switching(date: str) -> Callable[[bytes], bytes]:
    """A 101 answer (websockets' accept rule) carrying ``date``."""
    import base64
    import hashlib

    def answer(request: bytes) -> bytes:
        key = [line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Date: " + date.encode() + b"\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")

    return answer
