"""ca-fetch and ca-info: install the grid CA certificates, and report on the CA store."""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from typing import Optional, TextIO

from jenv.ca.store import summarize_ca_store
from jenv.context import Context
from jenv.errors import ExitCode, InvalidInputError, NotFoundError, UsageError
from jenv.lite.record import Option, options_record
from jenv.locations import JENV_CA_URL, X509_CERT_DIR, resolve_ca_store, resolve_timeout
from jenv.report.ca import render_ca_summary
from jenv.report.render import to_json

__all__ = ["cmd_ca_fetch", "cmd_ca_info", "cmd_crl_fetch", "ProgressBar", "CaFetchOptions", "CrlFetchOptions"]

#: ``jenv ca-fetch``'s options (--json is the front end's).
CaFetchOptions = options_record("CaFetchOptions", {"url": Option("--url"), "dir": Option("<dir>")})
#: ``jenv crl-fetch``'s options (--json is the front end's).
CrlFetchOptions = options_record("CrlFetchOptions", {"dir": Option("<dir>")})

_DEFAULT_DIR = "~/.globus/certificates"


class ProgressBar:
    """A one-line download bar on a terminal stream; silent when the stream is not a terminal."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.shown = False

    def __call__(self, received: int, total: Optional[int]) -> None:
        mb = received / 1e6
        if total:
            filled = int(30 * received / total)
            text = f"\r  downloading [{'#' * filled}{'.' * (30 - filled)}] {mb:5.1f} / {total / 1e6:.1f} MB"
        else:
            text = f"\r  downloading {mb:5.1f} MB"
        self.stream.write(text)
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def cmd_ca_fetch(args, ctx: Context) -> int:
    """Download the grid CA certificates and install them as a CA directory.

    Usage:
      jenv ca-fetch [--url <url>] [--json] [<dir>]

    Options:
      --url <url>  Tarball to fetch (default: $JENV_CA_URL, else the alien-cas
                   master branch on GitHub).
      --json       Print what was installed as JSON.

    Installs into <dir> (default ~/.globus/certificates), replacing the old
    store only when the new one is complete: a failed download leaves it as
    it was.  Writes the OpenSSL <hash>.N links itself (no openssl, git or
    rsync needed).  Proxies and REQUESTS_CA_BUNDLE are honoured; redirects
    are followed only to https:// URLs.  Exit 0
    when installed; 9 download failed; 4 the download is not a safe CA
    tarball, or JENV_CA_URL / JENV_TIMEOUT is unusable; 3 the directory
    cannot be written; 8 others can write the directory above it.
    """
    from jenv.ca.fetch import DEFAULT_CA_URL, fetch_ca_store

    opts = CaFetchOptions.from_args(args)
    url = opts.url or ctx.environ.get(JENV_CA_URL) or DEFAULT_CA_URL
    if not url.lower().startswith("https://"):
        # What ca-fetch installs decides whom jenv trusts: never over a connection anyone could change.
        why = ("CA certificates are fetched only over HTTPS" if url.lower().startswith("http://")
               else "not an https:// URL")
        if opts.url:
            raise UsageError(f"--url {url!r} is {why}" if why.startswith("not") else f"--url {url!r}: {why}")
        raise InvalidInputError(f"{JENV_CA_URL}={url!r} is {why}: set it to the https:// URL of a CA tarball, "
                                "or unset it for the default" if why.startswith("not") else
                                f"{JENV_CA_URL}={url!r}: {why}: set it to the https:// URL of a CA tarball, "
                                "or unset it for the default")
    try:
        timeout, _source = resolve_timeout(ctx.environ)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    home = ctx.home
    target_text = opts.dir or _DEFAULT_DIR
    target = os.path.abspath(home + target_text[1:] if target_text.startswith("~") else target_text)
    bar = ProgressBar(ctx.stderr) if _is_terminal(ctx.stderr) else None
    try:
        installed = fetch_ca_store(url, target, timeout, bar)
    finally:
        if bar is not None:
            bar.done()
    if ctx.json:
        from jenv.lite.schema import document

        ctx.out(to_json(document("ca-fetch", dict(asdict(installed), url=url))))
    ctx.err(f"installed {installed.certificates} CA certificates ({installed.hash_links} hash links) "
            f"into {installed.path}")
    in_use = resolve_ca_store(ctx.environ, home).path
    if in_use is None or os.path.abspath(in_use) != installed.path:
        ctx.err(f"jenv and openssl look elsewhere ({in_use or 'nowhere'}); add this line to your login script:")
        from jenv.shells import login_line

        ctx.err("  " + login_line(ctx.shell, ctx.environ, X509_CERT_DIR, installed.path))
    return ExitCode.OK


def cmd_ca_info(args, ctx: Context) -> int:
    """Summarise the CA store: where it is, how many CAs, expired or expiring ones, hash links.

    Usage:
      jenv ca-info [--json]

    Options:
      --json  Print JSON.

    Exit 0 when the store is usable; 3 when there is none or X509_CERT_DIR /
    X509_CERT_FILE names something missing; 4 when it holds no certificate
    or its <hash>.N links are inconsistent (fix: jenv ca-fetch).
    """
    from jenv.ca.crl import describe_crls

    store = resolve_ca_store(ctx.environ, ctx.home)
    summary = summarize_ca_store(store, ctx.now())
    summary = replace(summary, crls=tuple(describe_crls(store, ctx.now())))
    ctx.report(render_ca_summary(summary, ctx.json, store.variable), ctx.json)
    if summary.problems:
        problem = summary.problems[0]
        fix = "" if "jenv ca-fetch" in problem else "; 'jenv ca-fetch' installs a consistent store"
        raise InvalidInputError(f"CA store {summary.location}: {problem}{fix}")
    return ExitCode.OK


def cmd_crl_fetch(args, ctx: Context) -> int:
    """Download each CA's CRL into the CA directory, as fetch-crl does.

    Usage:
      jenv crl-fetch [--json] [<dir>]

    Options:
      --json  Print what became of each CRL as JSON.

    For every CA of <dir> (default: the CA directory in use) whose <alias>.info
    names a crl_url, downloads the CRL (plain http is fine: a CRL is signed),
    checks that its CA signed it, and writes it atomically as <hash>.r0 under
    the subject hash and the old subject hash; an unchanged CRL is touched,
    an older one than installed is refused.  JENV_TIMEOUT bounds all the
    downloads together.  Exit 0 when every CRL was installed or unchanged;
    else the code of the first failure (9 download, 4 not a CRL of that CA or
    too large, 3 the directory cannot be written), the others installed.
    """
    from jenv.ca.crl import fetch_crls
    from jenv.safefile import replace_file

    try:
        timeout, _source = resolve_timeout(ctx.environ)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    text = CrlFetchOptions.from_args(args).dir
    if text:
        directory = os.path.abspath(ctx.home + text[1:] if text.startswith("~") else text)
    else:
        store = resolve_ca_store(ctx.environ, ctx.home)
        if store.kind != "dir":
            raise UsageError(f"the CA store in use ({store.path or 'none'}) is not a directory: name the CA "
                             f"directory, jenv crl-fetch <dir>")
        directory = store.path
    if not os.path.isdir(directory):
        raise NotFoundError(f"{directory} is not a CA directory: run 'jenv ca-fetch' first, or name one")
    results = fetch_crls(directory, timeout, replace_file)
    if ctx.json:
        from jenv.lite.schema import document

        ctx.out(to_json(document("crl-fetch", {"results": [asdict(result) for result in results]})))
    else:
        for result in results:
            if result.state != "failed":
                ctx.report(f"{result.alias}: {result.state} (next update {result.next_update or 'not given'})")
    failed = [result for result in results if result.state == "failed"]
    for result in failed:
        ctx.err(f"jenv: CRL of {result.alias} not installed: {result.error}")
    counts = {state: sum(result.state == state for result in results) for state in ("installed", "unchanged")}
    ctx.err(f"{counts['installed']} CRLs installed, {counts['unchanged']} unchanged, {len(failed)} failed "
            f"in {directory}" if results else f"no CA of {directory} names a crl_url (<alias>.info)")
    return failed[0].exit_code if failed else ExitCode.OK
