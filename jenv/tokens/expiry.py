"""The warning before the user certificate ends: every token ends with it (JCentral caps a token's
``notAfter`` at the requester's certificate, ``alien/api/token/GetTokenCertificate.java``).

:func:`warn_user_cert_expiry` is what ``jenv token`` (and so the login hook) calls on success: it
takes the user certificate's dates from the verdict remembered for that version of the file
(:mod:`jenv.tokens.memo`; the libraries judge it once, :mod:`jenv.tokens.judge`), and when
fewer than :data:`WARN_DAYS` days are left it writes one line through ``err``:

* more than :data:`EVERY_LOGIN_DAYS` days left: at most once a day, remembered in a private
  file under ``$XDG_CACHE_HOME/jenv`` (default ``~/.cache/jenv``, a 0700 directory);
* fewer (or already expired): at every call, that is once per login.

A cache that is missing, unwritable or not private only costs the once-a-day memory (the line is
then shown every time); nothing here raises or prints anything else, so a login never breaks.
:func:`expiry_message` is the text ``status`` and ``cert-info`` show always.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the login fast path: no typing at run time
    from typing import Callable, Mapping, Optional, Sequence

from jenv.lite.timefmt import iso_epoch, short_duration
from jenv.locations import cache_directory, lock_directories, resolve_locations
from jenv.tokens import memo
from jenv.safefile import MAX_PEM_SIZE, MAX_STATE_FILE, read_small_file

__all__ = ["WARN_DAYS", "EVERY_LOGIN_DAYS", "STATE_FILE", "RENEW_HINT", "expiry_message", "user_cert_not_after",
           "warn_user_cert_expiry", "shortened_token_message"]

WARN_DAYS = 30
EVERY_LOGIN_DAYS = 7
#: The once-a-day memory: "<epoch of the last notice> <notAfter it was about>".
STATE_FILE = "user-cert-expiry"
RENEW_HINT = ("renew it at https://ca.cern.ch/ca/ (New Grid User Certificate), then run "
              "'jenv cert-import <the new .p12>'")
_DAY = 86400


def expiry_message(not_after: int, now: float, where: str) -> Optional[str]:
    """The one line to show when the certificate ``where`` ends within WARN_DAYS days (or has ended)."""
    left = int(not_after - now)
    if left > WARN_DAYS * _DAY:
        return None
    if left <= 0:
        return (f"your {where} expired {short_duration(-left)} ago ({iso_epoch(not_after)}): "
                f"no new token can be made; {RENEW_HINT}")
    return (f"your {where} expires in {short_duration(left)} ({iso_epoch(not_after)}), and every token "
            f"with it: {RENEW_HINT}")


def user_cert_not_after(path: str, uid: int, memo_dirs: Sequence[str]) -> Optional[int]:
    """notAfter of the PEM certificate at ``path`` in epoch seconds, as the libraries read it (remembered
    for this version of the file in ``memo_dirs``' private directory); None when it cannot be read or is
    not a usable certificate (other commands report those)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    directory = memo.memo_directory(memo_dirs, uid)
    verdict = memo.recall(directory, uid, (path,), (memo.file_identity(st),), kind="cert")
    if verdict is None:
        try:
            data, st = read_small_file(path, MAX_PEM_SIZE)
        except OSError:  # missing, not a regular file, too large, unreadable: other commands report those
            return None
        from jenv.tokens.judge import judge_certificate

        verdict = judge_certificate(data)
        memo.remember(directory or memo.memo_directory(memo_dirs, uid, create=True), uid, (path,),
                      (memo.file_identity(st),), verdict, kind="cert")
    return verdict.not_after if verdict.readable else None


def _already_told(path: str, uid: int, not_after: int, now: float) -> bool:
    """Whether the state file says this notAfter was shown less than a day ago (only a private file of
    ``uid``'s counts: anyone else's could silence the warning)."""
    try:
        fields = read_small_file(path, MAX_STATE_FILE, follow_links=False, uid=uid, private=True)[0].split()
    except OSError:
        return False
    try:
        told, about = int(fields[0]), int(fields[1])
    except (IndexError, ValueError):
        return False
    return about == not_after and 0 <= now - told < _DAY


def _remember(directory: str, uid: int, not_after: int, now: float) -> None:
    """Write the state file (atomically, 0600, in a private directory created 0700); quietly nothing
    when that cannot be done."""
    from jenv.errors import JenvError
    from jenv.safefile import private_directory, replace_file

    try:
        directory = private_directory((directory,), uid)
    except JenvError:
        return
    try:
        replace_file(os.path.join(directory, STATE_FILE), f"{int(now)} {not_after}\n".encode("ascii"), 0o600)
    except OSError:
        pass


def warn_user_cert_expiry(environ: Mapping[str, str], home: str, now: float, err: Callable[[str], None],
                          uid: Optional[int] = None) -> Optional[str]:
    """Tell the user (through ``err``, one line) that the user certificate ends soon; returns the line
    or None.  Never raises (unless JENV_DEBUG is set): a login must not break over a warning."""
    uid = os.getuid() if uid is None else uid
    try:
        loc = resolve_locations(environ, uid, home).user_cert
        if loc.path is None:
            return None
        not_after = user_cert_not_after(loc.path, uid, lock_directories(environ, home))
        if not_after is None:
            return None
        message = expiry_message(not_after, now, f"user certificate {loc.path}")
        if message is None:
            return None
        if not_after - now > EVERY_LOGIN_DAYS * _DAY:
            directory = cache_directory(environ, home)
            if _already_told(os.path.join(directory, STATE_FILE), uid, not_after, now):
                return None
            _remember(directory, uid, not_after, now)
        line = f"jenv: {message}"
        err(line)
        return line
    except Exception:  # the exports are printed already: a notice must never turn a login into a failure
        if environ.get("JENV_DEBUG"):
            raise
        return None


def shortened_token_message(token_not_after: int, user_not_after: Optional[int], asked_days: int,
                            now: float) -> Optional[str]:
    """When a new token ends with the user certificate, sooner than the ``asked_days`` requested
    (JCentral's cap, GetTokenCertificate.java), the line that says so; else None."""
    if user_not_after is None or token_not_after < user_not_after - 60:
        return None
    if token_not_after - now >= asked_days * _DAY - 3 * 3600:
        return None  # as long as asked (give or take JCentral's rounding and the 2 h backdating)
    return (f"the new token is valid for {short_duration(int(token_not_after - now))} only, not the "
            f"{asked_days} days asked for: it ends with your user certificate ({iso_epoch(user_not_after)}); "
            f"{RENEW_HINT}")
