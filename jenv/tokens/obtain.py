"""The workflow that obtains a token: ask JCentral, check what came back, write it under the lock.

``ensure_token`` is what ``jenv token`` runs on every login: a valid token
costs two small file reads (nothing here imports ``cryptography`` or the
network stack until a token must really be fetched).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from jenv.context import Context
from jenv.errors import InvalidInputError
from jenv.locations import Locations, resolve_timeout
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


def fetch_checked_token(ctx: Context, locs: Locations, request: Optional["TokenRequest"]) -> "TokenPair":
    """A fresh token from JCentral, authenticated with the user certificate (may ask for a passphrase),
    and checked to be a token for ``request`` (:mod:`jenv.tokens.vet`) before anyone writes it."""
    from jenv.jcentral.client import ClientIdentity, fetch_token
    from jenv.locations import resolve_ca_store, resolve_endpoint
    from jenv.jcentral.protocol import TokenRequest
    from jenv.tokens.vet import vet_token

    try:
        endpoint = resolve_endpoint(ctx.environ)
    except ValueError as exc:
        raise InvalidInputError(f"{exc}: set it to JCentral's port, or unset it") from None
    store = resolve_ca_store(ctx.environ, ctx.home)
    request = request or TokenRequest()
    pair = fetch_token(endpoint, ClientIdentity(locs.user_cert, locs.user_key), store, network_timeout(ctx),
                       request, lambda text: ctx.err(f"jenv: JCentral: {text}"))
    vet_token(pair, request, store)
    _say_if_shortened(ctx, locs, request, pair)
    return pair


def _say_if_shortened(ctx: Context, locs: Locations, request: "TokenRequest", pair: "TokenPair") -> None:
    """One stderr line when the token ends with the user certificate, sooner than asked (JCentral's cap)."""
    from jenv.jcentral.rules import MAX_VALIDITY_DAYS, NON_POSITIVE_DAYS
    from jenv.lite.der import cert_validity
    from jenv.tokens.expiry import shortened_token_message, user_cert_not_after

    dates = cert_validity(pair.cert_pem.encode("ascii", "replace"))
    if dates is None or locs.user_cert.path is None:
        return
    longest = MAX_VALIDITY_DAYS.get(request.token_type, 0)
    asked = request.validity_days
    days = longest if asked is None else NON_POSITIVE_DAYS if asked <= 0 else min(asked, longest)
    message = shortened_token_message(dates[1], user_cert_not_after(locs.user_cert.path), days, ctx.clock())
    if message:
        ctx.err(f"jenv: {message}")


def lock_wait(ctx: Context) -> float:
    # Long enough for another jenv's whole JCentral exchange, short enough never to hang a login.
    return 2 * network_timeout(ctx) + 5


def ensure_token(ctx: Context, locs: Locations, store: TokenStore, min_valid: int) -> TokenCheck:
    """A token in the files valid for ``min_valid`` seconds: the existing one, or a new one from JCentral.

    Concurrent runs wait for the one holding the lock and then reuse its token.
    """
    check = check_token(store, ctx.clock(), min_valid)
    if check.usable:
        return check
    with lock_store(store, lock_wait(ctx)) as lock:
        repaired = recover_store(lock)
        if repaired:
            ctx.err(f"jenv: {repaired}")
        check = check_token(store, ctx.clock(), min_valid)  # another run may have just written it
        if check.usable:
            return check
        check_writable(store)
        pair = fetch_checked_token(ctx, locs, None)
        write_token_pair(lock, pair.cert_pem, pair.key_pem)
    check = check_token(store, ctx.clock(), 0)
    if not check.usable:
        raise InvalidInputError(f"the new token from JCentral is not usable: {check.detail}")
    if check.not_after is not None and check.not_after - ctx.clock() < min_valid:
        from jenv.lite.timefmt import format_duration

        ctx.err(f"jenv: the new token is valid for {format_duration(check.not_after - ctx.clock())} only, less "
                f"than --min-valid ({format_duration(min_valid)})")
    return check


def replace_token(ctx: Context, locs: Locations, store: TokenStore, request: Optional["TokenRequest"]) -> "TokenPair":
    """token-init: a new token from JCentral, checked, then written over the token files under the lock.

    An unsafe token location is refused before JCentral is asked.
    """
    check_writable(store)
    pair = fetch_checked_token(ctx, locs, request)
    with lock_store(store, lock_wait(ctx)) as lock:
        write_token_pair(lock, pair.cert_pem, pair.key_pem)
    return pair
