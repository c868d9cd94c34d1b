"""The bad-input corpus's world (CA, user, tokens, local and fault services) and its per-case lab
(used by tests/system/corpus/)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

from cryptography import x509

from support import launcher as jenvtest
from jenv.service.authority import Authority, Credential, install_ca_dir, new_rsa_key, traditional_key_pem
from jenv.jcentral.client import ClientIdentity, fetch_token
from jenv.locations import CAStore, Endpoint, Location
from jenv.jcentral.protocol import TokenRequest
from jenv.service.server import LocalService, UserMap, run_service
from jenv.service.issuer import Account

UID = os.getuid()
REPO = str(Path(__file__).resolve().parents[2])
USER_DN = "/C=ch/O=jenv corpus/OU=Users/CN=Carl Corpus"
PASSPHRASE = b"correct horse"
#: Without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH root obeys file modes, so "unreadable" is real in CI containers.
NO_FILE_CAPS = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class World:
    """Built once per session: everything a case may copy into its lab."""

    dir: Path
    authority: Authority
    ca_dir: Path
    user: Credential
    token_cert: bytes
    token_key: bytes
    expired_cert: bytes
    expired_key: bytes
    foreign_cert: bytes  # a token signed by a CA that is not in the CA store
    foreign_key: bytes
    service_port: int = 0
    fault_port: int = 0
    fault_answer: Optional[str] = None


def _pair(authority: Authority, subject: x509.Name, start: dt.datetime, end: dt.datetime):
    key = new_rsa_key()
    cert = authority.sign(subject, key.public_key(), start, end)
    return Credential(cert, key).cert_pem, traditional_key_pem(key)


def build_world(directory: Path) -> World:
    """The corpus CA, its CA directory, a user and three token pairs (valid, expired, foreign)."""
    authority = Authority.create("/C=ch/O=jenv corpus/CN=jenv corpus CA")
    ca_dir = directory / "certificates"
    install_ca_dir(str(ca_dir), [authority.cert])
    user = authority.issue_user(USER_DN, days=30)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    subject = x509.Name.from_rfc4514_string("CN=token,CN=1,CN=ccorpus,CN=Users,O=AliEn2,C=ch")
    expired = _pair(authority, subject, now - dt.timedelta(days=2), now - dt.timedelta(days=1))
    foreign = _pair(Authority.create("/C=ch/O=Elsewhere/CN=Not the grid CA"), subject, now - dt.timedelta(hours=1),
                    now + dt.timedelta(days=1))
    return World(directory, authority, ca_dir, user, b"", b"", *expired, *foreign)


@contextlib.contextmanager
def serve_world(world: World) -> Iterator[World]:
    """The real local service and a fault service (same TLS identity, answers ``world.fault_answer``)."""
    from websockets.sync.server import serve

    users = UserMap({USER_DN: Account("ccorpus", ("ccorpus",), None)})
    service = LocalService(world.authority, world.authority.issue_server(), users)

    def fault_handler(connection) -> None:
        for _message in connection:
            connection.send(world.fault_answer or "")

    fault = serve(fault_handler, "127.0.0.1", 0, ssl=service.ssl_context(), max_size=None)
    thread = threading.Thread(target=fault.serve_forever, daemon=True)
    thread.start()
    try:
        with run_service(service) as (_host, port):
            world.service_port, world.fault_port = port, fault.socket.getsockname()[1]
            user_dir = world.dir / "user"
            user_dir.mkdir(exist_ok=True)
            world.user.write(str(user_dir / "cert.pem"), str(user_dir / "key.pem"))
            identity = ClientIdentity(Location("user certificate", "test", path=str(user_dir / "cert.pem")),
                                      Location("user key", "test", path=str(user_dir / "key.pem")))
            pair = fetch_token(Endpoint("127.0.0.1", port, "test"), identity, CAStore(str(world.ca_dir), "dir", "t"),
                               5.0, TokenRequest(), lambda _notice: None)
            world.token_cert, world.token_key = pair.cert_pem.encode(), pair.key_pem.encode()
            yield world
    finally:
        fault.shutdown()
        thread.join(5)


class Lab:
    """One case's directory: HOME with ~/.globus, TMPDIR with a token, and the environment for jenv."""

    def __init__(self, root: Path, world: World, clean_env: Callable[..., Dict[str, str]], expired: bool = False):
        self.root, self.world = root, world
        self.home = root / "home"
        globus = self.home / ".globus"
        globus.mkdir(parents=True)
        world.user.write(str(globus / "usercert.pem"), str(globus / "userkey.pem"))
        self.env = clean_env(self.home, X509_CERT_DIR=str(world.ca_dir), ALIENPY_JCENTRAL="127.0.0.1",
                             ALIENPY_JCENTRAL_PORT=str(world.service_port), JENV_TIMEOUT="15", SHELL="/bin/sh")
        self.tmp = Path(self.env["TMPDIR"])
        self.token_cert = self.tmp / f"tokencert_{UID}.pem"
        self.token_key = self.tmp / f"tokenkey_{UID}.pem"
        cert, key = (world.expired_cert, world.expired_key) if expired else (world.token_cert, world.token_key)
        self.write_private(self.token_cert, cert, 0o400)
        self.write_private(self.token_key, key, 0o400)

    @staticmethod
    def write_private(path: Path, data: bytes, mode: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def file(self, name: str, data: bytes, mode: int = 0o600) -> str:
        """A file in the lab (outside HOME and TMPDIR); returns its path."""
        path = self.root / name
        self.write_private(path, data, mode)
        return str(path)

    def encrypted_user_key(self) -> str:
        return self.file("encrypted-userkey.pem", self.world.user.key_pem(PASSPHRASE), 0o400)

    def fault(self, answer: str) -> Dict[str, str]:
        """Point jenv at the fault service, which will answer ``answer`` to every request."""
        self.world.fault_answer = answer
        return {"ALIENPY_JCENTRAL_PORT": str(self.world.fault_port)}

    def state(self) -> Dict[str, tuple]:
        """Names, modes and bytes of everything in TMPDIR (the token files must survive every case)."""
        state = {}
        for entry in sorted(os.listdir(self.tmp)):
            path = self.tmp / entry
            st = os.lstat(path)
            data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
            state[entry] = (st.st_mode, data)
        return state


def run(argv: List[str], env: Dict[str, str], cwd: Path, runner: str = "plain", answer: bytes = b"wrong",
        timeout: float = 30) -> Outcome:
    """Run jenv: "plain", "nocaps" (root loses its file-permission override), "detached" (no
    controlling terminal), "pty" (a terminal that types ``answer`` at the passphrase prompt, each of the
    three times it is asked) or "pty-p12" (the same at cert-import's PKCS#12 password prompt)."""
    command = [sys.executable, "-m", "jenv", *argv]
    env = dict(env, PYTHONPATH=REPO)  # the case's cwd is its lab, not the checkout
    start = time.monotonic()
    if runner in ("pty", "pty-p12"):  # scanned by the caller, as every runner's output is
        prompt = b"PKCS#12 password for" if runner == "pty-p12" else b"Passphrase for"
        out = jenvtest.run_on_pty(command, env, [answer] * 3, prompt=prompt, timeout=timeout, cwd=str(cwd), capture=True,
                                  scan=False)
        return Outcome(out.returncode, out.stdout, out.stderr, time.monotonic() - start)
    if runner == "nocaps" and os.geteuid() == 0:
        command = NO_FILE_CAPS + command
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout, start_new_session=runner == "detached")
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
