"""A local JCentral-compatible service: TLS WebSocket, mutual TLS, real tokens.

Answers ``token``, ``whoami`` and ``user`` like JCentral, issuing token
certificates with :mod:`jenv.service.issuer` signed by a local CA.  Clients present
a certificate of that CA; its DN is looked up in a user map (JSON)::

    {"<DN>": {"username": "jdoe", "roles": ["jdoe", "alicepr"], "email": "jdoe@example.org",
              "admin": false, "jobagent": false}}

(``roles`` defaults to the username; ``admin: true`` is the same as the role
``admin``; ``jobagent: true`` makes the certificate a JobAgent identity, which
may ask for job tokens).  Tokens the service issued map back to their user, as
``UserFactory.getAllByDN`` maps them, and anything else of the trusted CA gets
HTTP 401 at the WebSocket upgrade, as JCentral answers.
Built on websockets' synchronous server; bad frames get an error answer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import ssl
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Callable, Iterator, Mapping, Optional, Tuple

from cryptography import x509

from jenv.service.authority import Authority, Credential
from jenv.errors import InvalidInputError, NotFoundError
from jenv.safefile import MAX_PEM_SIZE, new_private_directory, open_own_file_to_append, read_small_file
from jenv.service.issuer import JOBAGENT_DN, Account, ErrNo, Issued, Requester, dns_resolves, issue_from_options
from jenv.pem import grid_dn
from jenv.jcentral.protocol import Reply, encode_reply

__all__ = ["UserMap", "load_user_map", "Principal", "LocalService", "run_service"]

UTC = dt.timezone.utc
_quiet = logging.getLogger("jenv.service.server")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


@dataclass(frozen=True)
class UserMap:
    """Registered certificates: DN -> Account (also reachable by user name)."""

    by_dn: Mapping[str, Account]

    def by_username(self, username: str) -> Optional[Account]:
        for account in self.by_dn.values():
            if account.username == username:
                return account
        return None


def load_user_map(path: str) -> UserMap:
    """Read the JSON user map; raises NotFoundError or InvalidInputError naming the file."""
    try:
        data = json.loads(read_small_file(path, MAX_PEM_SIZE)[0].decode("utf-8"))
    except OSError as exc:
        raise NotFoundError(f"user map {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidInputError(f"user map {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"user map {path} must be a JSON object of DN -> user")
    accounts = {}
    for dn, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("username"), str):
            raise InvalidInputError(f"user map {path}: entry {dn!r} needs a \"username\"")
        roles = entry.get("roles", [entry["username"]])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise InvalidInputError(f"user map {path}: \"roles\" of {dn!r} must be a list of names")
        email = entry.get("email")
        if email is not None and not isinstance(email, str):
            raise InvalidInputError(f"user map {path}: \"email\" of {dn!r} must be text")
        flags = {name: entry.get(name, False) for name in ("admin", "jobagent")}
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise InvalidInputError(f"user map {path}: \"{name}\" of {dn!r} must be true or false")
        accounts[dn] = Account(entry["username"], tuple(roles), email, flags["admin"], flags["jobagent"])
    return UserMap(accounts)


@dataclass
class Principal:
    """Who is connected (mutable: ``user <role>`` changes the role for the connection)."""

    account: Account
    role: str
    dn: str
    not_after: dt.datetime
    job_agent: bool = False
    job: bool = False

    def requester(self) -> Requester:
        return Requester(self.account, self.role, self.not_after, self.job_agent, self.job)


def identify(cert: x509.Certificate, users: UserMap) -> Optional[Principal]:
    """Map a verified client certificate to a principal: token subjects, then the user map."""
    dn = grid_dn(cert.subject)
    not_after = cert.not_valid_after_utc
    if dn == JOBAGENT_DN:
        return Principal(Account("jobagent", ("jobagent",), job_agent=True), "jobagent", dn, not_after,
                         job_agent=True)
    parts = dn.split("/")
    if dn.startswith("/C=ch/O=AliEn2/CN=Users/CN=") and len(parts) == 6 and parts[5].startswith("OU="):
        account = users.by_username(parts[4][3:])
        role = parts[5][3:]
        if account is not None and account.can_become(role):
            return Principal(account, role, dn, not_after)
        return None
    if dn.startswith("/C=ch/O=AliEn2/CN=Jobs/CN=") and len(parts) >= 6:
        account = users.by_username(parts[4][3:])
        return Principal(account, account.username, dn, not_after, job=True) if account else None
    account = users.by_dn.get(dn)
    return Principal(account, account.username, dn, not_after, job_agent=account.job_agent) if account else None


def _home(username: str) -> str:
    return f"/alice/cern.ch/user/{username[:1]}/{username}/"


@dataclass
class LocalService:
    """The service state; :func:`run_service` puts it on a socket."""

    authority: Authority
    server_credential: Credential
    users: UserMap
    log_path: Optional[str] = None
    #: ``serve --token-seconds``: every token lasts this many seconds (tests and demonstrations only).
    token_seconds: Optional[int] = None
    #: How a host token's host name is looked up (JCentral resolves it).
    resolve: Callable[[str], bool] = dns_resolves
    token_requests: int = 0
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        """Server TLS: our certificate, client certificates required and verified against our CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=self.authority.credential.cert_pem.decode("ascii"))
        directory = new_private_directory("jenv-serve-")
        try:
            cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
            self.server_credential.write(cert_path, key_path)
            context.load_cert_chain(cert_path, key_path)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return context

    def process_request(self, connection, request):
        """Before the upgrade: identify the client certificate, or answer HTTP 401."""
        der = connection.socket.getpeercert(binary_form=True)
        principal = identify(x509.load_der_x509_certificate(der), self.users) if der else None
        if principal is None:
            self._log({"event": "unauthorized", "path": request.path})
            return connection.respond(HTTPStatus.UNAUTHORIZED, "certificate not registered\n")
        connection.jenv_principal = principal
        return None

    def handler(self, connection) -> None:
        """One connection: answer every text frame with one JSON frame."""
        principal: Principal = connection.jenv_principal
        for message in connection:
            connection.send(encode_reply(self.answer(principal, message)))

    def answer(self, principal: Principal, message) -> Reply:
        """The reply to one raw frame; never raises for bad input."""
        try:
            data = json.loads(message)
        except (ValueError, RecursionError):
            return self._error(principal, ErrNo.EINVAL, "the request is not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("command"), str):
            return self._error(principal, ErrNo.EINVAL, "the request has no \"command\"")
        options = data.get("options", [])
        if not isinstance(options, list) or not all(isinstance(opt, str) for opt in options):
            return self._error(principal, ErrNo.EINVAL, "\"options\" must be a list of strings")
        command = data["command"]
        with self._lock:
            self.requests += 1
            self.token_requests += command == "token"
        reply = self._dispatch(principal, command, options)
        self._log({"dn": principal.dn, "role": principal.role, "command": command, "exitcode": reply.exitcode})
        return reply

    def _dispatch(self, principal: Principal, command: str, options: list) -> Reply:
        if command == "token":
            return self._token(principal, options)
        if command == "whoami":
            return self._reply(principal, 0, "", [self._whoami(principal)])
        if command == "user":
            return self._switch(principal, options)
        return self._error(principal, ErrNo.ENOENT, f"Command [{command}] not found!")

    def _token(self, principal: Principal, options: list) -> Reply:
        outcome = issue_from_options(self.authority, principal.requester(), options,
                                     dt.datetime.now(UTC).replace(microsecond=0), self.resolve, self.token_seconds)
        if not isinstance(outcome, Issued):
            return self._reply(principal, outcome.exitcode, outcome.error, [])
        result = {"tokencert": outcome.cert_pem, "tokenkey": outcome.key_pem}
        if "-nomsg" not in options:
            result["message"] = self._token_message(outcome)
        return self._reply(principal, outcome.exitcode, outcome.error, [result])

    def _token_message(self, token: Issued) -> str:
        """The text JAliEnCommandtoken prints with a token: its DN (for a host token, which account it maps
        to), when it expires (Java's Date form), then the certificate and the key."""
        dn = grid_dn(token.cert.subject)
        # UserFactory.transformDN writes the values as they are (a job id's '/' unescaped)
        lines = ["DN: /" + "/".join(f"{a.rfc4514_attribute_name}={a.value}" for a in token.cert.subject)]
        if dn.startswith("/C=ch/O=AliEn2/OU=ALICE/CN="):
            account = self.users.by_dn.get(dn)
            lines.append(f"  Mapped to {account.username}" if account else "  No user is mapped to this DN")
        expires = token.cert.not_valid_after_utc.strftime("%a %b %d %H:%M:%S UTC %Y")
        return "\n".join(lines) + f"\nExpires: {expires}\n\n{token.cert_pem}\n{token.key_pem}"

    def _whoami(self, principal: Principal) -> dict:
        account = principal.account
        roles = list(dict.fromkeys((account.username,) + account.roles))
        return {"username": account.username, "role": principal.role, "roles": ",".join(roles),
                "certificate_dn": principal.dn,
                "certificate_expires": str(int(principal.not_after.timestamp())),
                "homedir": _home(account.username)}

    def _switch(self, principal: Principal, options: list) -> Reply:
        if len(options) != 1 or options[0].startswith("-"):
            return self._error(principal, ErrNo.EINVAL, "usage: user <username>")
        target = options[0]
        if not principal.account.can_become(target):
            return self._error(principal, ErrNo.EPERM, f"Switching user {principal.role} to [{target}] failed")
        principal.role = target
        return self._reply(principal, 0, "", [])

    def _reply(self, principal: Principal, exitcode: int, error: str, results: list) -> Reply:
        return Reply(int(exitcode), error, principal.role, _home(principal.account.username), results)

    def _error(self, principal: Principal, errno: ErrNo, detail: str) -> Reply:
        return self._reply(principal, int(errno), errno.message(detail), [])

    def _log(self, record: dict) -> None:
        if not self.log_path:
            return
        record = {"time": dt.datetime.now(UTC).isoformat(timespec="seconds"), **record}
        with self._lock, os.fdopen(open_own_file_to_append(self.log_path), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


@contextlib.contextmanager
def run_service(service: LocalService, host: str = "127.0.0.1", port: int = 0) -> Iterator[Tuple[str, int]]:
    """Serve ``service`` in a background thread; yields the bound (host, port), stops on exit."""
    from websockets.sync.server import serve

    server = serve(service.handler, host, port, ssl=service.ssl_context(),
                   process_request=service.process_request, logger=_quiet,
                   open_timeout=10, ping_interval=None, server_header="jenv-local-jcentral")
    thread = threading.Thread(target=server.serve_forever, name="jenv-serve", daemon=True)
    thread.start()
    try:
        bound = server.socket.getsockname()
        yield bound[0], bound[1]
    finally:
        server.shutdown()
        thread.join(timeout=10)
