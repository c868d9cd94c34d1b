"""Who a token says its holder is: JAliEn's token subjects read back (standard library only).

JCentral writes the subject of each token type (``alien/api/token/GetTokenCertificate.java``)::

    user      /C=ch/O=AliEn2/CN=Users/CN=<user>/OU=<role>
    job       /C=ch/O=AliEn2/CN=Jobs/CN=<user>/OU=<user>/OU=<job extension>
    jobagent  /C=ch/O=AliEn2/CN=JobAgent
    host      /C=ch/O=AliEn2/OU=ALICE/CN=<host name>

and reads them back in ``alien/user/UserFactory.java`` (getAllByDN).  A job token's extension is
``queueid=<id>/resubmission=<n>``: split at ``/``, each part at its first ``=``, where a ``\\=``
counts as ``=`` (UserFactory drops the backslash from the name).  The subject comes RDN by RDN from
the library's parse of the certificate (:mod:`jenv.tokens.judge`), so a ``/`` inside a value cannot
shift the fields.  Nothing here makes a trust decision: ``jenv whoami`` only says what the token in
use claims.
"""

from __future__ import annotations


from jenv.lite.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # light: no typing at run time
    from typing import List, Optional, Tuple

__all__ = ["TOKEN_DN_PREFIX", "TOKEN_TYPES", "TokenIdentity", "identity_from_attributes", "split_job_extension",
           "expected_account"]

TOKEN_DN_PREFIX = "/C=ch/O=AliEn2"
_PREFIX = (("C", "ch"), ("O", "AliEn2"))
TOKEN_TYPES = ("user", "job", "jobagent", "host")


class TokenIdentity(record("TokenIdentity", "token_type user role hostname job_extension job_fields",
                           (None, None, None, ()))):
    """What a token subject says: its type, user and role, the host (host tokens), the job extension and
    its fields (job tokens, a tuple of (name, value))."""

    __slots__ = ()


def split_job_extension(extension: str) -> Tuple[Tuple[str, str], ...]:
    """The fields of a job token's extension as UserFactory.getAllByDN sets them: parts between ``/``
    (empty ones skipped, as StringTokenizer does), each ``name=value`` at its first ``=``; a part with
    no ``=``, or one at its start, is not a field; ``name\\=value`` gives ``name``."""
    fields: List[Tuple[str, str]] = []
    for spec in (part for part in extension.split("/") if part):
        idx = spec.find("=")
        if idx > 0:
            name = spec[:idx - 1] if spec[idx - 1] == "\\" else spec[:idx]
            fields.append((name, spec[idx + 1:]))
    return tuple(fields)


def identity_from_attributes(rdns: Tuple[Tuple[Tuple[str, str], ...], ...]) -> Optional[TokenIdentity]:
    """The identity a token subject carries, given as its RDNs of (short name, value) in encoded order, or
    None when it is not a JAliEn token subject."""
    if any(len(rdn) != 1 for rdn in rdns):
        return None  # multi-valued RDNs: JCentral never writes them
    pairs = [rdn[0] for rdn in rdns]
    if tuple(pairs[:2]) != _PREFIX:
        return None
    rest = pairs[2:]
    kinds = [name for name, _value in rest]
    values = [value for _name, value in rest]
    if rest == [("CN", "JobAgent")]:
        return TokenIdentity("jobagent", "jobagent")
    if kinds == ["CN", "CN", "OU"] and values[0] == "Users":
        return TokenIdentity("user", values[1], values[2])
    if kinds == ["CN", "CN", "OU", "OU"] and values[0] == "Jobs":
        return TokenIdentity("job", values[1], values[2], job_extension=values[3],
                             job_fields=split_job_extension(values[3]))
    if kinds == ["OU", "CN"] and values[0] == "ALICE":
        return TokenIdentity("host", None, hostname=values[1])
    return None


def expected_account(token_type: str, user: str) -> Optional[str]:
    """The account every new user token must be for, given the token in use (its type and user, as the
    verdict says): a user token's account (``CN=Users/CN=<account>``), None for any other token.  Changing
    account on purpose means removing that token first (``jenv token-destroy``)."""
    return user if token_type == "user" and user else None
