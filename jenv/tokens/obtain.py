"""The workflow that obtains a token: ask JCentral, check what came back, write it under the lock.

``ensure_token`` is what ``jenv token`` runs on every login: a valid token
costs two small file reads (nothing here imports ``cryptography`` or the
network stack until a token must really be fetched).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, Tuple

from jenv.context import Context
from jenv.errors import InvalidInputError, JenvError, NetworkError, ServerRefusedError, VerifyError
from jenv.locations import Locations, resolve_timeout
from jenv.tokens import memo
from jenv.tokens.store import TokenCheck, TokenStore, check_token, check_writable, lock_store, recover_store, \
    write_token_pair

if TYPE_CHECKING:
    from jenv.jcentral.protocol import TokenPair, TokenRequest

__all__ = ["ensure_token", "fetch_checked_token", "replace_token", "lock_wait", "network_timeout"]


def network_timeout(ctx: Context) -> float:
    try:
        return resolve_timeout(ctx.environ)[0]
    except ValueError as exc:
        raise InvalidInputError(f"{exc}: set it to a number of seconds, or unset it") from None


def fetch_checked_token(ctx: Context, locs: Locations, request: Optional["TokenRequest"],
                        passphrase: Optional[Callable[[], bytearray]] = None, replacing: bool = False) -> "TokenPair":
    """A fresh token from JCentral, authenticated with the user certificate (may ask for a passphrase,
    unless ``passphrase`` gives it), and checked to be a token for ``request`` (:mod:`jenv.tokens.vet`)
    before anyone writes it; the pair comes with its certificate parsed.  ``replacing``: the caller writes
    it over the token files (a refusal then says whether a previous token is there, unchanged)."""
    from jenv.jcentral.client import ClientIdentity, fetch_token
    from jenv.locations import resolve_ca_store, resolve_endpoint
    from jenv.safefile import use_light_core_guard

    use_light_core_guard(False)  # the user key may be decrypted now: the full guard (jenv.login set the light one)
    from jenv.jcentral.protocol import TokenRequest
    from jenv.tokens.vet import vet_token

    try:
        endpoint = resolve_endpoint(ctx.environ)
    except ValueError as exc:
        raise InvalidInputError(f"{exc}: set it to JCentral's port, or unset it") from None
    store = resolve_ca_store(ctx.environ, ctx.home)
    request = request or TokenRequest()
    account, present = _token_in_use(ctx)
    pair = fetch_token(endpoint, ClientIdentity(locs.user_cert, locs.user_key, passphrase), store,
                       network_timeout(ctx),
                       request, lambda text: ctx.err(f"jenv: JCentral: {text}"), ctx.clock)
    pair, warnings = vet_token(pair, request, store, account, previous=replacing and present)
    for warning in warnings:
        ctx.err(f"jenv: warning: {warning}")
    _say_if_shortened(ctx, locs, request, pair)
    return pair


def _token_in_use(ctx: Context) -> Tuple[Optional[str], bool]:
    """(the account of the token in use, expired or not, which every new user token must be for; whether a
    token is in the files at all).  The account is None when there is no user token, or it cannot be read
    (:func:`jenv.lite.identity.expected_account`)."""
    from jenv.lite.identity import expected_account
    from jenv.tokens.check import TokenState, token_store

    try:
        check = check_token(token_store(ctx)[1], ctx.clock(), 0)
    except JenvError:  # unsafe or unusable files: the command reports them where it uses them
        return None, False
    verdict = check.verdict
    present = check.state is not TokenState.MISSING
    if verdict is None or not verdict.readable:
        return None, present
    return expected_account(verdict.token_type, verdict.user), present


def _say_if_shortened(ctx: Context, locs: Locations, request: "TokenRequest", pair: "TokenPair") -> None:
    """One stderr line when the token ends with the user certificate, sooner than asked (JCentral's cap)."""
    from jenv.jcentral.rules import granted_days
    from jenv.locations import lock_directories
    from jenv.pem import validity_bounds
    from jenv.tokens.expiry import shortened_token_message, user_cert_not_after

    if locs.user_cert.path is None or pair.cert is None:
        return
    dates = validity_bounds(pair.cert)
    days = granted_days(request.token_type, request.validity_days, False).days  # what anyone gets: no admin's days
    message = shortened_token_message(dates[1], user_cert_not_after(locs.user_cert.path, ctx.uid, lock_directories(ctx.environ, ctx.home)), days, ctx.clock())
    if message:
        ctx.err(f"jenv: {message}")


def lock_wait(ctx: Context) -> float:
    # Long enough for another jenv's whole JCentral exchange, short enough never to hang a login.
    return 2 * network_timeout(ctx) + 5


#: How long a failure to get a token is remembered, unless JENV_RETRY_AFTER says otherwise.
DEFAULT_RETRY_AFTER = 120


def retry_after(ctx: Context) -> int:
    """JENV_RETRY_AFTER in seconds (a duration: 90, 2m, 1h; 0 turns the memory off)."""
    text = ctx.environ.get("JENV_RETRY_AFTER", "")
    if not text:
        return DEFAULT_RETRY_AFTER
    from jenv.durations import parse_duration

    return parse_duration(text, "JENV_RETRY_AFTER")


class RememberedFailure(JenvError):
    """JCentral failed a moment ago (remembered): this login does not wait for it again."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def _remembered_failure(ctx: Context, store: TokenStore) -> None:
    """Raise RememberedFailure while the last failure for these token files is younger than JENV_RETRY_AFTER."""
    wait = retry_after(ctx)
    found = memo.recall_failure(store.memo_directory(), store.uid, store.refs()) if wait else None
    if found is None:
        return
    when, code, what = found
    age = ctx.clock() - when
    if 0 <= age < wait:
        from jenv.lite.timefmt import short_duration

        raise RememberedFailure(f"no valid token, and {short_duration(int(age))} ago JCentral failed ({what}); "
                                f"jenv tries again in {short_duration(int(wait - age) + 1)} (JENV_RETRY_AFTER), or now "
                                "with 'jenv token-init'", code)


def ensure_token(ctx: Context, locs: Locations, store: TokenStore, min_valid: int,
                 need_pem: bool = False) -> TokenCheck:
    """A token in the files valid for ``min_valid`` seconds: the existing one, or a new one from JCentral
    (``need_pem``: with the files' content read).

    Concurrent runs wait for the one holding the lock and then reuse its token.  When JCentral could not
    be reached or refused within the last JENV_RETRY_AFTER (2 minutes), the logins in between say so at
    once instead of waiting for it again (``jenv token-init`` always asks).
    """
    check = check_token(store, ctx.clock(), min_valid, need_pem)
    if check.usable:
        return check
    if store.in_files:
        from jenv.tokens.agentclient import renew_through_agent

        if renew_through_agent(ctx, store, lock_wait(ctx) + 10):  # the user's agent holds the unlocked key
            check = check_token(store, ctx.clock(), min_valid, need_pem)
            if check.usable:
                return check
    _remembered_failure(ctx, store)
    try:
        return _renew(ctx, locs, store, min_valid, need_pem)
    except (NetworkError, ServerRefusedError, VerifyError) as exc:
        if retry_after(ctx):
            memo.remember_failure(memo.memo_directory(store.lock_dirs, store.uid, create=True), store.uid,
                                  store.refs(), int(ctx.clock()), int(exc.exit_code), str(exc))
        raise


def _renew(ctx: Context, locs: Locations, store: TokenStore, min_valid: int, need_pem: bool) -> TokenCheck:
    with lock_store(store, lock_wait(ctx)) as lock:
        repaired = recover_store(lock)
        if repaired:
            ctx.err(f"jenv: {repaired}")
        check = check_token(store, ctx.clock(), min_valid, need_pem)  # another run may have just written it
        if check.usable:
            return check
        check_writable(store)
        pair = fetch_checked_token(ctx, locs, None, replacing=True)
        write_token_pair(lock, pair.cert_pem, pair.key_pem)
    memo.forget_failure(store.memo_directory(), store.uid, store.refs())
    check = check_token(store, ctx.clock(), 0, need_pem)
    if not check.usable:
        raise InvalidInputError(f"the new token from JCentral is not usable: {check.detail}")
    if check.not_after is not None and check.not_after - ctx.clock() < min_valid:
        from jenv.lite.timefmt import format_duration

        ctx.err(f"jenv: the new token is valid for {format_duration(check.not_after - ctx.clock())} only, less "
                f"than --min-valid ({format_duration(min_valid)})")
    return check


def replace_token(ctx: Context, locs: Locations, store: TokenStore, request: Optional["TokenRequest"],
                  passphrase: Optional[Callable[[], bytearray]] = None) -> "TokenPair":
    """token-init (and ``jenv agent``, with the ``passphrase`` it keeps): a new token from JCentral, checked,
    then written over the token files under the lock.

    An unsafe token location is refused before JCentral is asked.
    """
    check_writable(store)
    pair = fetch_checked_token(ctx, locs, request, passphrase, replacing=True)
    with lock_store(store, lock_wait(ctx)) as lock:
        write_token_pair(lock, pair.cert_pem, pair.key_pem)
    return pair
