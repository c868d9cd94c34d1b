"""The vetting's longest token is what JCentral grants for the request (jenv.jcentral.rules.granted_days,
rights unknown: the most any requester gets), not the token type's maximum: ``-v 7`` gets 7 days from
JCentral (JAliEnCommandtoken.java passes it on, GetTokenCertificate.java grants it), ``-v 0`` gets 2
(GetTokenCertificate.java), so a longer token is not a token for what was asked."""

from __future__ import annotations

import pytest

from support import faultservers as faults
from test_token_vetting import _answer, _refused, _replying, _token
from support.snapshot import snapshot
from support.tokenkit import run_in_process, token_paths

pytestmark = pytest.mark.slow  # jenv, agents or commands as processes


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("validity, days, granted", [("7", 31, 7), ("0", 31, 2), ("-3", 7, 2)])
def test_a_token_longer_than_granted_for_the_request_is_refused(svc, with_token, server_tls, validity, days,
                                                                 granted):
    authority = svc.service.authority
    _refused(with_token, server_tls, _answer(_token(authority.cert, authority.key, days=days)),
             [["token-init", "-v", validity]], f"longer than JCentral gives a user token ({granted} days)")


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("validity, days", [("7", 7), ("0", 2)])
def test_the_twin_the_granted_days_are_accepted(svc, with_token, server_tls, validity, days):
    env, before = with_token
    authority = svc.service.authority
    with faults.ws_server(server_tls, _replying(_answer(_token(authority.cert, authority.key, days=days)))) as port:
        result = run_in_process(["token-init", "-v", validity], dict(env, ALIENPY_JCENTRAL_PORT=str(port)))
    assert result.returncode == 0, result.stderr
    assert snapshot(token_paths(env)[0]) != before[0]
