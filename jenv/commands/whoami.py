"""``jenv whoami``: who the token in use makes you, offline and on the fast path (no ``cryptography``).

For scripts that today guess the grid user from the local login (``MY_USER=${ALIEN_USER:-$(whoami)}``)
or ask JCentral (``alien.py whoami``): ``MY_USER=$(jenv whoami -q)``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # on the fast path (MY_USER=$(jenv whoami -q)): no typing
    from typing import Any, Dict, Tuple

from jenv.context import Context, printable_lines
from jenv.credentials import describe_location, read_credential
from jenv.errors import ExitCode, InvalidInputError, NotValidNowError
from jenv.lite import der, names
from jenv.lite.identity import TokenIdentity, token_identity
from jenv.lite.timefmt import format_duration, iso_epoch, validity_text
from jenv.locations import Location, resolve_locations
from jenv.report.sources import describe_source, source_dict

__all__ = ["cmd_whoami", "whoami_dict", "whoami_lines"]

_WIDTH = 14


def _read_token(loc: Location) -> Tuple[bytes, int, int]:
    """(subject DER, notBefore, notAfter) of the token certificate; the precise error when it is not one."""
    data = read_credential(loc)
    cert_der, dates = der.pem_block(data, b"CERTIFICATE"), der.cert_validity(data)
    try:
        if cert_der is not None and dates is not None:
            return names.cert_names(cert_der)[0], dates[0], dates[1]
    except names.DerError:
        pass
    # Not the common shape: cryptography says exactly what it is instead (bad input only).
    from jenv.pem import parse_certificate, validity_bounds

    cert = parse_certificate(data, describe_location(loc))
    start, end = validity_bounds(cert)
    return cert.subject.public_bytes(), start, end


def _state(not_before: int, not_after: int, now: float) -> str:
    if now < not_before:
        return "not yet valid"
    return "expired" if now >= not_after else "valid"


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
        "state": _state(not_before, not_after, now),
        "seconds_left": left,
        "time_left": format_duration(left) if left > 0 else "0m 00s",
        "token": source_dict(loc),
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
    resubmission), the host of a host token.  No network, no passphrase.  Exit codes
    as for token-info: 0 valid, 5 (after printing) expired or not yet valid, 3 missing
    or unreadable, 4 not a token certificate, 8 not a regular file.
    """
    loc = resolve_locations(ctx.environ, ctx.uid, ctx.home).token_cert
    subject_der, not_before, not_after = _read_token(loc)
    try:
        identity, subject = token_identity(subject_der), names.grid_dn(subject_der)
    except names.DerError:
        raise InvalidInputError(f"{describe_location(loc)} has a subject that cannot be read") from None
    if identity is None:
        raise InvalidInputError(f"{describe_location(loc)} has the subject {subject}, which is not one JCentral "
                                "gives a token (user, job, jobagent or host): run 'jenv token-init'")
    now = ctx.clock()
    data = whoami_dict(identity, subject, not_before, not_after, loc, now)
    if args.get("-q"):
        if identity.user is None:
            raise InvalidInputError(f"{describe_location(loc)} is a host token (for {identity.hostname}): "
                                    "it names no user")
        ctx.report(identity.user)
    elif ctx.json:
        import json

        ctx.out(json.dumps(data, indent=2))
    else:
        ctx.report(printable_lines(whoami_lines(data, loc)))
    problem = validity_text(loc.describe(), not_before, not_after, now, "run 'jenv token-init' for a new token")
    if problem:
        raise NotValidNowError(problem)
    return ExitCode.OK
