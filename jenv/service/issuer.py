"""The token issuing rules of JAliEn's ``token`` command, as functions.

Given who asks (account, effective role, the not-after of the certificate
they presented), what they ask for (:class:`~jenv.jcentral.protocol.TokenRequest`)
and the time, :func:`issue_token` returns an :class:`Issued` token or a
:class:`Refusal` with JAliEn's exit code and message.  Error texts follow
JAliEn's ``ErrNo`` form "<strerror> : <message>".  Where each rule comes from:

* ``alien/shell/commands/JAliEnCommandtoken.java`` (the command, on the
  client's connection): the option checks (EINVAL 22), the host name that
  must hold a dot and resolve (ENXIO 6 unless ``-f``), the "Reducing the
  validity ..." notice for non-admins, and the role switch after the token
  is issued (EPERM 1, the token still attached);
* ``alien/api/token/GetTokenCertificate.java`` (the central service): who
  may have which token type, refused as the command reports a failed server
  request (EREMOTEIO 121, "Server didn't execute your request, reason was:
  ..."); the subjects, 2 days for ``-v`` 0 or less, admins up to 400 days
  (capped silently), 2 hours of backdating, never past the requester's
  certificate (except an admin's user and host tokens);
* ``alien/api/token/TokenCertificateType.java``: each type's default and
  maximum validity.

The days granted, and the "Reducing the validity" notice, are
:func:`jenv.jcentral.rules.granted_days`, the one home of that rule.

The only I/O is the host name look-up of a host token (``resolve``, a
parameter, bounded in time).  A deliberate difference: ``-u`` and
``-hostname`` values that would add attributes to a subject are refused
with EINVAL (a ``-jobid`` may hold ``/`` and ``=``, as JAliEn's own
``queueid=<id>/resubmission=<n>`` does).
"""

from __future__ import annotations

import datetime as dt
import enum
import socket
import threading
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from jenv.service.authority import Authority, general_names, name_from_rdns, new_rsa_key, traditional_key_pem
from jenv.errors import UsageError
from jenv.jcentral.protocol import SERVER_REFUSAL, TOKEN_TYPES, TokenRequest, parse_token_options
from jenv.jcentral.rules import (BACKDATE_SECONDS, JOBAGENT_DN, JOBAGENT_RDNS, Rdns, granted_days, host_token_rdns,
                                 job_token_rdns, rdns_to_dn, user_token_dn, user_token_rdns)

__all__ = [
    "ErrNo",
    "USER_TOKEN_SANS",
    "Account",
    "Requester",
    "Issued",
    "Refusal",
    "user_token_dn",
    "issue_token",
    "issue_from_options",
    "dns_resolves",
    "JOBAGENT_DN",
]


class ErrNo(enum.IntEnum):
    """The errno values JAliEn answers with (exitcode) and their texts (``alien/shell/ErrNo.java``)."""

    EPERM = 1
    ENOENT = 2
    ENXIO = 6
    EINVAL = 22
    EREMOTEIO = 121

    @property
    def text(self) -> str:
        return {1: "Operation not permitted", 2: "No such file or directory", 6: "No such device or address",
                22: "Invalid argument", 121: "Remote I/O error"}[self.value]

    def message(self, detail: str) -> str:
        return f"{self.text} : {detail}"


BACKDATE = dt.timedelta(seconds=BACKDATE_SECONDS)
ADMIN_ROLE = "admin"
VOBOX_ROLE = "vobox"

#: A user token is also the server certificate of a local JBox, hence these names.
USER_TOKEN_SANS = ("localhost", "localhost.localdomain", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Account:
    """A registered user: account name, the roles it may take, e-mail, and two flags of the user map:
    ``admin`` (the same as holding the ``admin`` role) and ``job_agent`` (the certificate is a JobAgent
    identity, as a JobAgent token is)."""

    username: str
    roles: Tuple[str, ...] = ()
    email: Optional[str] = None
    admin: bool = False
    job_agent: bool = False

    @property
    def is_admin(self) -> bool:
        """JAliEn's isAdmin: canBecome("admin")."""
        return self.admin or ADMIN_ROLE in self.roles

    def has_role(self, role: str) -> bool:
        return role == self.username or role in self.roles

    def can_become(self, role: str) -> bool:
        """JAliEn's canBecome: one's own name, a held role, or anything for an admin."""
        return self.has_role(role) or self.is_admin


@dataclass(frozen=True)
class Requester:
    """Who is asking: the account, its effective role, and the presented certificate's end."""

    account: Account
    role: str
    cert_not_after: dt.datetime
    job_agent: bool = False  # presented a JobAgent token, or a certificate flagged as a JobAgent
    job: bool = False  # presented a job token


@dataclass(frozen=True)
class Issued:
    """A token; ``exitcode``/``error`` carry a notice (0) or a refused switch (1)."""

    cert: x509.Certificate
    key_pem: str
    exitcode: int = 0
    error: str = ""
    notices: Tuple[str, ...] = field(default=())

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class Refusal:
    exitcode: int
    error: str


def dns_resolves(hostname: str, timeout: float = 5.0) -> bool:
    """Whether ``hostname`` resolves (JAliEn's InetAddress.getAllByName), waiting at most ``timeout``
    seconds: a look-up that does not answer in time counts as one that failed."""
    found: List[bool] = []

    def look_up() -> None:
        try:
            found.append(bool(socket.getaddrinfo(hostname, None)))
        except (OSError, UnicodeError, ValueError):
            pass

    thread = threading.Thread(target=look_up, name="jenv-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(found and found[0])


_KEY_USAGE = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                           data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                           encipher_only=False, decipher_only=False)
_EKU = {
    "user": [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH,
             ExtendedKeyUsageOID.EMAIL_PROTECTION],
    "job": [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
    "jobagent": [ExtendedKeyUsageOID.CLIENT_AUTH],
    "host": [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
}


def _subject_and_sans(request: TokenRequest, requester: Requester, role: str) -> Tuple[Rdns, List[str]]:
    """(subject, SAN DNS names) for an allowed request, as GetTokenCertificate builds them."""
    account = requester.account
    if request.token_type == "job":  # the payload reaches its JobWrapper on localhost only
        return job_token_rdns(request.username or "", request.jobid or ""), list(USER_TOKEN_SANS)
    if request.token_type == "jobagent":
        return list(JOBAGENT_RDNS), []
    if request.token_type == "host":
        hostname = (request.hostname or "").strip()
        return host_token_rdns(hostname), [hostname]
    # An admin asking for a role it does not hold itself becomes that identity (CN and OU).
    common_name = role if account.is_admin and not account.has_role(role) else account.username
    sans = list(USER_TOKEN_SANS) + ([account.email] if account.email else [])
    return user_token_rdns(common_name, role), sans


def _refuse(errno: ErrNo, detail: str) -> Refusal:
    return Refusal(int(errno), errno.message(detail))


def _permission_problem(request: TokenRequest, requester: Requester) -> Optional[Refusal]:
    """GetTokenCertificate's checks of who may have which type: a server-side refusal (121)."""
    account = requester.account
    kind = request.token_type
    reason = None
    if kind == "user" and (requester.job or requester.job_agent):
        reason = "You can't request a User token as JobAgent or Job"
    elif kind == "job" and not (requester.job_agent or account.is_admin):
        reason = f"Only a JobAgent can ask for a Job token, {requester.role} is not one"
    elif kind == "jobagent" and not account.can_become(VOBOX_ROLE):
        reason = "You don't have permissions to ask for a JobAgent token"
    elif kind == "host" and not account.is_admin:
        reason = "Only admin can do that"
    return None if reason is None else _refuse(ErrNo.EREMOTEIO, SERVER_REFUSAL + reason)


#: The longest value jenv puts into one attribute of a token subject (X.520 ub-common-name).
SUBJECT_VALUE_MAX = 64


def _unfit_for_subject(value: str, separators_allowed: bool = False) -> bool:
    """True when ``value`` cannot be one attribute value of a token subject (nor, unless
    ``separators_allowed``, look like more attributes of it)."""
    return (not 0 < len(value) <= SUBJECT_VALUE_MAX or not value.isascii() or not value.isprintable()
            or (not separators_allowed and ("/" in value or "=" in value)))


def _argument_problem(request: TokenRequest, resolve: Callable[[str], bool]) -> Tuple[Optional[Refusal], str]:
    """JAliEnCommandtoken's option checks: (refusal or None, notice)."""
    def invalid(text: str) -> Tuple[Refusal, str]:
        return _refuse(ErrNo.EINVAL, text), ""

    if request.token_type not in TOKEN_TYPES:
        return invalid(f"Unknown token type {request.token_type}")
    if request.token_type == "job" and not request.jobid:
        return invalid("You should pass a job extension for this type of certificate request")
    if request.token_type == "job" and not request.username:
        return invalid("You also have to pass the user for which to run this job id")
    notice = ""
    if request.token_type == "host":
        if request.hostname is None:
            return invalid("You must indicate the hostname for which to issue the certificate!")
        hostname = request.hostname.strip()
        if not hostname or "." not in hostname:
            return invalid(f"Please pass a FQDN as hostname instead of `{hostname}`")
        if not resolve(hostname):
            if not request.force:
                return _refuse(ErrNo.ENXIO, f"hostname `{hostname}` cannot be resolved"), ""
            notice = (f"The indicated hostname `{hostname}` cannot be resolved! Generating the certificate as "
                      "requested, but DNS should be fixed")
    hostname = request.hostname.strip() if request.token_type == "host" and request.hostname else request.hostname
    for name, value in (("-u", request.username), ("-jobid", request.jobid), ("-hostname", hostname)):
        if value is not None and _unfit_for_subject(value, separators_allowed=name == "-jobid"):
            rule = "" if name == "-jobid" else ", without '/' or '='"
            return invalid(f"{name} {value[:40]!r} cannot be part of a certificate subject: give at most "
                           f"{SUBJECT_VALUE_MAX} printable ASCII characters{rule}")
    return None, notice


def issue_token(ca: Authority, requester: Requester, request: TokenRequest, now: dt.datetime,
                resolve: Callable[[str], bool] = dns_resolves,
                token_seconds: Optional[int] = None) -> Union[Issued, Refusal]:
    """Apply JAliEn's rules and sign a token with ``ca`` (a new RSA-2048 key), or refuse.

    A user-token role switch the requester may not make still yields a
    token for the requester, with exitcode 1 (as JCentral does).
    ``token_seconds`` (``jenv serve --token-seconds``, tests and
    demonstrations only) replaces the validity in days by that many seconds.
    """
    problem, dns_notice = _argument_problem(request, resolve)
    problem = problem or _permission_problem(request, requester)
    if problem is not None:
        return problem
    account = requester.account
    role, exitcode, error = requester.role, 0, ""
    if request.token_type == "user" and request.username is not None:
        if account.can_become(request.username):
            role = request.username
        else:
            exitcode = ErrNo.EPERM
            error = ErrNo.EPERM.message(f"Switching user {requester.role} to [{request.username}] failed")
    days, notice, _unsaid = granted_days(request.token_type, request.validity_days, account.is_admin)
    not_before = now - BACKDATE
    not_after = now + (dt.timedelta(seconds=token_seconds) if token_seconds else dt.timedelta(days=days))
    uncapped = account.is_admin and request.token_type in ("host", "user")
    if not uncapped and not_after > requester.cert_not_after:
        not_after = requester.cert_not_after
    rdns, sans = _subject_and_sans(request, requester, role)
    extensions = [(_KEY_USAGE, True), (x509.ExtendedKeyUsage(_EKU[request.token_type]), False)]
    if sans:
        extensions.append((x509.SubjectAlternativeName(general_names(sans, ip_as_dns=True)), False))
    key = new_rsa_key()
    cert = ca.sign(name_from_rdns(rdns, rdns_to_dn(rdns)), key.public_key(), not_before, not_after, extensions)
    notices = tuple(text for text in (notice, dns_notice) if text)
    if exitcode == 0 and notices:
        error = "\n".join(notices)
    return Issued(cert, traditional_key_pem(key).decode("ascii"), int(exitcode), error, notices)


def issue_from_options(ca: Authority, requester: Requester, options: List[str], now: dt.datetime,
                       resolve: Callable[[str], bool] = dns_resolves,
                       token_seconds: Optional[int] = None) -> Union[Issued, Refusal]:
    """:func:`issue_token` from the wire options; bad options give EINVAL like JAliEn's parser."""
    try:
        request = parse_token_options(options)
    except UsageError as exc:
        return _refuse(ErrNo.EINVAL, str(exc))
    try:
        return issue_token(ca, requester, request, now, resolve, token_seconds)
    except ValueError as exc:  # a value no certificate can hold: an answer, never a dropped connection
        return _refuse(ErrNo.EINVAL, f"cannot issue this token: {exc}")
