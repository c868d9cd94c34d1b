"""The JCentral client: one mutual-TLS WebSocket session, JSON frames in and out.

Built on websockets' sans-I/O client protocol (``websockets.client.ClientProtocol``),
driven here on one TLS socket in the calling thread: no reader thread, so no
race between threads over one TLS connection and no wait for TLS 1.3 session
tickets before the upgrade (OpenSSL takes them inside the next read).  Every
failure leaves this module as exactly one :class:`~jenv.errors.JenvError`
that names the endpoint and, where it can tell, which side was at fault.

TLS choices (compared with the official client, alienpy ``connect_ssl.py``):

* the server certificate chain is always verified against the grid CA store
  (``CERT_REQUIRED``, like alienpy), and TLS 1.2 is the minimum (alienpy only
  disables SSLv3);
* the server certificate must carry the endpoint's name as RFC 6125 says
  (``check_hostname`` with ``server_hostname``: OpenSSL's X509_check_host and
  X509_check_ip match a subjectAltName dNSName, with the wildcards RFC 6125
  allows, or an iPAddress entry for an address), on whichever resolved
  address the connection reached.  The official clients match no name, and
  any ALICE member's token (serverAuth, ``localhost`` names, the AliEn CA)
  or any grid site's host certificate would pass for JCentral otherwise.
  ``JENV_JCENTRAL_NAME`` names what to expect when it is not the host (a
  node name, a tunnel, a test service);
* the server certificate must be a server's (:func:`server_certificate_problem`):
  serverAuth or no extended key usage, not a CA, and never a JAliEn user,
  job or jobagent token, which are client identities every member holds.
  Both checks refuse before the WebSocket upgrade, so no request is sent;
* no proxy: alienpy opens its own TCP socket, so proxy variables (set on
  many clusters for web downloads) never applied to JCentral; jenv opens its
  own socket too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import socket
import ssl
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

from jenv.ca.store import check_hash_entries, check_store_file, open_ca_store
from jenv.credentials import key_permission_problem, load_certificate, materialize, read_credential, unlock_key
from jenv.errors import InvalidInputError, JenvError, KeyMismatchError, NetworkError, NotFoundError, NotValidNowError, \
    PassphraseError, ServerRefusedError, UnsafeFileError, VerifyError
from jenv.locations import CAStore, Endpoint, Location
from jenv.pem import cert_info, grid_dn, is_encrypted_key, key_matches, parse_private_key, validity_problem
from jenv.jcentral.protocol import ProtocolError, Reply, TokenPair, TokenRequest, encode_request, parse_reply, \
    token_pair_from_reply

__all__ = ["ClientIdentity", "Session", "open_session", "fetch_token", "check_identity", "ProtocolError",
           "server_certificate_problem", "probe_context", "probe_address", "probe_error", "Probe"]

#: A TLS connection that ended, abruptly (EOF) or with a close_notify (zero return): right after
#: the handshake this is how a TLS 1.3 server that refused our certificate usually looks.
_CLOSED = (ssl.SSLEOFError, ssl.SSLZeroReturnError)

#: TLS alerts a server sends when it rejects the client certificate.
_CLIENT_CERT_ALERTS = ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "CERTIFICATE_EXPIRED",
                       "CERTIFICATE_REVOKED", "UNSUPPORTED_CERTIFICATE", "CERTIFICATE_UNKNOWN",
                       "ACCESS_DENIED", "HANDSHAKE_FAILURE")


@dataclass(frozen=True)
class ClientIdentity:
    """The certificate and key presented to JCentral (user certificate or token).

    ``passphrase`` answers for an encrypted key instead of the terminal (``jenv agent``, which asked once
    and keeps it): called each time the key is loaded, it returns the passphrase (a bytearray the caller
    may wipe afterwards).
    """

    cert: Location
    key: Location
    passphrase: Optional[Callable[[], Union[bytes, bytearray]]] = field(default=None, compare=False, repr=False)


def _load_ca(context: ssl.SSLContext, ca: CAStore) -> None:
    """The CA store into the TLS context, checked first as ``ca-info`` checks it (missing, empty, a FIFO
    among the files OpenSSL will open during the handshake, a bundle that is not a regular file)."""
    open_ca_store(ca)
    try:
        if ca.kind == "dir":
            check_hash_entries(ca)
            context.load_verify_locations(capath=ca.path)
        else:  # the bytes read safely are what OpenSSL gets: no second open of the path
            context.load_verify_locations(cadata=check_store_file(ca).decode("ascii", "replace"))
    except (OSError, ssl.SSLError) as exc:
        raise NotFoundError(f"cannot load the CA certificates from {ca.path} ({ca.source}): "
                            f"{getattr(exc, 'strerror', None) or exc}; set X509_CERT_DIR or run "
                            "'jenv ca-fetch'") from None


def check_identity(identity: ClientIdentity, now: float):
    """Everything about our credentials that can be known without a passphrase, in this order: the
    certificate (missing, unreadable, not a certificate, expired, not yet valid at ``now``, the caller's
    clock in seconds since the epoch), then the key (missing, unreadable, readable by others, and, when it
    is not encrypted, not matching).

    Returns the parsed certificate, the key's bytes and, when the key is not encrypted, the parsed key
    (read once for the whole connection).  Raises the errors of ``cert-info``/``status`` for the same
    problems.
    """
    cert = load_certificate(identity.cert)
    problem = validity_problem(cert_info(cert), identity.cert, dt.datetime.fromtimestamp(now, dt.timezone.utc))
    if problem:
        raise NotValidNowError(problem)
    data = read_credential(identity.key)
    if identity.key.path is not None:
        unsafe = key_permission_problem(identity.key.path)
        if unsafe:
            raise UnsafeFileError(unsafe)
    key = None
    if not is_encrypted_key(data):
        key = parse_private_key(data, identity.key.describe(), own_key=True)
        if not key_matches(cert, key):
            raise KeyMismatchError(f"{identity.key.describe()} does not belong to {identity.cert.describe()}")
    return cert, data, key


def _verifying_context(ca: CAStore) -> ssl.SSLContext:
    """A client context that verifies the server against the CA store (checked as ca-info checks it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True  # RFC 6125, by OpenSSL: see the module docstring
    context.verify_mode = ssl.CERT_REQUIRED
    _load_ca(context, ca)
    return context


def _add_identity(context: ssl.SSLContext, identity: ClientIdentity, checked) -> None:
    """Our certificate and key (as :func:`check_identity` returned them) into the context; an encrypted
    key's passphrase is asked here, and only then can it be matched with the certificate."""
    cert, data, key = checked
    what = identity.key.describe()
    password = None
    if key is None and identity.passphrase is not None:  # the agent's, proven when it started: asked once
        password = identity.passphrase()
        key = parse_private_key(data, what, lambda: password, own_key=True)
    elif key is None:  # asked at the terminal, again after a typo (unlock_key); OpenSSL gets the answer that worked
        key, password = unlock_key(what, lambda secret: parse_private_key(data, what, secret, own_key=True))
        if not key_matches(cert, key):
            raise KeyMismatchError(f"{what} does not belong to {identity.cert.describe()}")
    with materialize(identity.cert) as cert_path, materialize(identity.key) as key_path:
        try:
            context.load_cert_chain(cert_path, key_path, password=password)
        except ssl.SSLError as exc:
            if password is not None:
                raise PassphraseError(f"wrong passphrase for {what}") from None
            raise KeyMismatchError(f"cannot use {what} with {identity.cert.describe()}: {exc}") from None


@dataclass(frozen=True)
class _Peer:
    """What error messages need to know about one connection attempt."""

    endpoint: Endpoint
    ca: CAStore
    dn: str
    timeout: float

    @property
    def where(self) -> str:
        return f"JCentral at {self.endpoint.host}:{self.endpoint.port}"

    def tls_error(self, exc: ssl.SSLError) -> NetworkError:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return NetworkError(f"the server certificate of {self.where} is not trusted: {exc.verify_message} "
                                f"(CA store {self.ca.path}, {self.ca.source}); run 'jenv ca-fetch' or fix "
                                "X509_CERT_DIR")
        reason = (exc.reason or str(exc)).upper()
        if any(alert in reason for alert in _CLIENT_CERT_ALERTS):
            return self.client_rejected(f"TLS alert {exc.reason}")
        hint = " (the service there does not speak TLS: check the port)" if "WRONG_VERSION" in reason else ""
        return NetworkError(f"TLS failure talking to {self.where}: {exc.reason or exc}{hint}")

    def name_mismatch(self, names: str) -> VerifyError:
        """The server's certificate is trusted but is not for the name expected (nothing was sent)."""
        name = self.endpoint.tls_name
        source = "from JENV_JCENTRAL_NAME" if self.endpoint.name else "the host of the endpoint"
        return VerifyError(f"the server certificate of {self.where} is not for {name} ({source}): it carries "
                           f"{names}; nothing was sent. Only if this is JCentral under another name: "
                           "export JENV_JCENTRAL_NAME=<the name it carries>")

    def not_a_server(self, problem: str) -> VerifyError:
        """The server's certificate is trusted but is no server's (nothing was sent)."""
        return VerifyError(f"the server certificate of {self.where} {problem}: it is not JCentral's, nothing was "
                           "sent; check ALIENPY_JCENTRAL and the network you are on")

    def client_rejected(self, how: str) -> NetworkError:
        return NetworkError(f"{self.where} rejected our client certificate {self.dn} ({how}): is it issued by "
                            "a CA that JCentral trusts, and still valid?")

    def _endpoint_fix(self) -> str:
        """Where the host and port came from, as the fix to check ("from ALIENPY_JCENTRAL" or "default")."""
        if self.endpoint.source == "default":
            return "this is the default endpoint; ALIENPY_JCENTRAL and ALIENPY_JCENTRAL_PORT set another"
        return f"the endpoint comes {self.endpoint.source}: check it there"

    def connect_error(self, exc: BaseException) -> NetworkError:
        """TCP or TLS handshake failure."""
        if isinstance(exc, ssl.SSLError):
            return self.tls_error(exc)
        if isinstance(exc, socket.gaierror):
            return NetworkError(f"cannot resolve the JCentral host {self.endpoint.host!r} ({exc.strerror}): "
                                f"{self._endpoint_fix()}")
        if isinstance(exc, ConnectionRefusedError):
            return NetworkError(f"{self.where} refused the connection: is the service running? "
                                f"{self._endpoint_fix()}")
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return NetworkError(f"no answer from {self.where} within {self.timeout:g}s while connecting "
                                "(JENV_TIMEOUT sets the limit)")
        if isinstance(exc, OSError):
            return NetworkError(f"cannot connect to {self.where}: {exc.strerror or exc}")
        return NetworkError(f"cannot connect to {self.where}: {type(exc).__name__}: {exc}")  # a name IDNA refuses

    def upgrade_error(self, exc: BaseException) -> JenvError:
        """Failure after the TLS handshake, while asking for the WebSocket upgrade."""
        from websockets.exceptions import InvalidStatus

        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            if status == 401:
                return ServerRefusedError(f"certificate {self.dn} is not registered in the ALICE VO "
                                          "(JCentral answered HTTP 401)")
            return NetworkError(f"{self.where} answered HTTP {status} {exc.response.reason_phrase} instead of "
                                "opening the WebSocket")
        chain = [exc, exc.__cause__, exc.__context__]
        for item in chain:
            if isinstance(item, ssl.SSLError) and not isinstance(item, _CLOSED):
                return self.tls_error(item)
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return NetworkError(f"{self.where} did not answer the WebSocket upgrade within {self.timeout:g}s "
                                "(JENV_TIMEOUT sets the limit)")
        if any(isinstance(item, (EOFError, ConnectionResetError, BrokenPipeError) + _CLOSED) for item in chain):
            # With TLS 1.3 the server checks our certificate after the client's handshake is done;
            # its alert is often lost in the reset, so a close before any HTTP answer means this.
            return self.client_rejected("connection closed right after the TLS handshake")
        return NetworkError(f"{self.where} did not open a WebSocket: {exc}")


def _open_tls(context: ssl.SSLContext, host: str, deadline: float, sock: socket.socket) -> ssl.SSLSocket:
    """The TLS handshake on the connected ``sock`` (SNI ``host``), bounded by ``deadline`` (time.monotonic)."""
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


#: OpenSSL's verify codes for a certificate that does not carry the expected name (X509_V_ERR_HOSTNAME_MISMATCH,
#: X509_V_ERR_IP_ADDRESS_MISMATCH).
_NAME_MISMATCH = (62, 64)
#: X509_V_ERR_INVALID_PURPOSE: the leaf may not act as a TLS server (its extended key usage).
_NOT_FOR_SERVERS = 26

#: The CNs after ``O=AliEn2`` that make a subject a JAliEn client identity (user, job, jobagent token).
_MEMBER_TOKEN_CNS = ("Users", "Jobs", "JobAgent")


def server_certificate_problem(der: bytes) -> Optional[str]:
    """Why the certificate (DER, as the TLS library received it) is not a server's, or None.

    A server certificate allows serverAuth (or has no extended key usage), is not a CA, and is not a
    JAliEn user, job or jobagent token (``O=AliEn2`` with ``CN=Users``, ``CN=Jobs`` or ``CN=JobAgent``):
    those are client identities every ALICE member holds.  JAliEn host tokens (``OU=ALICE/CN=<host>``)
    are servers' certificates.  The parse is cryptography's.
    """
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    try:
        cert = x509.load_der_x509_certificate(der)
        subject = grid_dn(cert.subject)
        extensions = cert.extensions
    except ValueError as exc:  # what OpenSSL accepted and cryptography cannot read (a duplicate extension)
        return f"cannot be read ({exc})"
    organizations = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if "AliEn2" in organizations and any(name in _MEMBER_TOKEN_CNS for name in names):
        return f"is a JAliEn member's token ({subject}), a client identity any ALICE member holds"
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return f"is a CA certificate ({subject})"
    except x509.ExtensionNotFound:
        pass
    try:
        usages = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        return f"does not allow TLS server use (no serverAuth in its extended key usage; {subject})"
    return None


def _certificate_names(der: bytes) -> str:
    """The names a certificate carries for RFC 6125 (subjectAltName dNSName and iPAddress entries),
    for the message of a mismatch; its CN when it has no such entry (which OpenSSL does not match)."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        try:
            alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = alt.get_values_for_type(x509.DNSName) + [str(a) for a in alt.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            names = []
        if names:
            return ", ".join(names)
        return f"no DNS name or address (subject {grid_dn(cert.subject)})"
    except ValueError as exc:
        return f"names that cannot be read ({exc})"


def _presented_names(address, timeout: float) -> str:
    """The names of the certificate the server at ``address`` presents, read on a second connection
    that only shakes hands (no verification, no client certificate, nothing sent after the handshake)."""
    look = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    look.check_hostname = False
    look.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(address[:2], timeout=timeout) as sock, look.wrap_socket(sock) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError) as exc:
        return f"names that could not be read ({getattr(exc, 'strerror', None) or exc})"
    return _certificate_names(der) if der else "no certificate"


class _LoadedOnFirstUse(types.ModuleType):
    """A module registered by its spec and executed the first time one of its attributes is missing.

    Unlike ``importlib.util.LazyLoader``, the import system's own look at ``__spec__`` (on every
    ``import`` statement of an imported module) does not load it; the first real use does, into
    this very object, so every reference to it sees the whole module.
    """

    def __getattr__(self, attr: str):
        self.__class__ = types.ModuleType  # from here on an ordinary module: no second execution
        self.__spec__.loader.exec_module(self)
        return getattr(self, attr)


def _websockets_client():
    """websockets' sans-I/O client protocol and what drives it.

    ``websockets/version.py`` imports ``importlib.metadata`` unconditionally and, in a released
    package, never uses it: the import alone costs token-init about 15 ms (email, zipfile,
    importlib.resources).  Unless something loaded it already, it is registered here and loaded
    for real, transparently, the first time anything uses it (:class:`_LoadedOnFirstUse`).
    """
    name = "importlib.metadata"
    if name not in sys.modules:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            module = importlib.util.module_from_spec(spec)  # its attributes, as the import system sets them
            module.__class__ = _LoadedOnFirstUse
            sys.modules[name] = module
            importlib.metadata = module  # what ``import importlib.metadata`` would have bound
    from websockets.client import ClientProtocol
    from websockets.frames import Opcode
    from websockets.http11 import Response
    from websockets.protocol import State
    from websockets.uri import parse_uri

    return ClientProtocol, Opcode, Response, State, parse_uri


#: What connecting can raise for reasons outside jenv: the socket's errors (refused, unreachable, timeout,
#: DNS), a host name that cannot be encoded (UnicodeError, a ValueError), a port out of range.
_CONNECT_FAILURES = (OSError, ValueError, OverflowError)


def _upgrade_failures() -> tuple:
    """What the WebSocket upgrade can raise for reasons outside jenv: the socket's errors, an end of the
    stream, and websockets' own (an HTTP status, a malformed answer)."""
    from websockets.exceptions import WebSocketException

    return (OSError, EOFError, WebSocketException)


class _NoAnswer(Exception):
    """No answer came: the WebSocket ended first (``code`` and ``reason`` of the server's close frame),
    or ``broken``, the protocol error that made websockets fail the connection (or a text that is not
    UTF-8)."""

    def __init__(self, code: Optional[int] = None, reason: str = "", broken: Optional[BaseException] = None):
        super().__init__(code, reason, broken)
        self.code, self.reason, self.broken = code, reason, broken


class _WebSocket:
    """One client WebSocket: websockets' protocol object, fed from and flushed to ``tls`` by the
    calling thread only.  Every read is bounded by a deadline (time.monotonic)."""

    def __init__(self, tls: ssl.SSLSocket, uri: str, user_agent: str):
        client, self._opcode, self._response, self._state, parse_uri = _websockets_client()
        self.tls = tls
        self.protocol = client(parse_uri(uri))
        self._user_agent = user_agent
        self._pending: list = []  # frames read past the event that was waited for, in order

    def _bound(self, deadline: float) -> None:
        """The socket's timeout for the next operation: what is left until ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        self.tls.settimeout(remaining)

    def _flush(self, deadline: float) -> None:
        for data in self.protocol.data_to_send():
            if data:  # an empty chunk asks for a half-close, which TLS has no use for: close() ends it
                self._bound(deadline)
                self.tls.sendall(data)

    def _read(self, deadline: float) -> list:
        """One read from the socket into the protocol (and what it answers, a pong, a close, sent back);
        the events it produced."""
        self._bound(deadline)
        data = self.tls.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self._flush(deadline)
        return self.protocol.events_received()

    def upgrade(self, deadline: float):
        """The HTTP upgrade; returns the server's answer (websockets' ``Response``), raises websockets'
        handshake error (InvalidStatus, InvalidMessage, ...)."""
        request = self.protocol.connect()
        request.headers["User-Agent"] = self._user_agent
        self.protocol.send_request(request)
        self._flush(deadline)
        while True:
            events = self._read(deadline)
            if self.protocol.handshake_exc is not None:
                raise self.protocol.handshake_exc
            for i, event in enumerate(events):
                if isinstance(event, self._response):
                    self._pending = events[i + 1:]  # frames that came in the same read
                    return event

    def send(self, message, deadline: float) -> None:
        """One message: a text frame for ``str``, a binary frame for ``bytes``; written by ``deadline``."""
        if isinstance(message, str):
            self.protocol.send_text(message.encode("utf-8"))
        else:
            self.protocol.send_binary(message)
        self._flush(deadline)

    def recv_text(self, deadline: float) -> str:
        """The next whole data message (fragments joined); raises _NoAnswer when the WebSocket ends first."""
        parts: list = []
        opcode = self._opcode
        while True:
            frames, self._pending = self._pending, []
            if not frames:
                if self.protocol.state is not self._state.OPEN:
                    broken = self.protocol.parser_exc
                    raise _NoAnswer(broken=None if isinstance(broken, EOFError) else broken)  # EOF: just closed
                frames = self._read(deadline)
            for i, frame in enumerate(frames):
                if frame.opcode in (opcode.TEXT, opcode.BINARY, opcode.CONT):
                    parts.append(frame.data)
                    if frame.fin:
                        self._pending = frames[i + 1:]  # the next message, if one came in the same read
                        try:
                            return b"".join(parts).decode("utf-8")
                        except UnicodeDecodeError as exc:
                            raise _NoAnswer(broken=exc) from None
                elif frame.opcode is opcode.CLOSE:
                    close = self.protocol.close_rcvd
                    raise _NoAnswer(close.code, close.reason) if close is not None else _NoAnswer()

    def close(self, deadline: float) -> None:
        """The closing handshake (bounded by ``deadline``), then the TLS connection; never raises."""
        try:
            if self.protocol.state is self._state.OPEN:
                self.protocol.send_close(1000)  # normal closure, as websockets' own clients close
                self._flush(deadline)
            while self.protocol.state is self._state.CLOSING and not any(
                    frame.opcode is self._opcode.CLOSE for frame in self._read(deadline)):
                pass
        except Exception:  # noqa: S110  (a close that fails has nothing left to protect)
            pass
        finally:
            with contextlib.suppress(OSError):
                self.tls.close()


class Session:
    """An open JCentral connection; use as a context manager or call :meth:`close`."""

    def __init__(self, websocket: _WebSocket, endpoint: Endpoint, timeout: float,
                 tls_error: Callable[[ssl.SSLError], NetworkError]):
        self._websocket = websocket
        self.endpoint = endpoint
        self.timeout = timeout
        self._tls_error = tls_error

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the WebSocket (politely, bounded by the timeout and by 2 s); never raises."""
        self._websocket.close(time.monotonic() + min(self.timeout, 2.0))

    def call(self, command: str, options: Sequence[str] = ()) -> Reply:
        """Send one request, wait for one answer (bounded by the timeout) and parse it.

        Raises NetworkError (closed, timeout, TLS alert) or ProtocolError
        (malformed answer).  A non-zero exitcode is returned, not raised:
        callers decide (see :func:`jenv.jcentral.protocol.check_reply`).
        """
        where = f"JCentral at {self.endpoint.host}:{self.endpoint.port}"
        try:
            deadline = time.monotonic() + self.timeout
            self._websocket.send(encode_request(command, options), deadline)
            answer = self._websocket.recv_text(deadline)
        except (TimeoutError, socket.timeout):
            raise NetworkError(f"{where} did not answer '{command}' within {self.timeout:g}s "
                               "(JENV_TIMEOUT sets the limit)") from None
        except _NoAnswer as closed:
            if closed.broken is not None:
                raise NetworkError(f"{where} broke the WebSocket protocol while answering '{command}': "
                                   f"{closed.broken}") from None
            how = ""
            if closed.code is not None and closed.code != 1005:  # 1005: a close frame without a code
                how = f" (WebSocket close code {closed.code}{': ' + closed.reason if closed.reason else ''})"
            raise NetworkError(f"{where} closed the connection before answering '{command}'{how}") from None
        except ssl.SSLError as exc:
            if isinstance(exc, _CLOSED):
                raise NetworkError(f"{where} closed the connection before answering '{command}'") from None
            raise self._tls_error(exc) from None
        except OSError as exc:
            raise NetworkError(f"connection to {where} broke: {exc.strerror or exc}") from None
        return parse_reply(answer)


def _check_revocation(tls: ssl.SSLSocket, ca: CAStore, where: str) -> None:
    """Refuse a server chain that a CRL of the CA store revokes (only where the store has CRLs: the
    handshake verified the chain, OpenSSL checks it again with them, :func:`jenv.ca.verify.verify_server_chain`)."""
    from jenv.ca.verify import verify_server_chain

    # The chain the handshake verified, as PEM (Python >= 3.10; 3.9 has the server's certificate only).
    verified = getattr(tls._sslobj, "get_verified_chain", None)
    chain = [cert.public_bytes() for cert in verified()] if verified else \
        [ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))]
    verdict = verify_server_chain(chain, f"the server certificate of {where}", ca)
    if verdict is not None and not verdict.ok:
        raise NetworkError(f"the server certificate of {where} is not trusted: {verdict.detail} (CA store "
                           f"{ca.path}, {ca.source}); nothing was sent")


def open_session(endpoint: Endpoint, identity: ClientIdentity, ca: CAStore, timeout: float,
                 clock: Callable[[], float] = time.time) -> Session:
    """Connect to ``endpoint.uri`` with mutual TLS; ``timeout`` bounds connecting and each answer, ``clock``
    (the context's) says whether our certificate is valid now.

    TCP and TLS are opened here (like the official client) so that each phase
    has its own message; websockets then runs the HTTP upgrade on that socket.
    Raises the errors of :func:`check_identity`, NetworkError (DNS,
    refused, timeout, TLS naming the rejected side, HTTP status) and
    ServerRefusedError (HTTP 401: certificate not registered).
    """
    from jenv import __version__

    # Offline checks first, then the TCP connection, and only then the passphrase: a problem that
    # can be known locally, or a JCentral that is down, costs the user no typing.
    checked = check_identity(identity, clock())
    context = _verifying_context(ca)
    peer = _Peer(endpoint, ca, grid_dn(checked[0].subject), timeout)
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except _CONNECT_FAILURES as exc:  # one JenvError each; anything else is a bug in jenv, reported as one
        raise peer.connect_error(exc) from None
    try:
        _add_identity(context, identity, checked)
    except BaseException:
        sock.close()
        raise
    deadline = time.monotonic() + timeout
    address = sock.getpeername()
    try:
        tls = _open_tls(context, endpoint.tls_name, deadline, sock)
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code in _NAME_MISMATCH:
            raise peer.name_mismatch(_presented_names(address, timeout)) from None
        if exc.verify_code == _NOT_FOR_SERVERS:
            raise peer.not_a_server("does not allow TLS server use (OpenSSL: unsupported certificate purpose)") \
                from None
        raise peer.connect_error(exc) from None
    except ssl.SSLError as exc:
        raise peer.connect_error(exc) from None
    except ValueError as exc:  # a name the TLS library cannot use as server_hostname (an SSLError is one too)
        raise InvalidInputError(f"cannot check JCentral's certificate for the name {endpoint.tls_name!r} ({exc}): "
                                "set JENV_JCENTRAL_NAME, or ALIENPY_JCENTRAL, to a host name or an address") from None
    except OSError as exc:  # every other handshake failure (reset, refused, timeout) becomes one JenvError
        raise peer.connect_error(exc) from None
    problem = server_certificate_problem(tls.getpeercert(binary_form=True) or b"")
    if problem is not None:
        with contextlib.suppress(OSError):
            tls.close()
        raise peer.not_a_server(problem)
    try:
        _check_revocation(tls, ca, peer.where)
    except BaseException:
        tls.close()
        raise
    try:
        # ws:// on the already-encrypted socket: TLS is ours, the WebSocket is websockets'.
        websocket = _WebSocket(tls, endpoint.uri.replace("wss://", "ws://", 1), f"jenv/{__version__}")
        websocket.upgrade(deadline)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tls.close()
        if isinstance(exc, _upgrade_failures()):  # one JenvError each; anything else is a bug in jenv
            raise peer.upgrade_error(exc) from None
        raise
    return Session(websocket, endpoint, timeout, peer.tls_error)


@dataclass
class Probe:
    """What one connection attempt to one resolved address showed (:func:`probe_address`): the phase it
    reached ("tcp", "tls", "upgrade", "done"), the error that stopped it, and what the server sent."""

    phase: str = "tcp"
    error: Optional[BaseException] = None
    peer_der: Optional[bytes] = None  # the server's certificate, once the handshake is done
    status: Optional[int] = None  # the HTTP status of the upgrade answer
    date: Optional[str] = None  # its Date header
    received: Optional[float] = None  # time.time() when the answer came


def probe_context(ca: CAStore, identity: Optional[ClientIdentity] = None, checked=None,
                  server_name: bool = False) -> ssl.SSLContext:
    """The context :func:`open_session` connects with, for a diagnosis: the CA store, and our identity
    only when ``checked`` (:func:`check_identity`) holds its key already parsed, so nothing ever asks
    for a passphrase; ``server_name`` adds ``ssl``'s own check of the server's name."""
    context = _verifying_context(ca)
    if identity is not None and checked is not None and checked[2] is not None:
        _add_identity(context, identity, checked)
    context.check_hostname = server_name  # the connecting context checks it always; a diagnosis asks apart
    return context


def probe_address(context: ssl.SSLContext, endpoint: Endpoint, address, deadline: float,
                  upgrade: bool = True, server_name: Optional[str] = None, probe: Optional[Probe] = None) -> Probe:
    """TCP to one resolved ``address`` (getaddrinfo's family and sockaddr), the TLS handshake (SNI
    ``server_name`` or the endpoint's host), then the WebSocket upgrade alone: no request is ever sent.
    Bounded by ``deadline`` (time.monotonic); a failure of the network or the server is in the result, a bug
    in jenv is raised (``probe``, when given, is filled as it goes: another thread sees the phase of an
    attempt that hangs)."""
    from jenv import __version__

    family, sockaddr = address
    probe = Probe() if probe is None else probe
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        sock.connect(sockaddr)
        probe.phase = "tls"
        tls = _open_tls(context, server_name or endpoint.host, deadline, sock)
    except _CONNECT_FAILURES as exc:  # a bug in jenv is not a finding about the network: it propagates
        sock.close()
        probe.error = exc
        return probe
    try:
        probe.peer_der = tls.getpeercert(binary_form=True)
        if not upgrade:
            probe.phase = "done"
            return probe
        probe.phase = "upgrade"
        websocket = _WebSocket(tls, endpoint.uri.replace("wss://", "ws://", 1), f"jenv/{__version__}")
        try:
            response = websocket.upgrade(deadline)
        except _upgrade_failures() as exc:
            response = getattr(exc, "response", None)
            if response is None:
                raise
        probe.received = time.time()
        probe.status, probe.date = response.status_code, response.headers.get("Date")
        probe.phase = "done"
        if probe.status == 101:  # opened: closed again at once, politely (bounded, never raises)
            websocket.close(min(deadline, time.monotonic() + 1.0))
    except _upgrade_failures() as exc:
        probe.error = exc
    finally:
        with contextlib.suppress(OSError):
            tls.close()
    return probe


def fetch_token(endpoint: Endpoint, identity: ClientIdentity, ca: CAStore, timeout: float,
                request: TokenRequest, notice: Callable[[str], None],
                clock: Callable[[], float] = time.time) -> TokenPair:
    """Ask JCentral for a token: one session, one ``token`` call.

    ``request`` comes validated (:meth:`TokenRequest.validate`, done once where
    the options were parsed).  Notices (exitcode 0 with a message) go to
    ``notice``.  Raises the errors of :func:`open_session`, ServerRefusedError
    (non-zero exitcode, even with a token attached) and ProtocolError.  The
    pair is text: :func:`jenv.tokens.vet.vet_token` judges it.
    """
    with open_session(endpoint, identity, ca, timeout, clock) as session:
        reply = session.call("token", request.options())
    return token_pair_from_reply(reply, notice)



def probe_error(probe: Probe, endpoint: Endpoint, ca: CAStore, dn: str, timeout: float) -> JenvError:
    """The one line (and exit code) ``jenv token`` would give for the failure a :class:`Probe` recorded."""
    peer = _Peer(endpoint, ca, dn, timeout)
    assert probe.error is not None
    return peer.upgrade_error(probe.error) if probe.phase == "upgrade" else peer.connect_error(probe.error)
