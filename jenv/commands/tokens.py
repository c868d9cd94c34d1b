"""Token commands: token, token-init (alien-token-init), token-destroy, user.

``jenv token`` runs in login shells: on a valid token it reads two small
files and prints two lines, importing neither the network stack nor
``cryptography``.  On any failure stdout stays empty (so ``eval`` does
nothing), one line goes to stderr and the previous token is left intact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from jenv.context import Context
from jenv.errors import ExitCode, UsageError
from jenv.locations import JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY, Locations, lock_directories, resolve_locations
from jenv.tokens.obtain import ensure_token, fetch_checked_token, lock_wait, replace_token
from jenv.tokens.expiry import warn_user_cert_expiry
from jenv.tokens.store import TokenStore, check_token, destroy_token_pair, lock_store

if TYPE_CHECKING:
    from jenv.jcentral.protocol import TokenPair, TokenRequest

__all__ = ["cmd_token", "cmd_token_init", "cmd_token_destroy", "cmd_user", "parse_duration", "DEFAULT_MIN_VALID"]

DEFAULT_MIN_VALID = "10m"
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400}


def parse_duration(text: str) -> int:
    """Seconds in "600", "600s", "10m", "2h", "1d", "600 seconds", "2 hours"; UsageError otherwise."""
    clean = text.strip().lower()
    digits = len(clean) - len(clean.lstrip("0123456789"))
    number, unit = clean[:digits], clean[digits:].strip()
    if unit.endswith("s") and len(unit) > 2 and unit[:-1] in _UNITS:  # "hours", not "ms"
        unit = unit[:-1]
    if not number or len(number) > 9 or (unit and unit not in _UNITS):
        raise UsageError(f"--min-valid {text!r}: give a duration such as 600, 10m, 2h or 1d")
    return int(number) * _UNITS[unit or "s"]


def _request(args, username: Optional[str] = None) -> Optional["TokenRequest"]:
    """The token options given on the command line, checked; None when there are none."""
    given = {name: args.get(name) for name in ("-u", "-v", "-t", "--jobid", "--hostname")}
    if username is not None:
        given["-u"] = username
    if all(value is None for value in given.values()):
        return None
    from jenv.jcentral.protocol import TokenRequest

    return TokenRequest.from_options(given["-u"], given["-v"], given["-t"], given["--jobid"],
                                     given["--hostname"]).validate()


def _store(ctx: Context) -> "tuple[Locations, TokenStore]":
    locs = resolve_locations(ctx.environ, ctx.uid, ctx.home)
    return locs, TokenStore(locs.token_cert, locs.token_key, ctx.uid, lock_directories(ctx.environ, ctx.home))


def _check_content_fits_the_shell(ctx: Context) -> None:
    """Before asking JCentral for a token to print as content: can the target shell carry PEM text?
    (csh and tcsh cannot hold a newline in a variable.)  The same rule and message as the export."""
    if ctx.json:
        return
    from jenv.shells import emitter_for, pick_shell

    shell = pick_shell(ctx.shell, ctx.environ).name
    emitter_for(shell).check_value(JALIEN_TOKEN_KEY, "-----BEGIN RSA PRIVATE KEY-----\n", shell)


def _emit(ctx: Context, cert: str, key: str) -> None:
    """Print the token for the shell (or the reference document's JSON with --json)."""
    if ctx.json:
        import json

        text = json.dumps({"results": [{"tokencert": cert, "tokenkey": key}]})
    else:
        from jenv.shells import pick_shell, render_exports

        shell = pick_shell(ctx.shell, ctx.environ).name
        text = render_exports(shell, {JALIEN_TOKEN_CERT: cert, JALIEN_TOKEN_KEY: key}).rstrip("\n")
    ctx.out(text)
    warn_user_cert_expiry(ctx.environ, ctx.home, ctx.clock(), ctx.err, ctx.uid)  # stderr, at most once a day


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
      jenv token [-u <username>] [-v <days>] [-t <tokentype>] [--jobid=<id>] [--hostname=<fqdn>]
                 [--content] [--min-valid=<duration>] [--json] [--shell=<name>]

    Options:
      --min-valid=<duration>  Renew when the token expires sooner: 600, 10m, 2h, 1d [default: 10m].
      --content               Print-only: get a fresh token and export its PEM content.
      --json                  Print {"results": [{"tokencert": ..., "tokenkey": ...}]}.
      --shell=<name>          Shell syntax: sh bash zsh ksh dash fish tcsh csh json.
      -u <username>           Switch to another role of yours.
      -v <days>               Validity in days (default depends on the token type).
      -t <tokentype>          One of: job, jobagent, host, user (default).
      --jobid=<id>            Job DN extension (job token; also -jobid).
      --hostname=<fqdn>       Host name (host token; also -hostname).
    Any of -u, -v, -t, -jobid, -hostname makes the token print-only, like --content.

    With no token options, the token files are reused while valid for the
    minimum time, else created through JCentral, and their paths exported.
    With token options or --content the files are not touched: a fresh token
    is printed with its PEM content.  Nothing is printed on failure.
    """
    min_valid = parse_duration(args.get("--min-valid") or DEFAULT_MIN_VALID)
    request = _request(args)
    locs, store = _store(ctx)
    if request is None and not args.get("--content"):
        if store.in_files:
            ensure_token(ctx, locs, store, min_valid)
            _emit(ctx, store.cert.path or "", store.key.path or "")
            return ExitCode.OK
        check = check_token(store, ctx.clock(), min_valid)  # PEM content in the variables
        if check.usable and check.cert_pem is not None and check.key_pem is not None:
            _emit(ctx, check.cert_pem.decode("ascii"), check.key_pem.decode("ascii"))
            return ExitCode.OK
    _check_content_fits_the_shell(ctx)
    pair = fetch_checked_token(ctx, locs, request)
    _emit(ctx, pair.cert_pem, pair.key_pem)
    return ExitCode.OK


def _token_init(ctx: Context, request: Optional["TokenRequest"]) -> int:
    locs, store = _store(ctx)
    if not store.in_files:
        raise UsageError("JALIEN_TOKEN_CERT/KEY hold PEM content, so there are no token files to write: "
                         "unset them, or use 'jenv token --content'")
    pair = replace_token(ctx, locs, store, request)
    _show_token_info(ctx, store, pair)
    return ExitCode.OK


def cmd_token_init(args, ctx: Context) -> int:
    """Create a new token from the user certificate and write it to the token files.

    Usage:
      jenv token-init [-u <username>] [-v <days>] [-t <tokentype>] [--jobid=<id>] [--hostname=<fqdn>]

    INFO: token is automatically created, use this for token customization
    Options:
        -u <username>          :  switch to another role of yours
        -v <validity (days)>   :  default depends on token type
        -t <tokentype>         :  can be one of: job, jobagent, host, user (default)
        -jobid <job DN extension>  :  expected to be present in a job token
        -hostname <FQDN>       :  required for a host certificate

    The token goes to JALIEN_TOKEN_CERT/KEY or ${TMPDIR:-/tmp}/token{cert,key}_$UID.pem;
    its details are printed on stderr.  Exits non-zero when JCentral refuses.
    """
    return _token_init(ctx, _request(args))


def cmd_token_destroy(args, ctx: Context) -> int:
    """Remove the token files and print the lines that unset the token variables.

    Usage:
      jenv token-destroy [--json] [--shell=<name>]

    Options:
      --json          Print JSON.
      --shell=<name>  Shell syntax: sh bash zsh ksh dash fish tcsh csh json.

    Only regular files of your own are removed.
    """
    _locs, store = _store(ctx)
    removed = []
    if store.in_files:
        with lock_store(store, lock_wait(ctx)) as lock:
            removed = destroy_token_pair(lock)
    ctx.err("jenv: removed " + " and ".join(removed) if removed else "jenv: no token files to remove")
    from jenv.shells import pick_shell, render_exports

    shell = "json" if ctx.json else pick_shell(ctx.shell, ctx.environ).name
    ctx.out(render_exports(shell, {JALIEN_TOKEN_CERT: None, JALIEN_TOKEN_KEY: None}).rstrip("\n"))
    return ExitCode.OK


def cmd_user(args, ctx: Context) -> int:
    """Change role: a token for another of your roles (like su <username>).

    Usage:
      jenv user <username> [token-init] [-v <days>] [--json] [--shell=<name>]

    Options:
      -v <days>       Validity in days (default depends on the token type).
      --json          Print JSON.
      --shell=<name>  Shell syntax: sh bash zsh ksh dash fish tcsh csh json.

    "jenv user <username>" prints exports holding the PEM content of a token
    for that role, for the current shell only; the token files are untouched.
    "jenv user <username> token-init" writes the token files with that role,
    for prolonged use.
    """
    request = _request(args, username=args["<username>"])
    if args.get("token-init"):
        return _token_init(ctx, request)
    locs, _store_unused = _store(ctx)
    _check_content_fits_the_shell(ctx)
    pair = fetch_checked_token(ctx, locs, request)
    _emit(ctx, pair.cert_pem, pair.key_pem)
    return ExitCode.OK
