"""Offline inspection commands: cert-info, token-info, certkey-match, tokenkey-match, status.

The details are what the user asked for, so they go to stdout (text or
JSON); a certificate that is not valid now is still shown, and then reported
on stderr with its own exit code.
"""

from __future__ import annotations

from typing import Tuple

from jenv.context import Context
from jenv.credentials import load_certificate, load_private_key
from jenv.errors import ExitCode, InvalidInputError, KeyMismatchError, NotValidNowError
from jenv.locations import Location, Locations, resolve_locations
from jenv.report.render import key_match_dict, render_cert_info, render_key_match, render_status, validity_problem
from jenv.report.status import gather_status

# The token is read by the one reader (jenv.tokens.check), which token-info and tokenkey-match share with
# 'jenv token': a file jenv token refuses is refused here too, with the same message and exit code.

__all__ = ["cmd_cert_info", "cmd_token_info", "cmd_certkey_match", "cmd_tokenkey_match", "cmd_status",
           "show_cert_info"]


def _locations(ctx: Context) -> Locations:
    return resolve_locations(ctx.environ, ctx.uid, ctx.home)


def _unusable_pair(check) -> None:
    """After the certificate was shown: the pair's own problem, if any, as its exit code."""
    from jenv.tokens.check import TokenState

    if check.state is TokenState.MISMATCH:
        raise KeyMismatchError(f"{check.detail}: run 'jenv token-init' for a new token")
    if check.state is TokenState.BROKEN:
        raise InvalidInputError(f"{check.detail}: run 'jenv token-init' for a new token")


def show_cert_info(ctx: Context, loc: Location, cert=None) -> int:
    """Print a certificate's details on stdout; raise NotValidNowError after printing if expired/not yet valid.

    Raises NotFoundError, UnsafeFileError or InvalidInputError (nothing printed) when it cannot be read.
    """
    from jenv.pem import cert_info

    info = cert_info(cert if cert is not None else load_certificate(loc))
    now = ctx.now()
    ctx.report(render_cert_info(info, loc, now, ctx.json), ctx.json)
    problem = validity_problem(info, loc, now)
    if problem:
        raise NotValidNowError(problem)
    if loc.what == "user certificate":
        from jenv.tokens.expiry import expiry_message

        notice = expiry_message(int(info.not_after.timestamp()), now.timestamp(), loc.describe())
        if notice:
            ctx.err(f"jenv: {notice}")
    return ExitCode.OK


def _match(ctx: Context, cert_loc: Location, key_loc: Location, token: bool = False) -> int:
    from jenv.pem import key_description, key_matches, parse_certificate, parse_private_key

    if token:  # the one reader, and the pair judged as a TLS client loads it
        from jenv.tokens.check import read_token, token_store

        store = token_store(ctx)[1]
        check = read_token(store, ctx.clock(), need_key=True)
        cert = parse_certificate(check.cert_pem, cert_loc.describe())
        key = parse_private_key(check.key_pem, key_loc.describe())
        matches = check.verdict.pair == "usable"
    else:
        cert = load_certificate(cert_loc)
        key = load_private_key(key_loc)
        matches = key_matches(cert, key)
    key_type, key_bits = key_description(key.public_key())
    ctx.report(render_key_match(key_match_dict(cert_loc, key_loc, key_type, key_bits, matches), ctx.json), ctx.json)
    if not matches:
        raise KeyMismatchError(f"{key_loc.describe()} does not belong to {cert_loc.describe()}: "
                               "use the key that was made with this certificate")
    return ExitCode.OK


def cmd_cert_info(args, ctx: Context) -> int:
    """Print details of the user certificate (X509_USER_CERT or ~/.globus/usercert.pem).

    Usage:
      jenv cert-info [--json]

    Options:
      --json  Print JSON.

    Exit 0 when the certificate is valid now, 5 (after printing) when it is
    expired or not yet valid, 3 missing or unreadable, 4 not a certificate,
    8 not a regular file.
    """
    return show_cert_info(ctx, _locations(ctx).user_cert)


def cmd_token_info(args, ctx: Context) -> int:
    """Print details of the token certificate (JALIEN_TOKEN_CERT or ${TMPDIR:-/tmp}/tokencert_$UID.pem).

    Usage:
      jenv token-info [--json]

    Options:
      --json  Print JSON.

    JALIEN_TOKEN_CERT may hold a path or the PEM content itself.  Exit codes
    as for cert-info.
    """
    from jenv.pem import parse_certificate
    from jenv.tokens.check import read_token, token_store

    store = token_store(ctx)[1]
    check = read_token(store, ctx.clock())
    try:
        code = show_cert_info(ctx, store.cert, parse_certificate(check.cert_pem, store.cert.describe()))
    except NotValidNowError:
        _unusable_pair(check)  # an unusable pair is the first problem, as for 'jenv token --check'
        raise
    _unusable_pair(check)
    return code


def cmd_certkey_match(args, ctx: Context) -> int:
    """Check that the user key belongs to the user certificate.

    Usage:
      jenv certkey-match [--json]

    Options:
      --json  Print JSON.

    An encrypted key asks for its passphrase on the terminal.  Exit 0 when
    they match, 7 when not, 11 when the passphrase is wrong or there is no
    terminal to ask on.
    """
    locs = _locations(ctx)
    return _match(ctx, locs.user_cert, locs.user_key)


def cmd_tokenkey_match(args, ctx: Context) -> int:
    """Check that the token key belongs to the token certificate.

    Usage:
      jenv tokenkey-match [--json]

    Options:
      --json  Print JSON.

    Exit codes as for certkey-match.
    """
    locs = _locations(ctx)
    return _match(ctx, locs.token_cert, locs.token_key, token=True)


def _detect_shell(ctx: Context) -> Tuple[str, str]:
    try:
        from jenv.shells import pick_shell
    except ImportError:
        return "unknown", "shell detection not available"
    choice = pick_shell(ctx.shell, ctx.environ)
    return choice.name, choice.how


def cmd_status(args, ctx: Context) -> int:
    """Show where each credential comes from and whether jenv can use it (offline).

    Usage:
      jenv status [--json]

    Options:
      --json  Print JSON.

    Checks the user certificate and key, the token certificate and key, the
    CA store, the JCentral endpoint and the shell.  Exit 0 when a valid token
    exists or can be made; otherwise the exit code of the first problem, each
    problem on its own stderr line with its fix.
    """
    status = gather_status(ctx.environ, ctx.uid, ctx.home, ctx.now(), _detect_shell(ctx))
    ctx.report(render_status(status, ctx.json), ctx.json)
    for problem in status.problems:
        ctx.err(f"jenv: {problem.message}")
    return int(status.exit_code)
