"""The token issuing rules of JAliEn's ``token`` command, as pure functions.

Given who asks (account, effective role, the not-after of the certificate
they presented), what they ask for (:class:`~jenv.jcentral.protocol.TokenRequest`)
and the time, :func:`issue_token` returns an :class:`Issued` token or a
:class:`Refusal` with JAliEn's exit code and message.  Error texts follow
JAliEn's ``ErrNo`` form "<strerror> : <message>".

Deliberate differences from JCentral: the host name of a host token is not
resolved in DNS (the local service must not depend on the network), and
permission refusals answer EPERM directly.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from jenv.service.authority import Authority, general_names, name_from_dn, new_rsa_key, traditional_key_pem
from jenv.errors import UsageError
from jenv.jcentral.protocol import TOKEN_TYPES, TokenRequest, parse_token_options
from jenv.jcentral.rules import (ADMIN_MAX_DAYS, BACKDATE_SECONDS, JOBAGENT_DN, MAX_VALIDITY_DAYS, NON_POSITIVE_DAYS,
                             host_token_dn, job_token_dn, user_token_dn)

__all__ = [
    "ErrNo",
    "MAX_VALIDITY_DAYS",
    "ADMIN_MAX_DAYS",
    "USER_TOKEN_SANS",
    "Account",
    "Requester",
    "Issued",
    "Refusal",
    "user_token_dn",
    "validity_days",
    "issue_token",
    "issue_from_options",
]


class ErrNo(enum.IntEnum):
    """The errno values JAliEn answers with (exitcode) and their texts."""

    EPERM = 1
    ENOENT = 2
    EINVAL = 22

    @property
    def text(self) -> str:
        return {1: "Operation not permitted", 2: "No such file or directory", 22: "Invalid argument"}[self.value]

    def message(self, detail: str) -> str:
        return f"{self.text} : {detail}"


BACKDATE = dt.timedelta(seconds=BACKDATE_SECONDS)
ADMIN_ROLE = "admin"
VOBOX_ROLE = "vobox"

#: A user token is also the server certificate of a local JBox, hence these names.
USER_TOKEN_SANS = ("localhost", "localhost.localdomain", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Account:
    """A registered user: account name, the roles it may take, e-mail."""

    username: str
    roles: Tuple[str, ...] = ()
    email: Optional[str] = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def can_become(self, role: str) -> bool:
        """JAliEn's canBecome: one's own name, a held role, or anything for an admin."""
        return role == self.username or role in self.roles or self.is_admin


@dataclass(frozen=True)
class Requester:
    """Who is asking: the account, its effective role, and the presented certificate's end."""

    account: Account
    role: str
    cert_not_after: dt.datetime
    job_agent: bool = False  # presented a JobAgent token


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


def validity_days(token_type: str, requested: Optional[int], admin: bool) -> Tuple[int, Optional[str]]:
    """(days, notice): the type's maximum when not given, 2 for <= 0, capped for non-admins."""
    maximum = MAX_VALIDITY_DAYS[token_type]
    if requested is None:
        return maximum, None
    if requested <= 0:
        return NON_POSITIVE_DAYS, None
    limit = ADMIN_MAX_DAYS if admin else maximum
    if requested > limit:
        return limit, (f"Reducing the validity from {requested} to {limit} as this is the max allowed "
                       "value for this type of certificate")
    return requested, None


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


def _subject_and_sans(request: TokenRequest, requester: Requester, role: str) -> Tuple[str, List[str], bool]:
    """(subject DN, SAN names, IPs as DNS names) for an allowed request."""
    if request.token_type == "job":
        return job_token_dn(request.username or "", request.jobid or ""), [], False
    if request.token_type == "jobagent":
        return JOBAGENT_DN, [], False
    if request.token_type == "host":
        return host_token_dn(request.hostname or ""), [request.hostname or ""], False
    sans = list(USER_TOKEN_SANS) + ([requester.account.email] if requester.account.email else [])
    return user_token_dn(requester.account.username, role), sans, True


def _refuse(errno: ErrNo, detail: str) -> Refusal:
    return Refusal(int(errno), errno.message(detail))


def _permission_problem(request: TokenRequest, requester: Requester) -> Optional[Refusal]:
    account = requester.account
    kind = request.token_type
    if kind == "job" and not (requester.job_agent or account.can_become("jobagent") or account.is_admin):
        return _refuse(ErrNo.EPERM, "only a JobAgent or an admin can ask for a job token")
    if kind == "jobagent" and not account.can_become(VOBOX_ROLE):
        return _refuse(ErrNo.EPERM, "only the vobox role can ask for a JobAgent token")
    if kind == "host" and not account.is_admin:
        return _refuse(ErrNo.EPERM, "only an admin can ask for a host token")
    return None


#: The longest value jenv puts into one attribute of a token subject (X.520 ub-common-name).
SUBJECT_VALUE_MAX = 64


def _unfit_for_subject(value: str) -> bool:
    """True when ``value`` cannot be one attribute value of a token subject (nor add attributes to it)."""
    return (not 0 < len(value) <= SUBJECT_VALUE_MAX or not value.isascii() or not value.isprintable()
            or "/" in value or "=" in value)


def _argument_problem(request: TokenRequest) -> Optional[Refusal]:
    def invalid(text: str) -> Refusal:
        return _refuse(ErrNo.EINVAL, text)

    if request.token_type not in TOKEN_TYPES:
        return invalid(f"Unknown token type {request.token_type}")
    for name, value in (("-u", request.username), ("-jobid", request.jobid), ("-hostname", request.hostname)):
        if value is not None and _unfit_for_subject(value):
            return invalid(f"{name} {value[:40]!r} cannot be part of a certificate subject: give at most "
                           f"{SUBJECT_VALUE_MAX} printable ASCII characters, without '/' or '='")
    if request.token_type == "job" and not request.jobid:
        return invalid("You should pass a job extension for this type of certificate request")
    if request.token_type == "job" and not request.username:
        return invalid("You also have to pass the user for which to run this job id")
    if request.token_type == "host":
        hostname = (request.hostname or "").strip()
        if not hostname:
            return invalid("You must indicate the hostname for which to issue the certificate!")
        if "." not in hostname:
            return invalid(f"Please pass a FQDN as hostname instead of `{hostname}`")
    return None


def issue_token(ca: Authority, requester: Requester, request: TokenRequest, now: dt.datetime) -> Union[Issued, Refusal]:
    """Apply JAliEn's rules and sign a token with ``ca`` (a new RSA-2048 key), or refuse.

    A user-token role switch the requester may not make still yields a
    token for the requester, with exitcode 1 (as JCentral does).
    """
    problem = _argument_problem(request) or _permission_problem(request, requester)
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
    days, notice = validity_days(request.token_type, request.validity_days, account.is_admin)
    not_before = now - BACKDATE
    not_after = now + dt.timedelta(days=days)
    uncapped = request.token_type == "host" or (request.token_type == "user" and account.is_admin)
    if not uncapped and not_after > requester.cert_not_after:
        not_after = requester.cert_not_after
    dn, sans, ip_as_dns = _subject_and_sans(request, requester, role)
    extensions = [(_KEY_USAGE, True), (x509.ExtendedKeyUsage(_EKU[request.token_type]), False)]
    if sans:
        extensions.append((x509.SubjectAlternativeName(general_names(sans, ip_as_dns)), False))
    key = new_rsa_key()
    cert = ca.sign(name_from_dn(dn), key.public_key(), not_before, not_after, extensions)
    notices = (notice,) if notice else ()
    if exitcode == 0 and notice:
        error = notice
    return Issued(cert, traditional_key_pem(key).decode("ascii"), int(exitcode), error, notices)


def issue_from_options(ca: Authority, requester: Requester, options: List[str],
                       now: dt.datetime) -> Union[Issued, Refusal]:
    """:func:`issue_token` from the wire options; bad options give EINVAL like JAliEn's parser."""
    try:
        request = parse_token_options(options)
    except UsageError as exc:
        return _refuse(ErrNo.EINVAL, str(exc))
    try:
        return issue_token(ca, requester, request, now)
    except ValueError as exc:  # a value no certificate can hold: an answer, never a dropped connection
        return _refuse(ErrNo.EINVAL, f"cannot issue this token: {exc}")
