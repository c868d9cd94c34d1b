"""``jenv whoami``: who the token in use makes you, offline and on the fast path.

The token is read by the one reader (:func:`jenv.tokens.check.check_token`), and what its subject says is
the libraries' verdict (:mod:`jenv.tokens.judge`), remembered for the token: no ``cryptography`` for a
token already judged.

For scripts that today guess the grid user from the local login (``MY_USER=${ALIEN_USER:-$(whoami)}``)
or ask JCentral (``alien.py whoami``): ``MY_USER=$(jenv whoami -q)``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the fast path (MY_USER=$(jenv whoami -q)): no typing
    from typing import Any, Dict

from jenv.context import Context, printable_lines
from jenv.errors import ExitCode, InvalidInputError, KeyMismatchError, NotFoundError, NotValidNowError
from jenv.lite.identity import TokenIdentity, expected_account, split_job_extension
from jenv.lite.validity import date_state
from jenv.lite.timefmt import format_duration, iso_epoch, validity_text
from jenv.locations import Location
from jenv.report.sources import describe_source, source_dict
from jenv.tokens.check import TokenState, check_token, token_store

__all__ = ["cmd_whoami", "whoami_dict", "whoami_lines"]

_WIDTH = 14


def whoami_dict(identity: TokenIdentity, subject: str, not_before: int, not_after: int, loc: Location,
                now: float) -> Dict[str, Any]:
    """Everything ``jenv whoami --json`` prints."""
    left = int(not_after - now)
    job = None
    if identity.token_type == "job":
        job = {"extension": identity.job_extension, "fields": dict(identity.job_fields)}
    return {
        "user": identity.user,
        "role": identity.role,
        "token_type": identity.token_type,
        "hostname": identity.hostname,
        "job": job,
        "subject": subject,
        "not_before": iso_epoch(not_before),
        "not_after": iso_epoch(not_after),
        "state": date_state(not_before, not_after, now),
        "seconds_left": left,
        "time_left": format_duration(left) if left > 0 else "0m 00s",
        "token": source_dict(loc),
        "expected_account": expected_account(identity.token_type, identity.user or ""),
    }


def whoami_lines(data: Dict[str, Any], loc: Location) -> "list[str]":
    """The human form of :func:`whoami_dict`."""
    def row(label: str, value: object) -> str:
        return f"{label:<{_WIDTH}}{value}"

    lines = []
    if data["user"] is not None:
        lines.append(row("user", data["user"]))
    if data["role"] is not None:
        lines.append(row("role", data["role"]))
    lines.append(row("token type", data["token_type"]))
    if data["hostname"] is not None:
        lines.append(row("host", data["hostname"]))
    if data["job"] is not None:
        lines.append(row("job", data["job"]["extension"]))
        lines += [row(name, value) for name, value in data["job"]["fields"].items()]
    lines.append(row("subject", data["subject"]))
    lines.append(row("not after", data["not_after"]))
    state = data["state"]
    lines.append(row("time left", f"{data['time_left']} (valid)" if state == "valid" else state.upper()))
    lines.append(row("token", describe_source(loc)))
    if data["expected_account"] is not None:
        lines.append(row("new tokens", f"{data['expected_account']}'s only ('jenv token-destroy' first to change "
                                       "account)"))
    return lines


def cmd_whoami(args, ctx: Context) -> int:
    """Say who the token in use makes you (offline): user, role, token type, job or host, time left.

    Usage:
      jenv whoami [--json] [-q]

    Options:
      --json  Print JSON.
      -q      Print only the user name: MY_USER=$(jenv whoami -q).

    Reads the token certificate (JALIEN_TOKEN_CERT, a path or the PEM content, else
    ${TMPDIR:-/tmp}/tokencert_$UID.pem) and what its subject says, as JAliEn reads
    it: a user token's user and role, a job token's user and job fields (queueid,
    resubmission), the host of a host token; for a user token, the account every
    new token must be for ("jenv token-destroy" first to change account).  No
    network, no passphrase.  The token
    is read as "jenv token" reads it.  Exit codes: 0 valid, 5 (after printing) expired
    or not yet valid, 7 (after printing) a key that does not belong to it, 3 missing
    or unreadable, 4 not a token certificate or an unusable key, 8 an unsafe file.
    """
    _locs, store = token_store(ctx)
    loc = store.cert
    check = check_token(store, ctx.clock(), 0)
    verdict = check.verdict
    if check.state is TokenState.MISSING:
        raise NotFoundError(f"{check.detail}: run 'jenv token-init' to create a token")
    if verdict is None or not verdict.readable:
        raise InvalidInputError(f"{check.detail}: run 'jenv token-init' for a new token")
    not_before, not_after, subject = verdict.not_before, verdict.not_after, verdict.subject
    if not verdict.token_type:
        raise InvalidInputError(f"{loc.describe()} has the subject {subject}, which is not one JCentral "
                                "gives a token (user, job, jobagent or host): run 'jenv token-init'")
    identity = TokenIdentity(verdict.token_type, verdict.user or None, verdict.role or None,
                             verdict.hostname or None, verdict.job_extension or None,
                             split_job_extension(verdict.job_extension))
    now = ctx.clock()
    data = whoami_dict(identity, subject, not_before, not_after, loc, now)
    if args.get("-q"):
        if identity.user is None:
            raise InvalidInputError(f"{loc.describe()} is a host token (for {identity.hostname}): "
                                    "it names no user")
        ctx.report(identity.user)
    elif ctx.json:
        import json

        from jenv.lite.schema import document

        ctx.out(json.dumps(document("whoami", data), indent=2))
    else:
        ctx.report(printable_lines(whoami_lines(data, loc)))
    problem = validity_text(loc.describe(), not_before, not_after, now, "run 'jenv token-init' for a new token")
    if problem:
        raise NotValidNowError(problem)
    if check.state is TokenState.MISMATCH:
        raise KeyMismatchError(f"{check.detail}: run 'jenv token-init' for a new token")
    if check.state is TokenState.BROKEN:
        raise InvalidInputError(f"{check.detail}: run 'jenv token-init' for a new token")
    return ExitCode.OK
