"""Token commands: token, token-init (alien-token-init), token-destroy, user, prompt.

Each reads its options into a record (:func:`jenv.lite.record.options_record`), calls the workflow
(:mod:`jenv.tokens.inuse` for the token in use, :mod:`jenv.tokens.obtain` for a new one) and prints
through :func:`jenv.shells.render_token_exports`.  ``jenv token`` and ``jenv prompt`` run in login shells (their login
forms, :mod:`jenv.login`): on a valid token they import neither the network stack nor ``cryptography``.
"""

from __future__ import annotations

from jenv.context import Context
from jenv.durations import DEFAULT_MIN_VALID, parse_duration
from jenv.errors import ExitCode, InvalidInputError, UsageError
from jenv.lite.record import Option, options_record
from jenv.locations import JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY
from jenv.tokens.check import TokenState, TokenStore, check_token, token_store

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path runs cmd_token and cmd_prompt from here: light imports only
    from typing import List, Optional

    from jenv.jcentral.protocol import TokenPair, TokenRequest

__all__ = ["cmd_token", "token_login_form", "cmd_prompt", "cmd_token_init", "cmd_token_destroy", "cmd_user",
           "TokenOptions", "PromptOptions", "TokenInitOptions", "UserOptions", "CHECK_EXIT_CODES"]

#: ``jenv token --check``: the exit code of each verdict (an unsafe or unreadable file is an error instead).
CHECK_EXIT_CODES = {
    TokenState.VALID: ExitCode.OK,
    TokenState.EXPIRING: ExitCode.NOT_VALID_NOW,
    TokenState.EXPIRED: ExitCode.NOT_VALID_NOW,
    TokenState.NOT_YET_VALID: ExitCode.NOT_VALID_NOW,
    TokenState.MISSING: ExitCode.NOT_FOUND,
    TokenState.MISMATCH: ExitCode.KEY_MISMATCH,
    TokenState.BROKEN: ExitCode.INVALID,
}

#: The options that ask JCentral for a particular token (``-u -v -t --jobid --hostname -f``).
_REQUEST = {
    "username": Option("-u"),
    "validity": Option("-v"),
    "token_type": Option("-t"),
    "jobid": Option("--jobid"),
    "hostname": Option("--hostname"),
    "force": Option("-f", False),
}
_MIN_VALID = Option("--min-valid", DEFAULT_MIN_VALID, parse_duration)
_OUTPUT = {"json": Option("--json", False), "shell": Option("--shell")}

#: ``jenv token``'s options.
TokenOptions = options_record("TokenOptions", dict(
    _REQUEST, check=Option("--check", False), content=Option("--content", False), min_valid=_MIN_VALID,
    with_ca=Option("--with-ca", False), **_OUTPUT))
#: ``jenv prompt``'s options.
PromptOptions = options_record("PromptOptions", {
    "format": Option("--format", "{left}"),
    "warn": Option("--warn", "1d", parse_duration),
    "min_valid": _MIN_VALID,
})
#: ``jenv token-init``'s options (``<username>`` is the tutorials' spelling of ``-u``).
TokenInitOptions = options_record("TokenInitOptions", dict(_REQUEST, positional_username=Option("<username>")))
#: ``jenv user``'s options.
UserOptions = options_record("UserOptions", dict(
    role=Option("<username>"), token_init=Option("token-init", False), validity=Option("-v"), **_OUTPUT))


def _request(opts, username: Optional[str] = None) -> Optional["TokenRequest"]:
    """The token options given on the command line, checked; None when there are none."""
    given = [username if username is not None else getattr(opts, "username", None), opts.validity,
             getattr(opts, "token_type", None), getattr(opts, "jobid", None), getattr(opts, "hostname", None)]
    force = bool(getattr(opts, "force", False))
    if all(value is None for value in given) and not force:
        return None
    from jenv.jcentral.protocol import TokenRequest

    return TokenRequest.from_options(*given, force).validate()


#: The options shown in the command line that :func:`keep_the_key_off_the_terminal` repeats.
_CONTENT_OPTIONS = ("-u", "-v", "-t", "--jobid", "--hostname", "-f", "--content", "--with-ca", "--json", "--shell")


def _typed(command: str, opts) -> List[str]:
    """The command line as typed (``command``: its name and positional words), its options from ``opts``."""
    from jenv.shells.posix import posix_quote

    given = {option.name: getattr(opts, field) for field, option in type(opts).OPTIONS.items()}
    words = [f"jenv {command}"]
    for name in _CONTENT_OPTIONS:
        value = given.get(name)
        if value:
            words.append(name if value is True else f"{name} {posix_quote(str(value))}")
    return words


def _say_validity(ctx: Context, request: Optional["TokenRequest"]) -> None:
    """Once a token came: what JCentral did silently with ``-v`` (:func:`jenv.jcentral.rules.granted_days`)."""
    from jenv.jcentral.rules import granted_days

    if request is not None and request.validity_days is not None:
        unsaid = granted_days(request.token_type, request.validity_days, None).unsaid
        if unsaid:
            ctx.err(f"jenv: {unsaid}")


def _positional_username(opts: TokenInitOptions, ctx: Context) -> Optional[str]:
    """``token-init <username>``, as the ALICE tutorials write it, is ``-u <username>``."""
    name = opts.positional_username
    if name is None:
        return None
    if opts.username is not None and opts.username != name:
        raise UsageError(f"token-init {name} -u {opts.username}: give the user name once, as <username> or -u")
    ctx.err(f"jenv: token-init {name}: asking for -u {name}")
    return name


def _show_token_info(ctx: Context, store: TokenStore, pair: "TokenPair") -> None:
    """token-info of the new token, on stderr (for humans; stdout stays for machines)."""
    from jenv.pem import cert_info, parse_certificate
    from jenv.report.render import render_cert_info

    cert = pair.cert if pair.cert is not None else \
        parse_certificate(pair.cert_pem.encode("ascii", "replace"), "token certificate")
    info = cert_info(cert)
    ctx.err(render_cert_info(info, store.cert, ctx.now()).rstrip("\n"))


def cmd_token(args, ctx: Context) -> int:
    """Make sure a valid token exists and print exports for the shell: eval "$(jenv token)".

    Usage:
      jenv token [-u <username>] [-v <days>] [-t <tokentype>] [--jobid=<id>] [--hostname=<fqdn>] [-f]
                 [--content] [--min-valid=<duration>] [--with-ca] [--json] [--shell=<name>]
      jenv token --check [--min-valid=<duration>]

    Options:
      --min-valid=<duration>  Renew when the token expires sooner: 600, 10m, 2h, 1d [default: 10m].
      --check                 Print nothing, change nothing: exit 0 when the token is valid for the
                              minimum time, 5 when it expires sooner (or has expired), 3 when missing.
      --with-ca               Also export the CA store jenv uses (X509_CERT_DIR or X509_CERT_FILE).
      --content               Print-only: get a fresh token and export its PEM content.
      --json                  Print {"results": [{"tokencert": ..., "tokenkey": ...}]}.
      --shell=<name>          Shell syntax: sh bash zsh ksh dash fish tcsh csh, or json (as --json).
      -u <username>           Switch to another role of yours.
      -v <days>               Validity in days (default depends on the token type).
      -t <tokentype>          One of: job, jobagent, host, user (default).
      --jobid=<id>            Job DN extension (job token; also -jobid).
      --hostname=<fqdn>       Host name (host token; also -hostname).
      -f                      Host token even when the host name does not resolve.
    Any of -u, -v, -t, -jobid, -hostname, -f makes the token print-only, like --content.

    With no token options, the token files are reused while valid for the
    minimum time, else created through JCentral, and their paths exported.
    With token options or --content the files are not touched: a fresh token
    is printed with its PEM content.  Nothing is printed on failure.
    """
    from jenv.tokens.inuse import check_content_fits_the_shell, emit_token, keep_the_key_off_the_terminal, \
        renew_token

    opts = TokenOptions.from_args(args)
    code = _existing_token(opts, ctx)
    if code is not None:
        return code
    request = _request(opts)
    if request is None and not opts.content:
        return renew_token(ctx, opts.min_valid, opts.with_ca, _typed("token", opts))
    from jenv.tokens.obtain import fetch_checked_token

    keep_the_key_off_the_terminal(ctx, _typed("token", opts))  # what is printed is the content
    check_content_fits_the_shell(ctx)
    locs, _store = token_store(ctx)
    pair = fetch_checked_token(ctx, locs, request)
    _say_validity(ctx, request)
    emit_token(ctx, pair.cert_pem, pair.key_pem, opts.with_ca)
    return ExitCode.OK


def _existing_token(opts: TokenOptions, ctx: Context) -> Optional[int]:
    """``jenv token`` as far as the existing token answers it: ``--check``'s exit code, or the exports of a
    usable token; None when a new token is needed (or asked for with token options or --content)."""
    if opts.check:  # nothing printed, nothing changed
        _locs, store = token_store(ctx)
        return CHECK_EXIT_CODES[check_token(store, ctx.clock(), opts.min_valid).state]
    if opts.content or _request(opts) is not None:
        return None
    from jenv.tokens.inuse import use_existing_token

    return use_existing_token(ctx, opts.min_valid, opts.with_ca, _typed("token", opts))


def token_login_form(args, ctx: Context) -> Optional[int]:
    """``jenv token``'s login form (:mod:`jenv.login`): :func:`_existing_token`, None handing over to the
    full front end."""
    return _existing_token(TokenOptions.from_args(args), ctx)


#: What ``jenv prompt`` shows for a token that is not valid ("token?" for any other state).
_PROMPT_SEGMENTS = {TokenState.MISSING: "no token", TokenState.EXPIRING: "expiring", TokenState.EXPIRED: "expired"}


def cmd_prompt(args, ctx: Context) -> int:
    """Print a short token segment for a shell prompt, starship or tmux (offline, fast).

    Usage:
      jenv prompt [--format=<text>] [--warn=<duration>] [--min-valid=<duration>]

    Options:
      --format=<text>         What to print; {left} is the time left, {state} the token's state
                              [default: {left}].
      --warn=<duration>       Mark the segment with "!" when less than this is left [default: 1d].
      --min-valid=<duration>  Below this the token counts as expiring, as in "jenv token" [default: 10m].

    Prints, without a newline: the time left ("5d 3h") while the token is
    valid, "!2h" when less than --warn is left, "expiring", "expired",
    "no token", or "token?" when it is unusable.  Exits 0 whatever the token
    (a prompt must never fail); nothing is ever renewed or fetched.
    """
    from jenv.lite.timefmt import format_duration
    from jenv.tokens.inuse import update_fresh

    opts = PromptOptions.from_args(args)
    fmt = opts.format
    try:
        _locs, store = token_store(ctx)
        check = check_token(store, ctx.clock(), opts.min_valid)
    except Exception:  # noqa: BLE001 - an unsafe or unreadable file: the prompt says so, never a traceback
        state, left = "unusable", "token?"
    else:
        update_fresh(ctx, store, check, opts.min_valid)  # a prompt function in the shell goes on without jenv
        state = check.state
        remaining = (check.not_after or 0) - ctx.clock()
        if check.state is TokenState.VALID:
            left = ("!" if remaining < opts.warn else "") + format_duration(remaining)
        else:
            left = _PROMPT_SEGMENTS.get(check.state, "token?")
    try:
        text = fmt.format(left=left, state=state)
    except (KeyError, IndexError, ValueError):
        raise UsageError(f"--format {fmt!r}: use {{left}} and {{state}} only (write {{{{ and }}}} for braces)") \
            from None
    ctx.stdout.write(text)
    return ExitCode.OK


def _token_init(ctx: Context, request: Optional["TokenRequest"]) -> int:
    locs, store = token_store(ctx)
    from jenv.locations import pair_origin_problem

    problem = pair_origin_problem(store.cert, store.key, store.uid)
    if problem is not None:
        raise InvalidInputError(problem)
    if not store.in_files:
        raise UsageError("JALIEN_TOKEN_CERT/KEY hold PEM content, so there are no token files to write: "
                         "unset them, or use 'jenv token --content'")
    from jenv.tokens.obtain import replace_token

    pair = replace_token(ctx, locs, store, request)
    _say_validity(ctx, request)
    _show_token_info(ctx, store, pair)
    return ExitCode.OK


def cmd_token_init(args, ctx: Context) -> int:
    """Create a new token from the user certificate and write it to the token files.

    Usage:
      jenv token-init [<username>] [-u <username>] [-v <days>] [-t <tokentype>] [--jobid=<id>]
                      [--hostname=<fqdn>] [-f]

    INFO: token is automatically created, use this for token customization
    Options:
        -u <username>          :  switch to another role of yours
        -v <validity (days)>   :  default depends on token type
        -t <tokentype>         :  can be one of: job, jobagent, host, user (default)
        -jobid <job DN extension>  :  expected to be present in a job token
        -hostname <FQDN>       :  required for a host certificate
        -f                     :  host token even when the host name does not resolve

    "token-init <username>" (the tutorials' "alien-token-init <username>") is
    "token-init -u <username>".  The token goes to JALIEN_TOKEN_CERT/KEY or
    ${TMPDIR:-/tmp}/token{cert,key}_$UID.pem; its details are printed on stderr.
    Exits non-zero when JCentral refuses.
    """
    opts = TokenInitOptions.from_args(args)
    return _token_init(ctx, _request(opts, _positional_username(opts, ctx)))


def cmd_token_destroy(args, ctx: Context) -> int:
    """Remove the token files and print the lines that unset the token variables.

    Usage:
      jenv token-destroy [--json] [--shell=<name>]

    Options:
      --json          Print {"results": [{"tokencert": null, "tokenkey": null, "removed": [...]}]}.
      --shell=<name>  Shell syntax: sh bash zsh ksh dash fish tcsh csh, or json (as --json).

    Only regular files of your own are removed.
    """
    _locs, store = token_store(ctx)
    removed = []
    if store.in_files:
        from jenv.tokens.obtain import lock_wait
        from jenv.tokens.store import destroy_token_pair, lock_store

        with lock_store(store, lock_wait(ctx)) as lock:
            removed = destroy_token_pair(lock)
    ctx.err("jenv: " + ("removed " + " and ".join(removed) if removed else _nothing_removed(ctx, store)))
    from jenv.shells import render_token_unset
    from jenv.tokens.inuse import output_shell

    ctx.out(render_token_unset(output_shell(ctx), removed))
    return ExitCode.OK


def _nothing_removed(ctx: Context, store: TokenStore) -> str:
    """What token-destroy says when it removed nothing.  When the variables hold PEM content
    (``eval "$(jenv user <role>)"``): the lines it prints unset them, and token files at the default
    names stay, with how to remove them."""
    names = " and ".join(loc.variable for loc in (store.cert, store.key) if loc.pem is not None)
    if not names:
        return "no token files to remove"
    import os

    from jenv.locations import resolve_locations

    said = f"the lines printed unset {JALIEN_TOKEN_CERT} and {JALIEN_TOKEN_KEY} ({names} held a token as PEM " \
           "content, as 'jenv user <role>' exports it; no file to remove)"
    without = {k: v for k, v in ctx.environ.items() if k not in (JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY)}
    defaults = resolve_locations(without, ctx.uid, ctx.home)
    left = [loc.path for loc in (defaults.token_cert, defaults.token_key) if loc.path and os.path.lexists(loc.path)]
    if left:
        said += (f"; the token files {' and '.join(left)} remain: once the lines are evaluated "
                 "(eval \"$(jenv token-destroy)\"), run 'jenv token-destroy' again to remove them")
    return said


def cmd_user(args, ctx: Context) -> int:
    """Change role: a token for another of your roles (like su <username>).

    Usage:
      jenv user <username> [token-init] [-v <days>] [--json] [--shell=<name>]

    Options:
      -v <days>       Validity in days (default depends on the token type).
      --json          Print {"results": [{"tokencert": ..., "tokenkey": ...}]}.
      --shell=<name>  Shell syntax: sh bash zsh ksh dash fish tcsh csh, or json (as --json).

    "jenv user <username>" prints exports holding the PEM content of a token
    for that role, for the current shell only; the token files are untouched.
    "jenv user <username> token-init" writes the token files with that role,
    for prolonged use.
    """
    opts = UserOptions.from_args(args)
    request = _request(opts, username=opts.role)
    if opts.token_init:
        return _token_init(ctx, request)
    from jenv.shells.posix import posix_quote
    from jenv.tokens.inuse import check_content_fits_the_shell, emit_token, keep_the_key_off_the_terminal
    from jenv.tokens.obtain import fetch_checked_token

    locs, _store_unused = token_store(ctx)
    check_content_fits_the_shell(ctx, opts.role)
    keep_the_key_off_the_terminal(ctx, _typed(f"user {posix_quote(opts.role)}", opts))
    pair = fetch_checked_token(ctx, locs, request)
    _say_validity(ctx, request)
    emit_token(ctx, pair.cert_pem, pair.key_pem)
    return ExitCode.OK
