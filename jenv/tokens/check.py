"""Reading the token: where it is, and whether it can be used (the login fast path).

:func:`check_token` reads the two files safely (:mod:`jenv.tokens.files`),
takes the dates and public keys from the DER (:mod:`jenv.lite.der`) and only
falls back to ``cryptography`` when unsure, so ``jenv token`` on a valid
token imports neither it nor the network stack.  A certificate and key that
do not belong together are never "valid" (a writer killed between its two
renames, or a concurrent writer, is seen as MISMATCH and repaired under the
lock by :mod:`jenv.tokens.store`).
"""

from __future__ import annotations

import os

from jenv.lite import der
from jenv.lite.record import record
from jenv.lite.timefmt import format_duration
from jenv.lite.pkcs12 import is_pkcs12, pkcs12_problem
from jenv.errors import InvalidInputError, JenvError
from jenv.locations import Location, lock_directories, resolve_locations
from jenv.tokens.files import check_directory, read_private_file

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path imports this module: no typing, enum or collections at run time
    from typing import List, Optional, Tuple

    from jenv.context import Context
    from jenv.locations import Locations

__all__ = ["TokenStore", "TokenState", "TokenCheck", "check_token", "pair_matches", "token_store", "cert_dates"]


class TokenStore(record("TokenStore", "cert key uid lock_dirs", ((),))):
    """Where the token lives: two Locations (path or PEM content) and the owner's uid.

    ``lock_dirs`` are the private places the lock may live, best first
    (``$XDG_RUNTIME_DIR``, ``~/.cache/jenv``): never the shared token directory,
    where anyone could pre-create the lock and block every renewal.
    """

    __slots__ = ()

    @property
    def in_files(self) -> bool:
        """True when both halves are files jenv may (re)write; False for PEM content in variables."""
        return self.cert.path is not None and self.key.path is not None

    @property
    def lock_name(self) -> str:
        """One lock per token location (another TMPDIR is another token), however its directory is spelled
        (a symbolic link, ``//``, ``/./``): named by the digest of the directory's device and inode and the
        certificate's file name.  Raises OSError when the directory cannot be reached."""
        import hashlib

        assert self.cert.path is not None
        directory, name = os.path.split(self.cert.path)
        st = os.stat(directory or ".")
        digest = hashlib.sha256(f"{st.st_dev}:{st.st_ino}/{name}".encode("utf-8", "surrogateescape")).hexdigest()
        return f"jenv-token-{self.uid}-{digest[:16]}.lock"

    def directories(self) -> List[str]:
        paths = [loc.path for loc in (self.cert, self.key) if loc.path is not None]
        return list(dict.fromkeys(os.path.dirname(path) or "." for path in paths))


def token_store(ctx: "Context") -> "Tuple[Locations, TokenStore]":
    """The locations of ``ctx`` and the store of its token, with the lock in the private places."""
    locs = resolve_locations(ctx.environ, ctx.uid, ctx.home)
    return locs, TokenStore(locs.token_cert, locs.token_key, ctx.uid, lock_directories(ctx.environ, ctx.home))


class TokenState:
    """The verdicts of :func:`check_token` (compared with ``is``; the text reads well in messages)."""

    VALID = "valid"
    MISSING = "missing"
    EXPIRED = "expired"
    EXPIRING = "about to expire"
    NOT_YET_VALID = "not yet valid"
    MISMATCH = "key does not match the certificate"
    BROKEN = "unusable"


class TokenCheck(record("TokenCheck", "state detail not_after cert_pem key_pem", ("", None, None, None))):
    """The verdict on the stored token (a TokenState, a detail, the end of validity);
    ``cert_pem``/``key_pem`` are what was read."""

    __slots__ = ()

    @property
    def usable(self) -> bool:
        return self.state is TokenState.VALID


def _read(store: TokenStore, loc: Location) -> Optional[bytes]:
    if loc.problem is not None:
        raise InvalidInputError(loc.problem)
    if loc.pem is not None:
        return loc.pem.encode("ascii", "replace")
    assert loc.path is not None
    # A certificate is public: one the user chose (JALIEN_TOKEN_CERT=path) may be 0644; the
    # default files in the shared directory are jenv's own and must be private like the key.
    private = loc is store.key or loc.source == "default"
    return read_private_file(loc.path, store.uid, loc.what, private)


def cert_dates(cert_pem: bytes) -> Optional[Tuple[int, int]]:
    """(notBefore, notAfter) of the first certificate of ``cert_pem`` in epoch seconds, from the DER when
    it has the common shape, else from ``cryptography``; None when it is not a certificate."""
    dates = der.cert_validity(cert_pem)
    if dates is not None:
        return dates
    from jenv.pem import parse_certificate, validity_bounds  # slow path: unusual encodings

    try:
        return validity_bounds(parse_certificate(cert_pem, "token certificate"))
    except JenvError:
        return None


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
    token file or its directory is unsafe or unreadable (see jenv.tokens.files),
    InvalidInputError when one is a PKCS#12 bundle (a user credential, never replaced);
    a missing, expired, mismatched or garbage token is a TokenCheck, not an error.
    """
    if store.in_files:
        for directory in store.directories():
            check_directory(directory, "token files", store.uid)
    cert_pem, key_pem = _read(store, store.cert), _read(store, store.key)
    for loc, data in ((store.cert, cert_pem), (store.key, key_pem)):
        if data is not None and is_pkcs12(data):  # never "broken, replace it": it is someone's credential
            raise InvalidInputError(f"{loc.describe()} {pkcs12_problem(loc.path, loc.variable)}")
    if cert_pem is None or key_pem is None:
        gone = store.cert if cert_pem is None else store.key
        return TokenCheck(TokenState.MISSING, f"{gone.describe()} does not exist", None, cert_pem, key_pem)
    if der.private_key_blocks(key_pem) > 1:
        return TokenCheck(TokenState.BROKEN, f"{store.key.describe()} holds {der.private_key_blocks(key_pem)} "
                                             "private keys", None, cert_pem, key_pem)
    dates = cert_dates(cert_pem)
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
        state, detail = TokenState.EXPIRING, f"{store.cert.describe()} expires in {format_duration(not_after - now)}"
    else:
        state, detail = TokenState.VALID, ""
    return TokenCheck(state, detail, not_after, cert_pem, key_pem)
