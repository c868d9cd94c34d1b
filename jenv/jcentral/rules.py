"""JAliEn's rules for token certificates: the one home of what JCentral grants, for the local service,
the check of a token JCentral sent, the notices and the token commands.

From JAliEn's source (repository FYP-Jalien/jalien-march-18, under ``src/main/java/alien/``):
``api/token/GetTokenCertificate.java`` and ``api/token/TokenCertificateType.java`` (the subject each
token type gets, the days each type may have, the two hours by which ``notBefore`` is backdated),
``shell/commands/JAliEnCommandtoken.java`` (the "Reducing the validity" notice) and
``user/AliEnPrincipal.java`` / ``user/UserFactory.java`` (who counts as an admin, a JobAgent or a job).
Pure data and string functions (no I/O).

A subject is built as a list of (attribute, value) pairs (``*_token_rdns``),
so a value may hold ``/`` or ``=``: JAliEn's own job tokens carry
``-jobid queueid=<id>/resubmission=<n>`` as one OU, which ``UserFactory``
splits on ``/`` into key=value pairs.  The one-line DN writes such a ``/``
escaped (``\\/``), as :func:`jenv.lite.names.grid_dn` prints it.
"""

from __future__ import annotations

import re
from typing import List, NamedTuple, Optional, Tuple

from jenv.lite.identity import TOKEN_DN_PREFIX
from jenv.lite.names import escape_value as _v

__all__ = ["MAX_VALIDITY_DAYS", "ADMIN_MAX_DAYS", "NON_POSITIVE_DAYS", "BACKDATE_SECONDS", "TOKEN_DN_PREFIX",
           "JOBAGENT_DN", "user_token_rdns", "job_token_rdns", "host_token_rdns", "JOBAGENT_RDNS", "rdns_to_dn",
           "user_token_dn", "job_token_dn", "host_token_dn", "Grant", "granted_days",
           "subject_problem", "account_problem"]

#: Default and maximum validity per token type, in days (TokenCertificateType.getMaxValidity).
MAX_VALIDITY_DAYS = {"user": 31, "job": 2, "jobagent": 2, "host": 365}
#: An admin may ask for more, up to this many days.
ADMIN_MAX_DAYS = 400
#: ``-v 0`` or below gives this many days.
NON_POSITIVE_DAYS = 2
#: notBefore is "now - 2 hours", for worker nodes whose clock runs behind.
BACKDATE_SECONDS = 2 * 3600

JOBAGENT_DN = f"{TOKEN_DN_PREFIX}/CN=JobAgent"

#: (attribute, value) pairs of a subject, in order.
Rdns = List[Tuple[str, str]]
_PREFIX: Rdns = [("C", "ch"), ("O", "AliEn2")]
JOBAGENT_RDNS: Rdns = _PREFIX + [("CN", "JobAgent")]


def user_token_rdns(username: str, role: str) -> Rdns:
    return _PREFIX + [("CN", "Users"), ("CN", username), ("OU", role)]


def job_token_rdns(username: str, jobid: str) -> Rdns:
    return _PREFIX + [("CN", "Jobs"), ("CN", username), ("OU", username), ("OU", jobid)]


def host_token_rdns(hostname: str) -> Rdns:
    return _PREFIX + [("OU", "ALICE"), ("CN", hostname)]


def rdns_to_dn(rdns: Rdns) -> str:
    """The one-line form, values escaped as :func:`jenv.lite.names.grid_dn` prints a certificate's."""
    return "".join(f"/{key}={_v(value)}" for key, value in rdns)


def user_token_dn(username: str, role: str) -> str:
    return rdns_to_dn(user_token_rdns(username, role))


def job_token_dn(username: str, jobid: str) -> str:
    return rdns_to_dn(job_token_rdns(username, jobid))


def host_token_dn(hostname: str) -> str:
    return rdns_to_dn(host_token_rdns(hostname))


class Grant(NamedTuple):
    """What JCentral grants for one request: ``days`` of validity, the ``notice`` JCentral itself sends
    (its ``metadata.error`` with exitcode 0; "" when none), and ``unsaid``: what it does to the request
    without saying so, as one sentence for jenv to say ("" when nothing)."""

    days: int
    notice: str = ""
    unsaid: str = ""


def _reducing(requested: int, maximum: int) -> str:
    return (f"Reducing the validity from {requested} to {maximum} as this is the max allowed value for this "
            "type of certificate")


def granted_days(token_type: str, requested: Optional[int], admin: Optional[bool]) -> Grant:
    """The days JCentral grants a ``token_type`` token for ``-v requested`` (None: no ``-v``), with the
    notice it gives; ``admin`` is the requester's rights: True for an admin (JAliEn's
    ``canBecome("admin")``, ``user/AliEnPrincipal.java``), False for anyone else, None when they are not
    known (a client asking for itself): then ``days`` is the longest any requester may get.

    The rules, in JAliEn's order:

    * no ``-v``: the type's maximum, which is also its default (``JAliEnCommandtoken.java``:
      ``validity = tokentype.getMaxValidity()``; ``TokenCertificateType.java``: user 31, job and
      jobagent 2, host 365);
    * above the maximum, a non-admin gets the maximum and the notice "Reducing the validity from <v> to
      <max> ..." (``JAliEnCommandtoken.java``, before the request reaches the central service);
    * 0 or less: 2 days, without a notice (``GetTokenCertificate.java``: ``if (actualValidity <= 0)
      actualValidity = 2``);
    * an admin gets what was asked up to 400 days, capped at 400 without a notice (``GetTokenCertificate
      .java``: only a log line on the server).

    The end of the requester's own certificate caps the token again (except an admin's user and host
    tokens); that depends on a date, not on days: :func:`jenv.service.issuer.issue_token`.
    """
    maximum = MAX_VALIDITY_DAYS[token_type]
    if requested is None:
        return Grant(maximum)
    if requested <= 0:
        return Grant(NON_POSITIVE_DAYS, "", f"-v {requested}: JCentral gives {NON_POSITIVE_DAYS} days for a "
                                            "validity of 0 or less")
    if requested > maximum and admin is False:
        return Grant(maximum, _reducing(requested, maximum))
    if requested > ADMIN_MAX_DAYS:
        capped = f"-v {requested}: JCentral gives an admin at most {ADMIN_MAX_DAYS} days, capped without saying so"
        if admin is None:
            capped = (f"-v {requested}: JCentral gives at most {ADMIN_MAX_DAYS} days, and that only to admins "
                      "(others get the token type's maximum); it caps an admin's request without saying so")
        return Grant(ADMIN_MAX_DAYS, "", capped)
    return Grant(requested)


def _rdns(dn: str) -> Tuple[str, ...]:
    """The RDNs after the prefix, split at the unescaped ``/`` only."""
    if not dn.startswith(TOKEN_DN_PREFIX + "/"):
        return ()
    return tuple(re.split(r"(?<!\\)/", dn[len(TOKEN_DN_PREFIX) + 1:]))


def subject_problem(dn: str, token_type: str, username: Optional[str], jobid: Optional[str],
                    hostname: Optional[str]) -> Optional[str]:
    """Why ``dn`` is not the subject JCentral gives a token of this request, or None.

    ``username`` is the requested ``-u`` (the role of a user token, the user
    of a job token); None accepts any role where JCentral picks it.
    """
    parts = _rdns(dn)
    if token_type == "user":
        expected = "/C=ch/O=AliEn2/CN=Users/CN=<user>/OU=<role>"
        fits = (len(parts) == 3 and parts[0] == "CN=Users" and parts[1].startswith("CN=")
                and parts[2].startswith("OU=") and all(len(p) > 3 and "+" not in p for p in parts))
        if fits and username is not None and parts[2] != f"OU={_v(username)}":
            return f"it is a token for role {parts[2][3:]!r}, not the requested {username!r}"
    elif token_type == "job":
        expected = job_token_dn(username or "<user>", jobid or "<jobid>")
        fits = dn == expected
    elif token_type == "jobagent":
        expected = JOBAGENT_DN
        fits = dn == expected
    else:
        expected = host_token_dn(hostname or "<hostname>")
        fits = dn == expected
    return None if fits else f"its subject {dn} is not the {token_type} token subject {expected}"


def account_problem(dn: str, role: Optional[str], expected: Optional[str]) -> Optional[str]:
    """Why the user token ``dn`` (its shape already checked by :func:`subject_problem`) is not the
    requester's own, or None.

    ``role`` is the requested ``-u`` (None: none asked); ``expected`` is the account of the token in use
    (None: there is none).  GetTokenCertificate writes ``CN=<requester>/OU=<role>``, the role being the
    requester when none was asked; only an admin asking for a role it does not hold gets
    ``CN=<role>/OU=<role>``.  So the account (the second CN) must be ``expected`` (or, with ``-u``, that
    admin form); with no token in use and no ``-u``, the account must be the role.
    """
    parts = _rdns(dn)
    if len(parts) != 3:
        return None
    account, given_role = parts[1][3:], parts[2][3:]
    if expected is None:
        if role is None and account != given_role:
            return f"it is account {account!r}'s token for role {given_role!r}, not a token of your own account"
        return None
    if account == _v(expected) or (role is not None and account == given_role == _v(role)):
        return None
    return f"it is a token of the account {account!r}, not of {expected!r}, the account of your token"
