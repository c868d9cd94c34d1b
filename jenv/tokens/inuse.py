"""The token in use, for the commands that print it: reuse it while valid, else renew it, then print it.

``jenv token`` (its login form too), ``jenv hook``'s token step and ``jenv user`` share these steps;
what is printed is :func:`jenv.shells.render_token_exports`'s.  On a valid token nothing here imports the network stack
or ``cryptography`` (the login forms run it).  On any failure stdout stays empty, so ``eval`` does
nothing, and the previous token is left intact.
"""

from __future__ import annotations

from jenv.context import Context
from jenv.durations import DEFAULT_MIN_VALID, parse_duration
from jenv.errors import ExitCode, InvalidInputError, UsageError
from jenv.locations import JALIEN_TOKEN_KEY
from jenv.tokens.check import TokenCheck, TokenState, TokenStore, check_token, token_store

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login forms run this module: no typing at run time
    from typing import List, Optional

__all__ = ["use_existing_token", "renew_token", "emit_token",
           "output_shell", "keep_the_key_off_the_terminal", "check_content_fits_the_shell"]

def output_shell(ctx: Context) -> str:
    """The syntax the exports are printed in: "json" with --json, else --shell or the shell running jenv."""
    from jenv.shells import pick_shell

    return "json" if ctx.json else pick_shell(ctx.shell, ctx.environ).name


def emit_token(ctx: Context, cert: str, key: str, with_ca: bool = False) -> None:
    """Print the token's exports (:func:`jenv.shells.render_token_exports`; ``with_ca`` adds the CA
    store jenv uses), then the user certificate's expiry notice on stderr (at most once a day)."""
    from jenv.shells import render_token_exports

    extra = None
    if with_ca:
        from jenv.tokens.handoff import ca_exports

        extra = ca_exports(ctx)
    ctx.out(render_token_exports(output_shell(ctx), cert, key, extra))
    from jenv.tokens.expiry import warn_user_cert_expiry

    warn_user_cert_expiry(ctx.environ, ctx.home, ctx.clock(), ctx.err, ctx.uid)


def check_content_fits_the_shell(ctx: Context, role: Optional[str] = None) -> None:
    """Before asking JCentral for a token to print as content: can the target shell carry PEM text?
    (csh and tcsh cannot hold a newline in a variable.)  The same rule and message as the export, and
    for ``jenv user <role>`` the form that works in every shell: token files for that role."""
    if ctx.json:
        return
    from jenv.shells import emitter_for

    shell = output_shell(ctx)
    try:
        emitter_for(shell).check_value(JALIEN_TOKEN_KEY, "-----BEGIN RSA PRIVATE KEY-----\n", shell)
    except InvalidInputError as exc:
        if role is None:
            raise
        import shlex

        raise InvalidInputError(f"{exc}; or write the token files with that role: "
                                f"jenv user {shlex.quote(role)} token-init") from None


def keep_the_key_off_the_terminal(ctx: Context, typed: List[str]) -> None:
    """A command about to print a token's private key (content for ``eval``) refuses a terminal as stdout:
    typed without ``eval``, the key would be on the screen and in its scrollback.  One line saying how
    to use it instead, exit 2, before JCentral is asked.  ``typed``: the command line as typed
    (``["jenv token", "-f", ...]``)."""
    try:
        on_a_terminal = ctx.stdout.isatty()
    except (AttributeError, ValueError):  # a stream without a descriptor is not a terminal
        return
    if not on_a_terminal:
        return
    check_content_fits_the_shell(ctx)  # csh and tcsh cannot take the content at all: that message first
    words = list(typed)
    if ctx.json and "--json" not in words:
        words.append("--json")
    line = " ".join(words)
    how = {"json": f"pipe it to the program that reads it ({line} | ...)",
           "fish": f"{line} | source"}.get(output_shell(ctx), f'eval "$({line})"')
    raise UsageError(f"{line} prints a token's private key, which is not shown on a terminal: run {how}")


def use_existing_token(ctx: Context, min_valid: int, with_ca: bool, typed: List[str]) -> Optional[int]:
    """``jenv token`` as far as the existing token answers it: the exports of a token usable for
    ``min_valid`` seconds (exit 0), or None when a new token is needed.  ``typed``: the command line, for
    the refusal to print key content on a terminal."""
    _locs, store = token_store(ctx)
    check = check_token(store, ctx.clock(), min_valid)
    update_fresh(ctx, store, check, min_valid)
    if not check.usable:
        return None
    if store.in_files:
        emit_token(ctx, store.cert.path or "", store.key.path or "", with_ca)
    else:  # PEM content: check_token read it
        assert check.cert_pem is not None and check.key_pem is not None
        keep_the_key_off_the_terminal(ctx, typed)
        emit_token(ctx, check.cert_pem.decode("ascii"), check.key_pem.decode("ascii"), with_ca)
    return ExitCode.OK


def renew_token(ctx: Context, min_valid: int, with_ca: bool, typed: List[str]) -> int:
    """``jenv token`` without token options, when the existing token does not answer it: the token files
    valid for ``min_valid`` seconds (renewed through JCentral under the lock), or, with the token given as
    PEM content, a fresh token's content; then its exports."""
    locs, store = token_store(ctx)
    if store.in_files:
        from jenv.tokens.obtain import ensure_token

        ensure_token(ctx, locs, store, min_valid)
        emit_token(ctx, store.cert.path or "", store.key.path or "", with_ca)
        return ExitCode.OK
    from jenv.tokens.obtain import fetch_checked_token

    keep_the_key_off_the_terminal(ctx, typed)
    check_content_fits_the_shell(ctx)
    pair = fetch_checked_token(ctx, locs, None)
    emit_token(ctx, pair.cert_pem, pair.key_pem, with_ca)
    return ExitCode.OK


def update_fresh(ctx: Context, store: TokenStore, check: TokenCheck, min_valid: int) -> None:
    """Keep the line that lets the shell files (jenv/data/shell/login.sh) export this token and show its
    prompt segment without starting jenv (:mod:`jenv.tokens.fresh`): left while the token is valid for the
    default minimum (and the user certificate needs no notice), removed when the token is not usable, so
    the shells never go on taking it for fresh (a same-mtime copy, say).  Token files only.  First, whatever
    the token, a line that another user could read or write is removed (most shells cannot see modes)."""
    from jenv.tokens.fresh import forget_fresh, forget_open_fresh, note_fresh

    forget_open_fresh(ctx.home, ctx.uid)
    if not store.in_files:
        return

    default = parse_duration(DEFAULT_MIN_VALID)
    if min_valid != default:  # another minimum: an expiring token may still be fresh for the shells
        if check.state is not TokenState.EXPIRING and not check.usable:
            forget_fresh(ctx.home, ctx.uid)
        return
    if not check.usable:
        forget_fresh(ctx.home, ctx.uid)
        return
    from jenv.locations import lock_directories, resolve_locations
    from jenv.tokens.expiry import user_cert_not_after

    user_cert = resolve_locations(ctx.environ, ctx.uid, ctx.home).user_cert.path
    user_not_after = user_cert_not_after(user_cert, ctx.uid, lock_directories(ctx.environ, ctx.home)) \
        if user_cert else None
    note_fresh(store, ctx.home, default, user_not_after, ctx.clock())
