"""The token store: check, lock, write and remove the token certificate and key.

Guarantees (see the README, "Token store"):

* :func:`check_token` is the login fast path: it reads the two files (safely,
  :mod:`jenv.tokenfiles`), takes the dates and public keys from the DER
  (:mod:`jenv.der`) and only falls back to ``cryptography`` when unsure.  A
  certificate and key that do not belong together are never "valid".
* :func:`write_token_pair` runs under the store lock (``flock`` on a per-user
  file next to the certificate): both temporary files are complete and
  fsync-ed before the first rename, the key is renamed first and the
  certificate right after.  A failure before the renames leaves the old
  pair untouched; a failure between them puts the old key back.
* A run killed between the two renames leaves the new key next to the old
  certificate plus the complete new certificate as a temporary file;
  :func:`recover_store` (run under the lock by every writer and by any
  reader that sees a mismatch) finishes the rename, so readers never use a
  mixed pair and the next run needs no new token.
"""

from __future__ import annotations

import contextlib
import enum
import os
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from jenv import der
from jenv.errors import InvalidInputError, JenvError, NetworkError, NotFoundError, UnsafeFileError
from jenv.locations import Location
from jenv.tokenfiles import (check_directory, check_target, fsync_directory, hold_lock, leftover_files,
                             read_private_file, temp_name, write_temp_file)

__all__ = ["TokenStore", "TokenState", "TokenCheck", "TokenLock", "LockTimeoutError", "check_token",
           "lock_store", "recover_store", "check_writable", "write_token_pair", "destroy_token_pair", "file_text"]


class LockTimeoutError(NetworkError):
    """Another jenv held the token lock for too long (it is waiting for JCentral or a passphrase)."""


@dataclass(frozen=True)
class TokenStore:
    """Where the token lives: two Locations (path or PEM content) and the owner's uid."""

    cert: Location
    key: Location
    uid: int

    @property
    def in_files(self) -> bool:
        """True when both halves are files jenv may (re)write; False for PEM content in variables."""
        return self.cert.path is not None and self.key.path is not None

    @property
    def lock_path(self) -> str:
        assert self.cert.path is not None
        return os.path.join(os.path.dirname(self.cert.path), f"jenv-token-{self.uid}.lock")

    def directories(self) -> List[str]:
        paths = [loc.path for loc in (self.cert, self.key) if loc.path is not None]
        return list(dict.fromkeys(os.path.dirname(path) or "." for path in paths))


class TokenState(enum.Enum):
    VALID = "valid"
    MISSING = "missing"
    EXPIRED = "expired"
    EXPIRING = "about to expire"
    NOT_YET_VALID = "not yet valid"
    MISMATCH = "key does not match the certificate"
    BROKEN = "unusable"


@dataclass(frozen=True)
class TokenCheck:
    """The verdict on the stored token; ``cert_pem``/``key_pem`` are what was read."""

    state: TokenState
    detail: str = ""
    not_after: Optional[int] = None
    cert_pem: Optional[bytes] = None
    key_pem: Optional[bytes] = None

    @property
    def usable(self) -> bool:
        return self.state is TokenState.VALID


def _read(store: TokenStore, loc: Location) -> Optional[bytes]:
    if loc.pem is not None:
        return loc.pem.encode("ascii", "replace")
    assert loc.path is not None
    # A certificate is public: one the user chose (JALIEN_TOKEN_CERT=path) may be 0644; the
    # default files in the shared directory are jenv's own and must be private like the key.
    private = loc is store.key or loc.source == "default"
    return read_private_file(loc.path, store.uid, loc.what, private)


def _dates(cert_pem: bytes) -> Optional[Tuple[int, int]]:
    dates = der.cert_validity(cert_pem)
    if dates is not None:
        return dates
    from jenv.pem import parse_certificate  # slow path: unusual encodings

    try:
        cert = parse_certificate(cert_pem, "token certificate")
    except JenvError:
        return None
    return int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp())


def pair_matches(cert_pem: bytes, key_pem: bytes) -> Optional[bool]:
    """True/False when the key is/is not the certificate's; None when either cannot be parsed."""
    cert_key, key_key = der.cert_public_key(cert_pem), der.key_public_key(key_pem)
    if cert_key is not None and key_key is not None:
        return cert_key == key_key
    from jenv.pem import key_matches, parse_certificate, parse_private_key

    try:
        return key_matches(parse_certificate(cert_pem), parse_private_key(key_pem))
    except JenvError:  # garbage, or an encrypted key (a token key never is)
        return None


def check_token(store: TokenStore, now: float, min_valid: int) -> TokenCheck:
    """Whether the stored token can be used for at least ``min_valid`` more seconds.

    Never touches the network.  Raises UnsafeFileError / NotFoundError when a
    token file or its directory is unsafe or unreadable (see jenv.tokenfiles);
    a missing, expired, mismatched or garbage token is a TokenCheck, not an error.
    """
    if store.in_files:
        for directory in store.directories():
            check_directory(directory, "token files")
    cert_pem, key_pem = _read(store, store.cert), _read(store, store.key)
    if cert_pem is None or key_pem is None:
        gone = store.cert if cert_pem is None else store.key
        return TokenCheck(TokenState.MISSING, f"{gone.describe()} does not exist", None, cert_pem, key_pem)
    dates = _dates(cert_pem)
    if dates is None:
        return TokenCheck(TokenState.BROKEN, f"{store.cert.describe()} is not a certificate", None, cert_pem, key_pem)
    not_before, not_after = dates
    matches = pair_matches(cert_pem, key_pem)
    if matches is None:
        state, detail = TokenState.BROKEN, f"{store.key.describe()} is not a usable private key"
    elif not matches:
        state, detail = TokenState.MISMATCH, f"{store.key.describe()} does not belong to {store.cert.describe()}"
    elif now < not_before:
        state, detail = TokenState.NOT_YET_VALID, f"{store.cert.describe()} is not valid yet"
    elif now >= not_after:
        state, detail = TokenState.EXPIRED, f"{store.cert.describe()} has expired"
    elif not_after - now < min_valid:
        state, detail = TokenState.EXPIRING, f"{store.cert.describe()} expires in {int(not_after - now)} s"
    else:
        state, detail = TokenState.VALID, ""
    return TokenCheck(state, detail, not_after, cert_pem, key_pem)


class TokenLock:
    """A held exclusive lock on a store (see :func:`lock_store`)."""

    def __init__(self, store: TokenStore, fd: int):
        self.store, self.fd = store, fd


@contextlib.contextmanager
def lock_store(store: TokenStore, wait: float) -> Iterator[TokenLock]:
    """Hold the store's exclusive lock; waits at most ``wait`` seconds for another jenv.

    Raises UnsafeFileError (the lock file is a link, not ours, ...),
    NotFoundError (no directory) and LockTimeoutError.
    """
    for directory in store.directories():
        check_directory(directory, "token files")
    try:
        with hold_lock(store.lock_path, store.uid, wait) as fd:
            yield TokenLock(store, fd)
    except TimeoutError:
        raise LockTimeoutError(f"another jenv has held {store.lock_path} for {wait:.0f} s (it is getting a "
                               "token or waiting for a passphrase): try again when it is done") from None


def file_text(pem: str) -> bytes:
    """PEM text as written to a file: unchanged, with one final newline (like the official client)."""
    data = pem.encode("ascii", "replace")
    return data if data.endswith(b"\n") else data + b"\n"


def _restore(backup: Optional[str], key_path: str) -> None:
    if backup is not None:
        with contextlib.suppress(OSError):
            os.replace(backup, key_path)


def recover_store(lock: TokenLock) -> Optional[str]:
    """Finish or undo a write that was killed, and remove temporary files of dead runs.

    Call with the lock held.  Returns a sentence describing a repair, or None.
    """
    store = lock.store
    if not store.in_files:
        return None
    cert_path, key_path = store.cert.path, store.key.path
    assert cert_path is not None and key_path is not None
    cert_left, key_left = leftover_files(cert_path, store.uid), leftover_files(key_path, store.uid)
    repaired = None
    if cert_left or key_left:
        repaired = _finish_interrupted(store, cert_left, key_left)
    for path, _kind in cert_left + key_left:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return repaired


def _current(path: str, store: TokenStore, what: str) -> Optional[bytes]:
    try:
        return read_private_file(path, store.uid, what)
    except JenvError:
        return None


def _finish_interrupted(store: TokenStore, cert_left, key_left) -> Optional[str]:
    cert_path, key_path = store.cert.path, store.key.path
    assert cert_path is not None and key_path is not None
    cert_pem, key_pem = _current(cert_path, store, "token certificate"), _current(key_path, store, "token key")
    if cert_pem is None or key_pem is None or pair_matches(cert_pem, key_pem):
        return None
    # Roll forward: the new certificate was complete before the key was renamed.
    if _promote(store, cert_left, "tmp", cert_path, lambda candidate: pair_matches(candidate, key_pem)):
        return f"finished the interrupted token write ({cert_path})"
    # Roll back: the saved old key still matches the old certificate.
    if _promote(store, key_left, "old", key_path, lambda candidate: pair_matches(cert_pem, candidate)):
        return f"restored the token key of an interrupted write ({key_path})"
    return None


def _promote(store: TokenStore, leftovers, kind: str, target: str, fits) -> bool:
    """Rename the first leftover of ``kind`` for which ``fits(content)`` holds onto ``target``."""
    for path, found_kind in leftovers:
        candidate = _current(path, store, "leftover token file")
        if found_kind == kind and candidate and fits(candidate):
            os.replace(path, target)
            fsync_directory(os.path.dirname(target))
            return True
    return False


def check_writable(store: TokenStore) -> None:
    """Refuse, before asking JCentral, a store that :func:`write_token_pair` would refuse.

    Raises InvalidInputError (PEM content, no files), NotFoundError or UnsafeFileError.
    """
    if not store.in_files:
        raise InvalidInputError("the token is given as PEM content in JALIEN_TOKEN_CERT/KEY, not as files: "
                                "unset them to let jenv write the token files")
    for directory in store.directories():
        check_directory(directory, "token files")
    for loc in (store.key, store.cert):
        assert loc.path is not None
        check_target(loc.path, store.uid, loc.what)


def write_token_pair(lock: TokenLock, cert_pem: str, key_pem: str) -> None:
    """Replace the token files with a new pair, atomically per file and never mixed (see module doc).

    Call with the store's lock held.  Raises UnsafeFileError (unsafe target or
    directory), NotFoundError (cannot write: the message says why); in every
    failure case the previous pair is left exactly as it was.
    """
    store = lock.store
    check_writable(store)
    recover_store(lock)
    cert_path, key_path = store.cert.path, store.key.path
    assert cert_path is not None and key_path is not None
    key_exists = check_target(key_path, store.uid, store.key.what)
    check_target(cert_path, store.uid, store.cert.what)
    old_umask = os.umask(0o077)
    temps: List[str] = []
    try:
        temps.append(write_temp_file(key_path, file_text(key_pem)))
        temps.append(write_temp_file(cert_path, file_text(cert_pem)))
        backup = _backup(key_path) if key_exists else None
        if backup:
            temps.append(backup)
        for directory in store.directories():
            fsync_directory(directory)
        os.replace(temps[0], key_path)
        try:
            os.replace(temps[1], cert_path)
        except OSError:
            _restore(backup, key_path)
            raise
        for directory in store.directories():
            fsync_directory(directory)
    except OSError as exc:
        raise NotFoundError(f"cannot write the token to {os.path.dirname(cert_path)}: "
                            f"{exc.strerror or exc}; the previous token is unchanged") from None
    finally:
        os.umask(old_umask)
        for path in temps:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _backup(key_path: str) -> Optional[str]:
    """A hard link to the current key, so a failed second rename can put it back."""
    name = temp_name(key_path, "old")
    try:
        os.link(key_path, name, follow_symlinks=False)
    except OSError:  # no hard links here (some network filesystems): no undo, still safe to proceed
        return None
    return name


def destroy_token_pair(lock: TokenLock) -> List[str]:
    """Remove the token files; returns the paths removed.

    Only regular files of the user are removed: anything else raises
    UnsafeFileError before anything is removed.
    """
    store = lock.store
    if not store.in_files:
        return []
    recover_store(lock)
    present = [loc.path for loc in (store.key, store.cert)
               if loc.path is not None and check_target(loc.path, store.uid, loc.what, private=False)]
    removed = []
    for path in present:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise NotFoundError(f"cannot remove {path}: {exc.strerror}") from None
        removed.append(path)
    for directory in store.directories():
        fsync_directory(directory)
    return removed
