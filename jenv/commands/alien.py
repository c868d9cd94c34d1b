"""The official client's standalone commands: alien-token-info, alien-cert-info, alien-token-destroy.

O2's CCDB API runs ``LD_PRELOAD= alien-token-info &> /dev/null`` and O2DPG's
scripts read its exit code (and sometimes its ``EXPIRE >>>`` line), so these
print what alienpy 1.7.0 prints on stdout, byte for byte, and exit as it does:

* ``alien-token-info``: ``DN >>> ...``, ``ISSUER >>> ...``, ``BEGIN >>> ...``,
  ``EXPIRE >>> ...`` (UTC, ``%Y-%m-%d %H:%M:%S``) and 0 when the token has at
  least 600 s left; nothing on stdout and 2 otherwise (missing, expired,
  under 10 minutes);
* ``alien-cert-info``: the same for the user certificate, which needs its key
  to be readable too;
* ``alien-token-destroy``: removes the token files, prints alienpy's sentence, 0.

jenv's own rules still apply underneath: the token is read through
:mod:`jenv.tokens.check` (no link in the shared directory, no other user's file,
the key must belong to the certificate), so a token ``jenv token`` would refuse
is no token here either; the reason goes to stderr as one ``jenv:`` line.
No network; the names and dates are the libraries' (:mod:`jenv.tokens.judge`), remembered
for the token, so O2's check of a token already judged parses nothing.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # alien-token-info runs on the login fast path (O2 calls it): light imports only
    from typing import Optional, Tuple

from jenv.context import Context, printable_lines
from jenv.errors import ExitCode, JenvError, NotValidNowError
from jenv.locations import resolve_locations
from jenv.tokens.check import check_token, token_store

__all__ = ["cmd_alien_token_info", "cmd_alien_cert_info", "cmd_alien_token_destroy", "alienpy_cert_info",
           "alienpy_lines", "MIN_SECONDS", "NO_TOKEN_EXIT", "DESTROYED"]

#: alienpy's IsValidCert: a certificate with less than this left counts as no certificate.
MIN_SECONDS = 600
#: alienpy's exit code for "no valid certificate" (its RET(2, ...), ENOENT).
NO_TOKEN_EXIT = int(ExitCode.USAGE)
#: What alienpy's token-destroy prints.
DESTROYED = "Token was destroyed! Re-connect for token re-creation."


class NoValidCertificate(NotValidNowError):
    """What alienpy reports as exit 2: missing, expired, under MIN_SECONDS left (or refused by jenv)."""

    exit_code = ExitCode.USAGE  # the number alienpy uses (2), whatever jenv's own table calls it


def alienpy_lines(dn: str, issuer: str, not_before: int, not_after: int) -> str:
    """The four lines alienpy prints for a certificate (names in its slashed RFC 4514 form, UTC times)."""
    def stamp(epoch: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))

    return printable_lines((f"DN >>> {dn}", f"ISSUER >>> {issuer}", f"BEGIN >>> {stamp(not_before)}",
                            f"EXPIRE >>> {stamp(not_after)}"))


def alienpy_cert_info(cert_pem: bytes, what: str) -> Tuple[str, int, int]:
    """(the four lines alienpy prints, notBefore, notAfter) of a PEM certificate, as the libraries read
    it; NoValidCertificate when it is not one."""
    from jenv.tokens.judge import judge_certificate

    verdict = judge_certificate(cert_pem)
    if not verdict.readable:
        raise NoValidCertificate(f"{what} {verdict.detail}: fix or replace it")
    text = alienpy_lines(verdict.alien_subject, verdict.alien_issuer, verdict.not_before, verdict.not_after)
    return text, verdict.not_before, verdict.not_after


def _no_valid(exc: JenvError) -> NoValidCertificate:
    return NoValidCertificate(str(exc))


def cmd_alien_token_info(args, ctx: Context) -> int:
    """Token details as the official client's alien-token-info prints them (for O2's token check).

    Usage:
      jenv alien-token-info

    Prints DN, ISSUER, BEGIN and EXPIRE lines and exits 0 when the token has at
    least 10 minutes left; prints nothing on stdout and exits 2 when it is
    missing, expired, has less than 10 minutes left or cannot be used.
    """
    _locs, store = token_store(ctx)
    try:
        check = check_token(store, int(ctx.clock()), MIN_SECONDS)
    except JenvError as exc:
        raise _no_valid(exc) from None
    if not check.usable or check.verdict is None:
        raise NoValidCertificate(f"no valid token ({check.detail}): run 'jenv token-init'")
    verdict = check.verdict
    ctx.report(alienpy_lines(verdict.alien_subject, verdict.alien_issuer, verdict.not_before, verdict.not_after))
    return 0


def _readable_file(path: Optional[str]) -> bool:
    return path is not None and os.path.isfile(path) and os.access(path, os.R_OK)


def cmd_alien_cert_info(args, ctx: Context) -> int:
    """User certificate details as the official client's alien-cert-info prints them.

    Usage:
      jenv alien-cert-info

    Prints DN, ISSUER, BEGIN and EXPIRE lines and exits 0 when the user
    certificate and key are readable and the certificate has at least 10
    minutes left; otherwise prints nothing on stdout and exits 2.
    """
    locs = resolve_locations(ctx.environ, ctx.uid, ctx.home)
    cert, key = locs.user_cert, locs.user_key
    if not _readable_file(key.path):
        raise NoValidCertificate(f"{key.describe()} is missing or unreadable: install it as ~/.globus/userkey.pem "
                                 "or set X509_USER_KEY")
    try:
        from jenv.credentials import read_credential

        cert_pem = read_credential(cert)
    except JenvError as exc:
        raise _no_valid(exc) from None
    text, not_before, not_after = alienpy_cert_info(cert_pem, cert.describe())
    now = int(ctx.clock())
    if now < not_before or not_after - now < MIN_SECONDS:
        raise NoValidCertificate(f"{cert.describe()} is not valid now or for the next 10 minutes: "
                                 "renew your grid certificate")
    ctx.report(text)
    return 0


def cmd_alien_token_destroy(args, ctx: Context) -> int:
    """Remove the token files, as the official client's alien-token-destroy does.

    Usage:
      jenv alien-token-destroy

    Prints the official client's sentence.  Only regular files of your own are
    removed; a token given as PEM content in JALIEN_TOKEN_CERT/KEY has no files.
    """
    from jenv.tokens.obtain import lock_wait
    from jenv.tokens.store import destroy_token_pair, lock_store

    _locs, store = token_store(ctx)
    if store.in_files:
        with lock_store(store, lock_wait(ctx)) as lock:
            destroy_token_pair(lock)
    ctx.out(DESTROYED)
    return 0
