"""``jenv status``: look at every credential once and say what would stop jenv.

:func:`gather_status` does the I/O (reads files, never prompts, never uses the
network) and returns a frozen :class:`Status`; :func:`find_problems` is the
pure policy that decides what is broken for the main job (getting a valid
token).  Rendering lives in :mod:`jenv.report.render`.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass, replace
from typing import Mapping, Optional, Tuple

from jenv.ca.store import HASH_LINK, load_bundle, open_ca_store
from jenv.credentials import key_permission_problem, read_credential
from jenv.errors import ExitCode, InvalidInputError, JenvError, PassphraseError
from jenv.locations import (CAStore, Endpoint, Location, resolve_ca_store, resolve_endpoint,
                            resolve_locations, resolve_timeout)
from jenv.lite import der
from jenv.lite.certinfo import CertInfo, is_encrypted_key, key_summary, summarize, validity_state
from jenv.report.render import validity_problem
from jenv.tokens.expiry import expiry_message

__all__ = ["CredentialStatus", "CAStatus", "Problem", "Status", "check_certificate", "check_key",
           "check_ca_store", "find_problems", "gather_status"]



@dataclass(frozen=True)
class CredentialStatus:
    """What jenv found at one credential location.

    ``error`` is why the credential cannot be used (None when it can),
    ``error_code`` the matching exit code; ``unsafe`` names a permission
    problem with its ``chmod 600`` fix.
    """

    location: Location
    exists: bool
    readable: bool
    error: Optional[str] = None
    error_code: ExitCode = ExitCode.OK
    mode: Optional[int] = None
    unsafe: Optional[str] = None
    info: Optional[CertInfo] = None
    state: Optional[str] = None
    key_type: Optional[str] = None
    encrypted: bool = False
    matches: Optional[bool] = None  # keys only; None when not checked
    notice: Optional[str] = None  # the user certificate ends within 30 days (jenv.tokens.expiry)

    @property
    def usable(self) -> bool:
        return self.error is None and self.unsafe is None and self.matches is not False \
            and self.state in (None, "valid")


@dataclass(frozen=True)
class CAStatus:
    store: CAStore
    exists: bool
    count: Optional[int] = None
    error: Optional[str] = None
    error_code: ExitCode = ExitCode.OK


@dataclass(frozen=True)
class Problem:
    exit_code: ExitCode
    message: str  # one line, naming the fix


@dataclass(frozen=True)
class Status:
    now: dt.datetime
    user_cert: CredentialStatus
    user_key: CredentialStatus
    token_cert: CredentialStatus
    token_key: CredentialStatus
    ca: CAStatus
    endpoint: Optional[Endpoint]
    endpoint_error: Optional[str]
    timeout: Optional[float]
    timeout_error: Optional[str]
    shell: Tuple[str, str]  # (name, how it was chosen)
    problems: Tuple[Problem, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        return self.problems[0].exit_code if self.problems else ExitCode.OK


def _read(loc: Location) -> Tuple[CredentialStatus, Optional[bytes]]:
    """Read one credential; the status says whether it exists and is readable."""
    mode = None
    if loc.path is not None:
        try:
            mode = stat.S_IMODE(os.stat(loc.path).st_mode)
        except OSError:
            pass
    try:
        data = read_credential(loc)
    except JenvError as exc:
        exists = loc.problem is not None or (loc.path is not None and os.path.exists(loc.path))
        return CredentialStatus(loc, exists, False, str(exc), exc.exit_code, mode), None
    return CredentialStatus(loc, True, True, mode=mode), data


def check_certificate(loc: Location, now: dt.datetime) -> Tuple[CredentialStatus, Optional[object]]:
    """Status of a certificate location, and the certificate (its PEM bytes, or the parsed one) when
    there is one.  Read with jenv.lite.certinfo where it is sure, else with cryptography."""
    status, data = _read(loc)
    if data is None:
        return status, None
    info = summarize(data)
    if info is not None:
        return replace(status, info=info, state=validity_state(info, now)), data
    from jenv.pem import cert_info, parse_certificate

    try:
        cert = parse_certificate(data, loc.describe())
    except InvalidInputError as exc:
        return replace(status, error=str(exc), error_code=exc.exit_code), None
    info = cert_info(cert)
    return replace(status, info=info, state=validity_state(info, now)), cert


def check_key(loc: Location, cert: Optional[object]) -> CredentialStatus:
    """Status of a private key location; never asks for a passphrase."""
    status, data = _read(loc)
    if loc.path is not None and status.exists:
        status = replace(status, unsafe=key_permission_problem(loc.path))
    if data is None:
        return status
    if is_encrypted_key(data):
        return replace(status, encrypted=True)
    lite = key_summary(data) if der.private_key_blocks(data) == 1 else None
    cert_public = der.cert_public_key(cert) if isinstance(cert, bytes) else None
    if lite is not None and (cert is None or cert_public is not None):
        public, key_type, bits = lite
        return replace(status, key_type=f"{key_type} {bits} bits",
                       matches=None if cert is None else cert_public == public)
    from jenv.pem import key_description, key_matches, parse_certificate, parse_private_key

    try:
        # An overview of the user's own files: the public half is what status reports and compares;
        # certkey-match and tokenkey-match run cryptography's full consistency check of the key.
        key = parse_private_key(data, loc.describe(), own_key=True)
    except (InvalidInputError, PassphraseError) as exc:
        return replace(status, error=str(exc), error_code=exc.exit_code)
    key_type, bits = key_description(key.public_key())
    if isinstance(cert, bytes):
        cert = parse_certificate(cert, "certificate")
    matches = key_matches(cert, key) if cert is not None else None
    return replace(status, key_type=f"{key_type} {bits} bits", matches=matches)


def _count_hash_links(path: str) -> int:
    return sum(1 for name in os.listdir(path) if HASH_LINK.match(name))


def check_ca_store(store: CAStore) -> CAStatus:
    """Whether the CA store opens (the same checks as cert-verify) and how many certificates it holds."""
    try:
        open_ca_store(store)
        count = len(load_bundle(store)) if store.kind == "file" else _count_hash_links(store.path)
    except JenvError as exc:
        exists = store.path is not None and os.path.exists(store.path)
        return CAStatus(store, exists, error=str(exc), error_code=exc.exit_code)
    except OSError as exc:
        return CAStatus(store, True, error=f"CA store {store.path} cannot be read: {exc.strerror}",
                        error_code=ExitCode.NOT_FOUND)
    if count == 0:
        where = f"{store.variable}={store.path}" if store.explicit else f"CA directory {store.path}"
        return CAStatus(store, True, 0, error=f"{where} holds no <hash>.0 certificate files: "
                                              "run 'jenv ca-fetch' or 'openssl rehash' on it",
                        error_code=ExitCode.INVALID)
    return CAStatus(store, True, count)


def _pair_problem(cert: CredentialStatus, key: CredentialStatus, now: dt.datetime) -> Optional[Problem]:
    """Why a certificate and its key cannot be used together, or None."""
    if cert.error:
        return Problem(cert.error_code, cert.error)
    if cert.state != "valid":
        assert cert.info is not None
        return Problem(ExitCode.NOT_VALID_NOW, validity_problem(cert.info, cert.location, now) or "")
    if key.error:
        return Problem(key.error_code, key.error)
    if key.matches is False:
        return Problem(ExitCode.KEY_MISMATCH, f"{key.location.describe()} does not belong to "
                                              f"{cert.location.describe()}: use the matching key")
    return None


def find_problems(status: Status) -> Tuple[Problem, ...]:
    """What stops the main job, most important first (pure).

    Invalid explicit settings, unsafe keys and a user certificate that cannot
    be parsed at all always count; the user
    certificate and key count only when there is no valid token; a missing CA
    store counts only when a token must be made.
    """
    problems = []
    if status.ca.error and status.ca.store.explicit:
        problems.append(Problem(status.ca.error_code, status.ca.error))
    for text in (status.endpoint_error, status.timeout_error):
        if text:
            problems.append(Problem(ExitCode.INVALID, f"{text}: fix or unset it"))
    for key in (status.user_key, status.token_key):
        if key.unsafe:
            problems.append(Problem(ExitCode.UNSAFE, key.unsafe))
    if status.user_cert.error and status.user_cert.error_code == ExitCode.INVALID:
        # Present but not a certificate at all: no token can ever be made from it.  (A broken
        # token is only a warning: the next 'jenv token' replaces it.)
        problems.append(Problem(ExitCode.INVALID, status.user_cert.error))
    token_ok = status.token_cert.usable and status.token_key.usable
    if not token_ok:
        user = _pair_problem(status.user_cert, status.user_key, status.now)
        if user:
            problems.append(Problem(user.exit_code, f"no valid token, and the user credentials cannot "
                                                    f"make one: {user.message}"))
        if status.ca.error and not status.ca.store.explicit:
            problems.append(Problem(status.ca.error_code, status.ca.error))
    return tuple(problems)


def gather_status(environ: Mapping[str, str], uid: int, home: str, now: dt.datetime,
                  shell: Tuple[str, str] = ("unknown", "not detected")) -> Status:
    """Look at every credential, the CA store and the settings; offline, never prompts."""
    locs = resolve_locations(environ, uid, home)
    user_cert, ucert = check_certificate(locs.user_cert, now)
    if user_cert.info is not None and user_cert.state == "valid":
        user_cert = replace(user_cert, notice=expiry_message(int(user_cert.info.not_after.timestamp()),
                                                             now.timestamp(), user_cert.location.describe()))
    token_cert, tcert = check_certificate(locs.token_cert, now)
    endpoint = endpoint_error = timeout = timeout_error = None
    try:
        endpoint = resolve_endpoint(environ)
    except ValueError as exc:
        endpoint_error = str(exc)
    try:
        timeout = resolve_timeout(environ)[0]
    except ValueError as exc:
        timeout_error = str(exc)
    status = Status(now, user_cert, check_key(locs.user_key, ucert), token_cert,
                    check_key(locs.token_key, tcert), check_ca_store(resolve_ca_store(environ, home)),
                    endpoint, endpoint_error, timeout, timeout_error, shell)
    return replace(status, problems=find_problems(status))

