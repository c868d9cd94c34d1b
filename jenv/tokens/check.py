"""Reading the token: where it is, and whether it can be used.  The one reader of the token files.

Every command that reads the token (``token``, ``--check``, ``prompt``, the hook, ``alien-token-info``,
``whoami``, ``token-info``, ``tokenkey-match``, ``token-verify``, ``status``, ``export``, ``exec``,
``args``, ``token-destroy``) goes through :func:`check_token`, with one set of rules: no link, a
regular file of the user's own, private modes for what must be private, bounded size, never
blocking (:mod:`jenv.safefile`), and one origin for the pair
(:func:`jenv.locations.pair_origin_problem`).

The verdict comes from the libraries (:mod:`jenv.tokens.judge`), once per version of the files: it is
remembered with the files' identity (:mod:`jenv.tokens.memo`), and while ``stat`` says the files are
the ones judged, the remembered verdict stands and nothing is parsed.  "Valid" is one rule,
:func:`jenv.lite.validity.date_state`.  A certificate and key that do not belong together are never
"valid" (a writer killed between its two renames, or a concurrent writer, is seen as MISMATCH and
repaired under the lock by :mod:`jenv.tokens.store`).
"""

from __future__ import annotations

import os

from jenv.errors import InvalidInputError
from jenv.lite import validity
from jenv.lite.pkcs12 import is_pkcs12, pkcs12_problem
from jenv.lite.record import record
from jenv.lite.timefmt import format_duration
from jenv.locations import Location, lock_directories, pair_origin_problem, resolve_locations
from jenv.tokens import memo
from jenv.safefile import check_directory, lstat_checked, read_checked

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path imports this module: no typing, enum or collections at run time
    from typing import List, Optional, Tuple

    from jenv.context import Context
    from jenv.locations import Locations

__all__ = ["TokenStore", "TokenState", "TokenCheck", "check_token", "read_token", "token_store", "judged"]


class TokenStore(record("TokenStore", "cert key uid lock_dirs", ((),))):
    """Where the token lives: two Locations (path or PEM content) and the owner's uid.

    ``lock_dirs`` are the private places the lock (and the remembered verdicts) may live, best first
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

    def private(self, loc: Location) -> bool:
        """Whether ``loc`` must be private: the key always; a certificate the user chose
        (JALIEN_TOKEN_CERT=path) may be 0644, the default files in the shared directory are jenv's own."""
        return loc is self.key or loc.source == "default"

    def memo_directory(self) -> Optional[str]:
        return memo.memo_directory(self.lock_dirs, self.uid)

    def refs(self) -> Tuple[str, str]:
        """The memo's key of the pair's files (None for PEM content)."""
        return self.cert.path or "", self.key.path or ""


def token_store(ctx: "Context") -> "Tuple[Locations, TokenStore]":
    """The locations of ``ctx`` and the store of its token, with the lock in the private places."""
    locs = resolve_locations(ctx.environ, ctx.uid, ctx.home)
    return locs, TokenStore(locs.token_cert, locs.token_key, ctx.uid, lock_directories(ctx.environ, ctx.home))


class TokenState:
    """The verdicts of :func:`check_token` (compared with ``is``; the text reads well in messages)."""

    VALID = validity.VALID
    MISSING = "missing"
    EXPIRED = validity.EXPIRED
    EXPIRING = validity.EXPIRING
    NOT_YET_VALID = validity.NOT_YET_VALID
    MISMATCH = "key does not match the certificate"
    BROKEN = "unusable"


class TokenCheck(record("TokenCheck", "state detail not_after cert_pem key_pem verdict",
                        ("", None, None, None, None))):
    """The verdict on the stored token (a TokenState, a detail, the end of validity); ``verdict`` is the
    libraries' (:class:`jenv.tokens.memo.Verdict`, None when missing); ``cert_pem``/``key_pem`` are what
    was read (None when the remembered verdict was enough)."""

    __slots__ = ()

    @property
    def usable(self) -> bool:
        return self.state is TokenState.VALID


def _conclude(store: TokenStore, verdict: "memo.Verdict", now: float, min_valid: int,
              cert_pem: Optional[bytes] = None, key_pem: Optional[bytes] = None) -> TokenCheck:
    cert, key = store.cert.describe(), store.key.describe()
    if verdict.pair == "broken-cert":
        return TokenCheck(TokenState.BROKEN, f"{cert} {verdict.detail}", None, cert_pem, key_pem, verdict)
    if verdict.pair == "broken-key":
        return TokenCheck(TokenState.BROKEN, f"{key} {verdict.detail}", None, cert_pem, key_pem, verdict)
    if verdict.pair == "mismatch":
        return TokenCheck(TokenState.MISMATCH, f"{key} does not belong to {cert}", verdict.not_after, cert_pem,
                          key_pem, verdict)
    state = validity.date_state(verdict.not_before, verdict.not_after, now, min_valid)
    detail = {TokenState.VALID: "", TokenState.NOT_YET_VALID: f"{cert} is not valid yet",
              TokenState.EXPIRED: f"{cert} has expired"}.get(
        state, f"{cert} expires in {format_duration(verdict.not_after - now)}")
    return TokenCheck(state, detail, verdict.not_after, cert_pem, key_pem, verdict)


def judged(store: TokenStore, cert_pem: bytes, key_pem: bytes, refs: Tuple[str, str],
           identities: Tuple[str, str]) -> "memo.Verdict":
    """The verdict on this pair: remembered for these versions of the files, else the libraries', then
    remembered (a full check imports ``cryptography`` and OpenSSL, once per version of the token)."""
    directory = store.memo_directory()
    verdict = memo.recall(directory, store.uid, refs, identities)
    if verdict is None:
        from jenv.tokens.judge import judge_pair

        verdict = judge_pair(cert_pem, key_pem)
        memo.remember(directory or memo.memo_directory(store.lock_dirs, store.uid, create=True), store.uid,
                      refs, identities, verdict)
    return verdict


def _refuse_pkcs12(loc: Location, data: Optional[bytes]) -> None:
    if data is not None and is_pkcs12(data):  # never "broken, replace it": it is someone's credential
        raise InvalidInputError(f"{loc.describe()} {pkcs12_problem(loc.path, loc.variable)}")


def check_token(store: TokenStore, now: float, min_valid: int, need_pem: bool = False) -> TokenCheck:
    """Whether the stored token can be used for at least ``min_valid`` more seconds.

    Never touches the network.  Raises UnsafeFileError / NotFoundError when a
    token file or its directory is unsafe or unreadable (see jenv.safefile),
    InvalidInputError when one is a PKCS#12 bundle (a user credential, never replaced)
    or when the two halves have no common origin; a missing, expired, mismatched or
    garbage token is a TokenCheck, not an error.  With ``need_pem`` the files are read
    even when the remembered verdict stands (for the commands that copy or show them).
    """
    for loc in (store.cert, store.key):
        if loc.problem is not None:
            raise InvalidInputError(loc.problem)
    problem = pair_origin_problem(store.cert, store.key, store.uid)
    if problem is not None:
        raise InvalidInputError(problem)
    if not store.in_files:
        cert_pem, key_pem = (loc.pem.encode("ascii", "replace") for loc in (store.cert, store.key))
        verdict = judged(store, cert_pem, key_pem, (memo.content_ref(cert_pem), memo.content_ref(key_pem)), ("", ""))
        return _conclude(store, verdict, now, min_valid, cert_pem, key_pem)
    for directory in store.directories():
        check_directory(directory, "token files", store.uid)
    halves = (store.cert, store.key)
    if not need_pem:
        stats = [lstat_checked(loc.path, store.uid, loc.what, store.private(loc)) for loc in halves]
        if stats[0] is not None and stats[1] is not None:
            verdict = memo.recall(store.memo_directory(), store.uid, store.refs(),
                                  (memo.file_identity(stats[0]), memo.file_identity(stats[1])))
            if verdict is not None:
                return _conclude(store, verdict, now, min_valid)
    found = [read_checked(loc.path, store.uid, loc.what, store.private(loc)) for loc in halves]
    for loc, item in zip(halves, found):
        _refuse_pkcs12(loc, item[0] if item else None)
    if found[0] is None or found[1] is None:
        gone = store.cert if found[0] is None else store.key
        return TokenCheck(TokenState.MISSING, f"{gone.describe()} does not exist", None,
                          found[0][0] if found[0] else None, found[1][0] if found[1] else None)
    (cert_pem, cert_st), (key_pem, key_st) = found
    verdict = judged(store, cert_pem, key_pem, store.refs(), (memo.file_identity(cert_st), memo.file_identity(key_st)))
    return _conclude(store, verdict, now, min_valid, cert_pem, key_pem)


def read_token(store: TokenStore, now: float, need_key: bool = False) -> TokenCheck:
    """The token's check with both files read, for the commands that show or verify it: NotFoundError
    when a half is missing, InvalidInputError when the certificate (``need_key``: or the key) is not
    usable, each naming the fix."""
    from jenv.errors import NotFoundError

    check = check_token(store, now, 0, need_pem=True)
    if check.state is TokenState.MISSING:
        raise NotFoundError(f"{check.detail}: run 'jenv token-init' to create a token")
    pair = check.verdict.pair if check.verdict is not None else ""
    if pair == "broken-cert" or (need_key and pair == "broken-key"):
        raise InvalidInputError(f"{check.detail}: run 'jenv token-init' for a new token")
    return check
