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
from jenv.durations import DEFAULT_MIN_VALID, parse_duration
from jenv.errors import ExitCode, InvalidInputError, JenvError, PassphraseError
from jenv.lite.pemtext import is_encrypted_key
from jenv.locations import (CAStore, Endpoint, Location, lock_directories, resolve_ca_store, resolve_endpoint,
                            resolve_locations, resolve_timeout)
from jenv.pem import CertInfo, cert_info, validity_state
from jenv.report.render import validity_problem
from jenv.tokens.check import TokenCheck, TokenStore, check_token
from jenv.tokens.expiry import expiry_message

__all__ = ["CredentialStatus", "CAStatus", "Problem", "Status", "check_certificate", "check_key",
           "check_ca_store", "check_token_pair", "find_problems", "gather_status", "DEFAULT_MIN_VALID_SECONDS"]

#: What ``jenv token`` asks of a token unless told otherwise (its --min-valid default, 10m).
DEFAULT_MIN_VALID_SECONDS = parse_duration(DEFAULT_MIN_VALID)


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
    crls: Tuple[object, ...] = ()  # jenv.ca.crl.CrlInfo of the store's CRLs, oldest first


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
    token: Optional[TokenCheck] = None  # the verdict 'jenv token' would act on (None: it refused to read)
    token_error: Optional[Problem] = None  # why 'jenv token' would refuse the token files
    problems: Tuple[Problem, ...] = ()

    @property
    def token_ready(self) -> bool:
        """True when 'jenv token' would succeed without a change: a usable token, nothing to fix."""
        return self.token is not None and self.token.usable and not self.problems

    @property
    def exit_code(self) -> ExitCode:
        return self.problems[0].exit_code if self.problems else ExitCode.OK


def _mode(path: Optional[str]) -> Optional[int]:
    if path is None:
        return None
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return None


def _read(loc: Location) -> Tuple[CredentialStatus, Optional[bytes]]:
    """Read one user credential; the status says whether it exists and is readable."""
    mode = _mode(loc.path)
    try:
        data = read_credential(loc)
    except JenvError as exc:
        exists = loc.problem is not None or (loc.path is not None and os.path.exists(loc.path))
        return CredentialStatus(loc, exists, False, str(exc), exc.exit_code, mode), None
    return CredentialStatus(loc, True, True, mode=mode), data


def check_certificate(loc: Location, now: dt.datetime) -> Tuple[CredentialStatus, Optional[object]]:
    """Status of the user certificate, and the certificate when there is one: judged by the libraries
    (:func:`jenv.tokens.judge.load_certificate_once`), as token-init will load it."""
    from jenv.tokens.judge import load_certificate_once

    status, data = _read(loc)
    if data is None:
        return status, None
    cert, problem = load_certificate_once(data, single=False)
    if cert is None:
        return replace(status, error=f"{loc.describe()} {problem}", error_code=ExitCode.INVALID), None
    info = cert_info(cert)
    return replace(status, info=info, state=validity_state(info, now)), cert


def check_key(loc: Location, cert: Optional[object]) -> CredentialStatus:
    """Status of the user key; never asks for a passphrase."""
    status, data = _read(loc)
    if loc.path is not None and status.exists:
        status = replace(status, unsafe=key_permission_problem(loc.path))
    if data is None:
        return status
    if is_encrypted_key(data):
        return replace(status, encrypted=True)
    from jenv.pem import key_description, key_matches, parse_private_key

    try:
        # An overview of the user's own files: the public half is what status reports and compares;
        # certkey-match runs cryptography's full consistency check of the key.
        key = parse_private_key(data, loc.describe(), own_key=True)
    except (InvalidInputError, PassphraseError) as exc:
        return replace(status, error=str(exc), error_code=exc.exit_code)
    key_type, bits = key_description(key.public_key())
    matches = key_matches(cert, key) if cert is not None else None
    return replace(status, key_type=f"{key_type} {bits} bits", matches=matches)


def check_token_pair(store: TokenStore, now: dt.datetime) -> Tuple[CredentialStatus, CredentialStatus,
                                                                   Optional[TokenCheck], Optional[Problem]]:
    """The token files as ``jenv token`` reads them (:func:`jenv.tokens.check.check_token`, the one
    reader): the two statuses, the verdict, and the refusal ``jenv token`` would make, if any."""
    cert_loc, key_loc = store.cert, store.key
    cert = CredentialStatus(cert_loc, False, False, mode=_mode(cert_loc.path))
    key = CredentialStatus(key_loc, False, False, mode=_mode(key_loc.path),
                           unsafe=key_permission_problem(key_loc.path) if key_loc.path else None)
    try:
        check = check_token(store, now.timestamp(), DEFAULT_MIN_VALID_SECONDS, need_pem=True)
    except JenvError as exc:
        problem = Problem(exc.exit_code, str(exc))
        exists = [loc.pem is not None or (loc.path is not None and os.path.lexists(loc.path))
                  for loc in (cert_loc, key_loc)]
        return (replace(cert, exists=exists[0], error=str(exc), error_code=exc.exit_code),
                replace(key, exists=exists[1], error=str(exc), error_code=exc.exit_code), None, problem)
    cert = replace(cert, exists=check.cert_pem is not None, readable=check.cert_pem is not None)
    key = replace(key, exists=check.key_pem is not None, readable=check.key_pem is not None)
    verdict = check.verdict
    if verdict is None:  # missing
        return cert, key, check, None
    if verdict.pair == "broken-cert":
        return replace(cert, error=check.detail, error_code=ExitCode.INVALID), key, check, None
    from jenv.pem import key_description, parse_certificate, parse_private_key

    info = cert_info(parse_certificate(check.cert_pem or b"", cert_loc.describe()))
    cert = replace(cert, info=info, state=validity_state(info, now, DEFAULT_MIN_VALID_SECONDS))
    if verdict.pair == "broken-key":
        return cert, replace(key, error=check.detail, error_code=ExitCode.INVALID), check, None
    public = parse_private_key(check.key_pem or b"", key_loc.describe(), own_key=True).public_key()
    key_type, bits = key_description(public)
    return cert, replace(key, key_type=f"{key_type} {bits} bits", matches=verdict.pair == "usable"), check, None


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
    from jenv.ca.crl import describe_crls

    return CAStatus(store, True, count, crls=tuple(describe_crls(store, dt.datetime.now(dt.timezone.utc))))


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


def _writing_problem(store: TokenStore) -> Optional[Problem]:
    """Why ``jenv token`` could not write a new pair (the token directory, the private lock directory)."""
    from jenv.tokens.store import check_writable, lock_directory

    try:
        check_writable(store)
        if store.in_files:
            lock_directory(store)
    except JenvError as exc:
        return Problem(exc.exit_code, str(exc))
    return None


def find_problems(status: Status, store: Optional[TokenStore] = None) -> Tuple[Problem, ...]:
    """What stops the main job, most important first.

    Invalid explicit settings, a user certificate that cannot be parsed at all, and token files
    that ``jenv token`` would refuse to read always count; without a usable token, so does
    everything that making one needs: the user certificate and key, the CA store, a token
    directory and lock directory jenv can write.
    """
    problems = []
    if status.token_error is not None:
        problems.append(status.token_error)
    if status.user_key.unsafe:  # an exposed private key is a problem whether or not a token is valid
        problems.append(Problem(ExitCode.UNSAFE, status.user_key.unsafe))
    if status.ca.error and status.ca.store.explicit:
        problems.append(Problem(status.ca.error_code, status.ca.error))
    for text in (status.endpoint_error, status.timeout_error):
        if text:
            problems.append(Problem(ExitCode.INVALID, f"{text}: fix or unset it"))
    if status.user_cert.error and status.user_cert.error_code == ExitCode.INVALID:
        # Present but not a certificate at all: no token can ever be made from it.  (A broken
        # token is only a warning: the next 'jenv token' replaces it.)
        problems.append(Problem(ExitCode.INVALID, status.user_cert.error))
    token_ok = status.token is not None and status.token.usable
    if not token_ok and status.token_error is None:
        user = _pair_problem(status.user_cert, status.user_key, status.now)
        if user and not (status.user_cert.error and status.user_cert.error_code == ExitCode.INVALID):
            problems.append(Problem(user.exit_code, f"no valid token, and the user credentials cannot "
                                                    f"make one: {user.message}"))
        if status.ca.error and not status.ca.store.explicit:
            problems.append(Problem(status.ca.error_code, status.ca.error))
        writing = _writing_problem(store) if store is not None else None
        if writing is not None:
            problems.append(writing)
    return tuple(problems)


def gather_status(environ: Mapping[str, str], uid: int, home: str, now: dt.datetime,
                  shell: Tuple[str, str] = ("unknown", "not detected")) -> Status:
    """Look at every credential, the CA store and the settings; offline, never prompts."""
    locs = resolve_locations(environ, uid, home)
    user_cert, ucert = check_certificate(locs.user_cert, now)
    if user_cert.info is not None and user_cert.state == "valid":
        user_cert = replace(user_cert, notice=expiry_message(int(user_cert.info.not_after.timestamp()),
                                                             now.timestamp(), user_cert.location.describe()))
    store = TokenStore(locs.token_cert, locs.token_key, uid, lock_directories(environ, home))
    token_cert, token_key, check, token_error = check_token_pair(store, now)
    endpoint = endpoint_error = timeout = timeout_error = None
    try:
        endpoint = resolve_endpoint(environ)
    except ValueError as exc:
        endpoint_error = str(exc)
    try:
        timeout = resolve_timeout(environ)[0]
    except ValueError as exc:
        timeout_error = str(exc)
    status = Status(now, user_cert, check_key(locs.user_key, ucert), token_cert, token_key,
                    check_ca_store(resolve_ca_store(environ, home)), endpoint, endpoint_error, timeout,
                    timeout_error, shell, check, token_error)
    return replace(status, problems=find_problems(status, store))
