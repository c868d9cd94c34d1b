"""The JCentral client: one mutual-TLS WebSocket session, JSON frames in and out.

Built on websockets' synchronous client (websockets >= 15, for ``proxy=``).
Every failure leaves this module as exactly one :class:`~jenv.errors.JenvError`
that names the endpoint and, where it can tell, which side was at fault.

TLS choices (compared with the official client, alienpy ``connect_ssl.py``):

* the server certificate chain is always verified against the grid CA store
  (``CERT_REQUIRED``, like alienpy), and TLS 1.2 is the minimum (alienpy only
  disables SSLv3);
* the host name is *not* matched against the server certificate, like
  alienpy: JCentral is reached through DNS aliases and ``ALIENPY_JCENTRAL``
  may name a node or an address, so checking it would refuse setups the
  official client accepts.  Trust rests on the grid CA store, which holds
  only IGTF-accredited CAs;
* no proxy: alienpy opens its own TCP socket, so proxy variables (set on
  many clusters for web downloads) never applied to JCentral; jenv keeps it
  so and passes ``proxy=None`` (websockets >= 15 would otherwise honour them).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from jenv.credentials import load_certificate, materialize, read_credential, tty_passphrase
from jenv.errors import JenvError, KeyMismatchError, NetworkError, NotFoundError, PassphraseError, \
    ServerRefusedError
from jenv.locations import CAStore, Endpoint, Location
from jenv.pem import grid_dn, key_matches, parse_private_key
from jenv.protocol import ProtocolError, Reply, TokenPair, TokenRequest, encode_request, parse_reply, \
    token_pair_from_reply

__all__ = ["ClientIdentity", "Session", "open_session", "fetch_token", "client_ssl_context", "ProtocolError"]

#: TLS alerts a server sends when it rejects the client certificate.
_CLIENT_CERT_ALERTS = ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "CERTIFICATE_EXPIRED",
                       "CERTIFICATE_REVOKED", "UNSUPPORTED_CERTIFICATE", "CERTIFICATE_UNKNOWN",
                       "ACCESS_DENIED", "HANDSHAKE_FAILURE")


@dataclass(frozen=True)
class ClientIdentity:
    """The certificate and key presented to JCentral (user certificate or token)."""

    cert: Location
    key: Location


class _CachedPassphrase:
    """Ask the terminal once; both the key check and the TLS library reuse the answer."""

    def __init__(self, what: str):
        self.what = what
        self.value: Optional[bytes] = None

    def __call__(self) -> bytes:
        if self.value is None:
            self.value = tty_passphrase(self.what)
        return self.value


def _load_ca(context: ssl.SSLContext, ca: CAStore) -> None:
    if ca.kind == "none" or not ca.path:
        raise NotFoundError(f"no CA certificates found ({ca.source}): set X509_CERT_DIR to the grid CA "
                            "directory or run 'jenv ca-fetch'")
    try:
        if ca.kind == "dir":
            if not os.path.isdir(ca.path):
                raise FileNotFoundError(errno.ENOENT, "no such directory", ca.path)
            context.load_verify_locations(capath=ca.path)
        else:
            context.load_verify_locations(cafile=ca.path)
    except (OSError, ssl.SSLError) as exc:
        raise NotFoundError(f"cannot load the CA certificates from {ca.path} ({ca.source}): "
                            f"{getattr(exc, 'strerror', None) or exc}; set X509_CERT_DIR or run "
                            "'jenv ca-fetch'") from None


def client_ssl_context(identity: ClientIdentity, ca: CAStore) -> ssl.SSLContext:
    """The TLS context for JCentral: our certificate and key, the CA store, TLS >= 1.2.

    Raises NotFoundError/InvalidInputError (unreadable credential or CA store),
    PassphraseError (no terminal, wrong passphrase) and KeyMismatchError.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # see the module docstring
    context.verify_mode = ssl.CERT_REQUIRED
    _load_ca(context, ca)
    cert = load_certificate(identity.cert)
    what = identity.key.describe()
    ask = _CachedPassphrase(what)
    key = parse_private_key(read_credential(identity.key), what, ask)
    if not key_matches(cert, key):
        raise KeyMismatchError(f"{what} does not belong to {identity.cert.describe()}")
    with materialize(identity.cert) as cert_path, materialize(identity.key) as key_path:
        try:
            context.load_cert_chain(cert_path, key_path, password=ask)
        except ssl.SSLError as exc:
            if ask.value is not None:
                raise PassphraseError(f"wrong passphrase for {what}") from None
            raise KeyMismatchError(f"cannot use {what} with {identity.cert.describe()}: {exc}") from None
    return context


def _tls_error(exc: ssl.SSLError, where: str, ca: CAStore) -> NetworkError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NetworkError(f"the server certificate of {where} is not trusted: {exc.verify_message} "
                            f"(CA store {ca.path}, {ca.source}); run 'jenv ca-fetch' or fix X509_CERT_DIR")
    reason = (exc.reason or str(exc)).upper()
    if any(alert in reason for alert in _CLIENT_CERT_ALERTS):
        return NetworkError(f"{where} rejected our client certificate during the TLS handshake "
                            f"({exc.reason}): is it issued by a CA that JCentral trusts, and still valid?")
    return NetworkError(f"TLS failure talking to {where}: {exc.reason or exc}")


def _connection_error(exc: BaseException, where: str, endpoint: Endpoint, ca: CAStore, dn: str,
                      timeout: float) -> JenvError:
    """Translate whatever connect() raised into one JenvError."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status == 401:
            return ServerRefusedError(f"certificate {dn} is not registered in the ALICE VO "
                                      f"(JCentral answered HTTP 401)")
        return NetworkError(f"{where} answered HTTP {status} {exc.response.reason_phrase} instead of "
                            "opening the WebSocket")
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, ssl.SSLError):
        return _tls_error(exc, where, ca)
    if isinstance(cause, ssl.SSLError) and isinstance(exc, (InvalidHandshake, ConnectionClosed, OSError)):
        return _tls_error(cause, where, ca)
    if isinstance(exc, socket.gaierror):
        return NetworkError(f"cannot resolve the JCentral host {endpoint.host!r} ({exc.strerror}); "
                            f"check ALIENPY_JCENTRAL ({endpoint.source})")
    if isinstance(exc, ConnectionRefusedError):
        return NetworkError(f"{where} refused the connection (is the service running? {endpoint.source})")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return NetworkError(f"no answer from {where} within {timeout:g}s while connecting "
                            "(JENV_TIMEOUT sets the limit)")
    if isinstance(exc, (InvalidHandshake, ConnectionClosed)):
        return NetworkError(f"{where} did not open a WebSocket: {exc}")
    if isinstance(exc, OSError):
        return NetworkError(f"cannot connect to {where}: {exc.strerror or exc}")
    return NetworkError(f"cannot connect to {where}: {type(exc).__name__}: {exc}")


class Session:
    """An open JCentral connection; use as a context manager or call :meth:`close`."""

    def __init__(self, connection, stack: contextlib.ExitStack, endpoint: Endpoint, timeout: float,
                 tls_error: Callable[[ssl.SSLError], NetworkError]):
        self._connection = connection
        self._stack = stack
        self.endpoint = endpoint
        self.timeout = timeout
        self._tls_error = tls_error

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the WebSocket (politely, bounded by the timeout); never raises."""
        with contextlib.suppress(Exception):
            self._stack.close()

    def call(self, command: str, options: Sequence[str] = ()) -> Reply:
        """Send one request, wait for one answer (bounded by the timeout) and parse it.

        Raises NetworkError (closed, timeout, TLS alert) or ProtocolError
        (malformed answer).  A non-zero exitcode is returned, not raised:
        callers decide (see :func:`jenv.protocol.check_reply`).
        """
        from websockets.exceptions import ConnectionClosed

        where = f"JCentral at {self.endpoint.host}:{self.endpoint.port}"
        try:
            self._connection.send(encode_request(command, options))
            answer = self._connection.recv(timeout=self.timeout)
        except (TimeoutError, socket.timeout):
            raise NetworkError(f"{where} did not answer '{command}' within {self.timeout:g}s "
                               "(JENV_TIMEOUT sets the limit)") from None
        except ConnectionClosed as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ssl.SSLError):
                raise self._tls_error(cause) from None
            raise NetworkError(f"{where} closed the connection before answering '{command}'") from None
        except ssl.SSLError as exc:
            raise self._tls_error(exc) from None
        except OSError as exc:
            raise NetworkError(f"connection to {where} broke: {exc.strerror or exc}") from None
        return parse_reply(answer)


def open_session(endpoint: Endpoint, identity: ClientIdentity, ca: CAStore, timeout: float) -> Session:
    """Connect to ``endpoint.uri`` with mutual TLS; ``timeout`` bounds connecting and each answer.

    Raises the errors of :func:`client_ssl_context`, NetworkError (DNS,
    refused, timeout, TLS, HTTP status) and ServerRefusedError (HTTP 401:
    certificate not registered).
    """
    from websockets.sync.client import connect

    from jenv import __version__

    context = client_ssl_context(identity, ca)
    where = f"JCentral at {endpoint.host}:{endpoint.port}"
    try:
        dn = grid_dn(load_certificate(identity.cert).subject)
    except JenvError:
        dn = identity.cert.describe()
    stack = contextlib.ExitStack()
    try:
        connection = stack.enter_context(connect(
            endpoint.uri, ssl=context, proxy=None, open_timeout=timeout, close_timeout=min(timeout, 2.0),
            ping_interval=None, user_agent_header=f"jenv/{__version__}"))
    except Exception as exc:  # every connect() failure becomes one JenvError
        stack.close()
        raise _connection_error(exc, where, endpoint, ca, dn, timeout) from None
    return Session(connection, stack, endpoint, timeout, lambda err: _tls_error(err, where, ca))


def fetch_token(endpoint: Endpoint, identity: ClientIdentity, ca: CAStore, timeout: float,
                request: TokenRequest, notice: Callable[[str], None]) -> TokenPair:
    """Ask JCentral for a token: one session, one ``token`` call.

    Notices (exitcode 0 with a message) go to ``notice``.  Raises UsageError
    (invalid request), the errors of :func:`open_session`, ServerRefusedError
    (non-zero exitcode, even with a token attached), ProtocolError and
    InvalidInputError (unusable token).
    """
    request.validate()
    with open_session(endpoint, identity, ca, timeout) as session:
        reply = session.call("token", request.options())
    return token_pair_from_reply(reply, notice)

