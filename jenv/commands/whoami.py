"""``jenv whoami``: who the token in use makes you, offline and on the fast path.

The token is read by the one reader (:func:`jenv.tokens.check.check_token`), and what its subject says is
the libraries' verdict (:mod:`jenv.tokens.judge`), remembered for the token: no ``cryptography`` for a
token already judged.

For scripts that today guess the grid user from the local login (``MY_USER=${ALIEN_USER:-$(whoami)}``)
or ask JCentral (``alien.py whoami``): ``MY_USER=$(jenv whoami -q)``.
"""

from __future__ import annotations

from jenv.context import Context, printable_lines
from jenv.errors import ExitCode, InvalidInputError, KeyMismatchError, NotFoundError, NotValidNowError
from jenv.lite.identity import TokenIdentity, split_job_extension
from jenv.lite.record import Option, options_record
from jenv.lite.timefmt import validity_text
from jenv.report.whoami import whoami_dict, whoami_json, whoami_lines
from jenv.tokens.check import TokenState, check_token, token_store

__all__ = ["cmd_whoami", "WhoamiOptions"]

#: ``jenv whoami``'s options (--json is the front end's).
WhoamiOptions = options_record("WhoamiOptions", {"quiet": Option("-q", False)})


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
    opts = WhoamiOptions.from_args(args)
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
    if opts.quiet:
        if identity.user is None:
            raise InvalidInputError(f"{loc.describe()} is a host token (for {identity.hostname}): "
                                    "it names no user")
        ctx.report(identity.user)
    elif ctx.json:
        ctx.out(whoami_json(data))
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
