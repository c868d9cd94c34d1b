"""The days JCentral grants: one function (jenv.jcentral.rules.granted_days), read against the specification.

The oracle is the table of requests and JCentral's answers in test_jcentral_spec.py (each row citing its
JAliEn source); here every row that got a token is asked again of ``granted_days`` alone, and each rule is
stated once with the JAliEn source it comes from (repository FYP-Jalien/jalien-march-18, under
src/main/java/alien/):

  JAliEnCommandtoken    shell/commands/JAliEnCommandtoken.java: no -v is the type's maximum
                        (``validity = tokentype.getMaxValidity()``); above it, a non-admin gets the maximum
                        and "Reducing the validity from <v> to <max> ..."
  GetTokenCertificate   api/token/GetTokenCertificate.java: -v 0 or less is 2 days; an admin gets what was
                        asked up to 400 days, capped with a log line on the server only
  TokenCertificateType  api/token/TokenCertificateType.java: user 31, job and jobagent 2, host 365
  AliEnPrincipal        user/AliEnPrincipal.java: an admin is who ``canBecome("admin")``

The same function gives the local service its days (the table runs against it), the vetting its longest
acceptable token (``admin`` unknown: the longest anyone gets), and the token commands their note on what
JCentral does without saying so.
"""

from __future__ import annotations

import itertools

import pytest

from jenv.jcentral.protocol import TOKEN_TYPES, parse_token_options
from jenv.jcentral.rules import Grant, granted_days
from support.service import USERS
from test_jcentral_spec import CERT, TABLE, _kind

GTC, CMD, TCT, PRINCIPAL = "GetTokenCertificate", "JAliEnCommandtoken", "TokenCertificateType", "AliEnPrincipal"
REDUCING = "Reducing the validity from {} to {} as this is the max allowed value for this type of certificate"
ADMINS = {name for name, (_dn, roles, _mail) in USERS.items() if "admin" in roles}


def _granted_rows():
    """The rows of the specification that got a token with a validity in days (not capped by a certificate)."""
    for case, row in TABLE.items():
        if row.subject is not None and row.days not in (None, CERT):
            yield pytest.param(row, id=case)


@pytest.mark.parametrize("row", list(_granted_rows()))
def test_granted_days_gives_what_the_specification_table_says(row):
    request = parse_token_options(row.options)
    grant = granted_days(_kind(row), request.validity_days, row.who in ADMINS)
    assert grant.days == row.days, row.source
    validity_notice = row.error if row.error.startswith("Reducing the validity") else ""
    assert grant.notice == validity_notice, row.source


def test_the_table_has_rows_for_each_rule():
    """The oracle holds each rule at least once: a default, a reduction, -v <= 0, an admin above the maximum,
    an admin above 400."""
    rows = [param.values[0] for param in _granted_rows()]
    assert any(not any(o == "-v" for o in row.options) for row in rows)
    assert any(row.error.startswith("Reducing") for row in rows)
    assert any("-v" in row.options and int(row.options[row.options.index("-v") + 1]) <= 0 for row in rows)
    assert any(row.who in ADMINS and row.days == 400 for row in rows)
    assert any(row.who in ADMINS and 31 < row.days < 400 for row in rows)


RULES = [
    # (type, -v, admin, days, notice given by JCentral, a note for jenv to give, source)
    ("user", None, False, 31, "", "", f"{CMD}, {TCT}"),
    ("job", None, True, 2, "", "", f"{CMD}, {TCT}"),
    ("jobagent", None, False, 2, "", "", f"{CMD}, {TCT}"),
    ("host", None, True, 365, "", "", f"{CMD}, {TCT}"),
    ("user", 7, False, 7, "", "", CMD),
    ("user", 31, False, 31, "", "", CMD),
    ("user", 32, False, 31, REDUCING.format(32, 31), "", f"{CMD}, {TCT}"),
    ("job", 5, False, 2, REDUCING.format(5, 2), "", f"{CMD}, {TCT}"),
    ("host", 500, False, 365, REDUCING.format(500, 365), "", f"{CMD}, {TCT}"),
    ("user", 0, False, 2, "", "-v 0: JCentral gives 2 days for a validity of 0 or less", GTC),
    ("host", -5, True, 2, "", "-v -5: JCentral gives 2 days for a validity of 0 or less", GTC),
    ("user", 100, True, 100, "", "", f"{GTC}, {PRINCIPAL}"),
    ("job", 300, True, 300, "", "", f"{GTC}, {PRINCIPAL}"),
    ("user", 400, True, 400, "", "", GTC),
    ("user", 401, True, 400, "", "-v 401: JCentral gives an admin at most 400 days, capped without saying so", GTC),
    # rights unknown (the client asking for itself): the longest anyone gets, and what may happen unsaid
    ("user", 100, None, 100, "", "", f"{CMD}, {GTC}"),
    ("user", 500, None, 400, "", "-v 500: JCentral gives at most 400 days, and that only to admins (others get "
                                 "the token type's maximum); it caps an admin's request without saying so", GTC),
    ("jobagent", 0, None, 2, "", "-v 0: JCentral gives 2 days for a validity of 0 or less", GTC),
]


@pytest.mark.parametrize("kind, requested, admin, days, notice, unsaid, source", RULES,
                         ids=[f"{r[0]} -v {r[1]} admin={r[2]}" for r in RULES])
def test_each_rule_with_its_jalien_source(kind, requested, admin, days, notice, unsaid, source):
    assert granted_days(kind, requested, admin) == Grant(days, notice, unsaid), source


@pytest.mark.parametrize("kind", TOKEN_TYPES)
def test_unknown_rights_give_the_longest_anyone_gets(kind):
    """The vetting accepts what any requester could have been granted, and no more: for every -v, the days
    with unknown rights are the most of an admin's and a non-admin's."""
    for requested in itertools.chain([None], range(-3, 410)):
        unknown = granted_days(kind, requested, None).days
        assert unknown == max(granted_days(kind, requested, True).days, granted_days(kind, requested, False).days)


def test_the_days_are_computed_in_one_place():
    """The local service, the vetting, the notices and the token commands call granted_days; none of them
    holds the numbers."""
    import inspect

    from jenv.commands import tokens as commands
    from jenv.service import issuer
    from jenv.tokens import obtain, vet

    for module in (issuer, vet, obtain, commands):
        text = inspect.getsource(module)
        assert "granted_days(" in text, module.__name__
        for constant in ("NON_POSITIVE_DAYS", "ADMIN_MAX_DAYS", "MAX_VALIDITY_DAYS"):
            assert constant not in text, (module.__name__, constant)
