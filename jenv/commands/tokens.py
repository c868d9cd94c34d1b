"""Token commands: token, token-init (alien-token-init), token-destroy, user.

``jenv token`` runs in login shells: on a valid token it reads two small
files and prints two lines, importing neither the network stack nor
``cryptography``.  On any failure stdout stays empty (so ``eval`` does
nothing), one line goes to stderr and the previous token is left intact.
"""

from __future__ import annotations

from jenv.context import Context
from jenv.errors import ExitCode, InvalidInputError, UsageError
from jenv.durations import parse_duration
from jenv.locations import JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY
from jenv.tokens.check import TokenCheck, TokenState, TokenStore, check_token, token_store

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path runs cmd_token and cmd_prompt from here: light imports only
    from typing import Optional

    from jenv.jcentral.protocol import TokenPair, TokenRequest

__all__ = ["cmd_token", "use_existing_token", "cmd_prompt", "cmd_token_init", "cmd_token_destroy", "cmd_user", "parse_duration",
           "DEFAULT_MIN_VALID", "CHECK_EXIT_CODES", "render_token_exports", "token_json"]

DEFAULT_MIN_VALID = "10m"


def _request(args, username: Optional[str] = None) -> Optional["TokenRequest"]:
    """The token options given on the command line, checked; None when there are none."""
    given = {name: args.get(name) for name in ("-u", "-v", "-t", "--jobid", "--hostname")}
    if username is not None:
        given["-u"] = username
    force = bool(args.get("-f"))
    if all(value is None for value in given.values()) and not force:
        return None
    from jenv.jcentral.protocol import TokenRequest

    return TokenRequest.from_options(given["-u"], given["-v"], given["-t"], given["--jobid"],
                                     given["--hostname"], force).validate()


def _say_validity(ctx: Context, request: Optional["TokenRequest"]) -> None:
    """Once a token came: what JCentral did silently with ``-v`` (GetTokenCertificate.java): 0 or less
    gives 2 days, and nobody gets more than 400."""
    from jenv.jcentral.rules import ADMIN_MAX_DAYS, NON_POSITIVE_DAYS

    days = request.validity_days if request is not None else None
    if days is not None and days <= 0:
        ctx.err(f"jenv: -v {days}: JCentral gives {NON_POSITIVE_DAYS} days for a validity of 0 or less")
    elif days is not None and days > ADMIN_MAX_DAYS:
        ctx.err(f"jenv: -v {days}: JCentral gives at most {ADMIN_MAX_DAYS} days, and that only to admins "
                "(others get the token type's maximum); it caps an admin's request without saying so")


def _positional_username(args, ctx: Context) -> Optional[str]:
    """``token-init <username>``, as the ALICE tutorials write it, is ``-u <username>``."""
    name = args.get("<username>")
    if name is None:
        return None
    if args.get("-u") is not None and args["-u"] != name:
        raise UsageError(f"token-init {name} -u {args['-u']}: give the user name once, as <username> or -u")
    ctx.err(f"jenv: token-init {name}: asking for -u {name}")
    return name


def _check_content_fits_the_shell(ctx: Context, role: Optional[str] = None) -> None:
    """Before asking JCentral for a token to print as content: can the target shell carry PEM text?
    (csh and tcsh cannot hold a newline in a variable.)  The same rule and message as the export, and
    for ``jenv user <role>`` the form that works in every shell: token files for that role."""
    if ctx.json:
        return
    from jenv.shells import emitter_for, pick_shell

    shell = pick_shell(ctx.shell, ctx.environ).name
    try:
        emitter_for(shell).check_value(JALIEN_TOKEN_KEY, "-----BEGIN RSA PRIVATE KEY-----\n", shell)
    except InvalidInputError as exc:
        if role is None:
            raise
        import shlex

        raise InvalidInputError(f"{exc}; or write the token files with that role: "
                                f"jenv user {shlex.quote(role)} token-init") from None


#: The options shown in the command line that :func:`_keep_the_key_off_the_terminal` suggests.
_CONTENT_OPTIONS = ("-u", "-v", "-t", "--jobid", "--hostname", "-f", "--content", "--with-ca", "--json", "--shell")


def _keep_the_key_off_the_terminal(ctx: Context, command: str, args) -> None:
    """A command about to print a token's private key (content for ``eval``) refuses a terminal as stdout:
    typed without ``eval``, the key would be on the screen and in its scrollback.  One line saying how
    to use it instead, exit 2, before JCentral is asked.  ``command``: the command's name and
    positional words; the options given are read from ``args``."""
    try:
        on_a_terminal = ctx.stdout.isatty()
    except (AttributeError, ValueError):  # a stream without a descriptor is not a terminal
        return
    if not on_a_terminal:
        return
    from jenv.shells import pick_shell
    from jenv.shells.posix import posix_quote

    _check_content_fits_the_shell(ctx)  # csh and tcsh cannot take the content at all: that message first
    words = [f"jenv {command}"]
    for name in _CONTENT_OPTIONS:
        value = args.get(name)
        if value:
            words.append(name if value is True else f"{name} {posix_quote(str(value))}")
    if ctx.json and "--json" not in words:
        words.append("--json")
    typed = " ".join(words)
    shell = "json" if ctx.json else pick_shell(ctx.shell, ctx.environ).name
    how = {"json": f"pipe it to the program that reads it ({typed} | ...)",
           "fish": f"{typed} | source"}.get(shell, f'eval "$({typed})"')
    raise UsageError(f"{typed} prints a token's private key, which is not shown on a terminal: run {how}")


def token_json(cert: Optional[str], key: Optional[str], **extra) -> str:
    """The one JSON shape of token exports, the reference documentation's (null: none)."""
    import json

    from jenv.lite.schema import document

    return json.dumps(document("token", {"results": [dict({"tokencert": cert, "tokenkey": key}, **extra)]}))


def render_token_exports(ctx: Context, cert: str, key: str, with_ca: bool = False) -> str:
    """The token's exports for the shell, or the reference document's JSON with --json / --shell json
    (every command that prints a token's exports says it this way); ``with_ca`` adds X509_CERT_DIR or
    X509_CERT_FILE for the CA store jenv uses.  Raises what render_exports raises for a value the shell
    cannot carry."""
    from jenv.shells import pick_shell, render_exports

    shell = "json" if ctx.json else pick_shell(ctx.shell, ctx.environ).name
    if shell == "json":
        return token_json(cert, key)
    exports = {JALIEN_TOKEN_CERT: cert, JALIEN_TOKEN_KEY: key}
    if with_ca:
        from jenv.tokens.handoff import ca_exports

        exports.update(ca_exports(ctx))
    return render_exports(shell, exports).rstrip("\n")


def _emit(ctx: Context, cert: str, key: str, with_ca: bool = False) -> None:
    """Print the token's exports (:func:`render_token_exports`), then the user certificate's expiry notice."""
    ctx.out(render_token_exports(ctx, cert, key, with_ca))
    from jenv.tokens.expiry import warn_user_cert_expiry

    warn_user_cert_expiry(ctx.environ, ctx.home, ctx.clock(), ctx.err, ctx.uid)  # stderr, at most once a day


def _show_token_info(ctx: Context, store: TokenStore, pair: "TokenPair") -> None:
    """token-info of the new token, on stderr (for humans; stdout stays for machines)."""
    from jenv.pem import cert_info, parse_certificate
    from jenv.report.render import render_cert_info

    cert = pair.cert if pair.cert is not None else \
        parse_certificate(pair.cert_pem.encode("ascii", "replace"), "token certificate")
    info = cert_info(cert)
    ctx.err(render_cert_info(info, store.cert, ctx.now()).rstrip("\n"))


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
    code = use_existing_token(args, ctx)
    if code is not None:
        return code
    min_valid = parse_duration(args.get("--min-valid") or DEFAULT_MIN_VALID)
    locs, store = token_store(ctx)
    with_ca = bool(args.get("--with-ca"))
    request = _request(args)
    if request is not None or args.get("--content") or not store.in_files:  # what is printed is the content
        _keep_the_key_off_the_terminal(ctx, "token", args)
    if request is None and not args.get("--content") and store.in_files:
        from jenv.tokens.obtain import ensure_token

        ensure_token(ctx, locs, store, min_valid)
        _emit(ctx, store.cert.path or "", store.key.path or "", with_ca)
        return ExitCode.OK
    from jenv.tokens.obtain import fetch_checked_token

    _check_content_fits_the_shell(ctx)
    pair = fetch_checked_token(ctx, locs, request)
    _say_validity(ctx, request)
    _emit(ctx, pair.cert_pem, pair.key_pem, with_ca)
    return ExitCode.OK


def use_existing_token(args, ctx: Context) -> Optional[int]:
    """``jenv token`` as far as the existing token answers it (the login form, :mod:`jenv.login`):
    ``--check``'s exit code, or the exports of a usable token; None when a new token is needed (or asked
    for with token options or --content)."""
    min_valid = parse_duration(args.get("--min-valid") or DEFAULT_MIN_VALID)
    _locs, store = token_store(ctx)
    if args.get("--check"):
        return CHECK_EXIT_CODES[check_token(store, ctx.clock(), min_valid).state]
    if args.get("--content") or _request(args) is not None:
        return None
    check = check_token(store, ctx.clock(), min_valid)
    _update_fresh(ctx, store, check, args)
    if not check.usable:
        return None
    with_ca = bool(args.get("--with-ca"))
    if store.in_files:
        _emit(ctx, store.cert.path or "", store.key.path or "", with_ca)
    else:  # PEM content: check_token read it
        assert check.cert_pem is not None and check.key_pem is not None
        _keep_the_key_off_the_terminal(ctx, "token", args)
        _emit(ctx, check.cert_pem.decode("ascii"), check.key_pem.decode("ascii"), with_ca)
    return ExitCode.OK


def _update_fresh(ctx: Context, store: TokenStore, check: "TokenCheck", args) -> None:
    """Keep the line that lets the shell files (jenv/data/shell/login.sh) export this token and show its
    prompt segment without starting jenv (:mod:`jenv.tokens.fresh`): left while the token is valid for the
    default minimum (and the user certificate needs no notice), removed when the token is not usable, so
    the shells never go on taking it for fresh (a same-mtime copy, say).  Token files only.  First, whatever
    the token, a line that another user could read or write is removed (most shells cannot see modes)."""
    from jenv.tokens.fresh import forget_fresh, forget_open_fresh, note_fresh

    forget_open_fresh(ctx.home, ctx.uid)
    if not store.in_files:
        return

    if args.get("--min-valid"):  # another minimum: an expiring token may still be fresh for the shells
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
    note_fresh(store, ctx.home, parse_duration(DEFAULT_MIN_VALID), user_not_after, ctx.clock())


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

    fmt = args.get("--format") or "{left}"
    warn = parse_duration(args.get("--warn") or "1d", "--warn")
    min_valid = parse_duration(args.get("--min-valid") or DEFAULT_MIN_VALID)
    try:
        _locs, store = token_store(ctx)
        check = check_token(store, ctx.clock(), min_valid)
    except Exception:  # noqa: BLE001 - an unsafe or unreadable file: the prompt says so, never a traceback
        state, left = "unusable", "token?"
    else:
        _update_fresh(ctx, store, check, args)  # a prompt function in the shell goes on without jenv
        state = check.state
        remaining = (check.not_after or 0) - ctx.clock()
        if check.state is TokenState.VALID:
            left = ("!" if remaining < warn else "") + format_duration(remaining)
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
    return _token_init(ctx, _request(args, _positional_username(args, ctx)))


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
    from jenv.shells import pick_shell, render_exports

    shell = "json" if ctx.json else pick_shell(ctx.shell, ctx.environ).name
    if shell == "json":
        ctx.out(token_json(None, None, removed=removed))
    else:
        ctx.out(render_exports(shell, {JALIEN_TOKEN_CERT: None, JALIEN_TOKEN_KEY: None}).rstrip("\n"))
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
    request = _request(args, username=args["<username>"])
    if args.get("token-init"):
        return _token_init(ctx, request)
    from jenv.shells.posix import posix_quote
    from jenv.tokens.obtain import fetch_checked_token

    locs, _store_unused = token_store(ctx)
    _check_content_fits_the_shell(ctx, args["<username>"])
    _keep_the_key_off_the_terminal(ctx, f"user {posix_quote(args['<username>'])}", args)
    pair = fetch_checked_token(ctx, locs, request)
    _say_validity(ctx, request)
    _emit(ctx, pair.cert_pem, pair.key_pem)
    return ExitCode.OK
