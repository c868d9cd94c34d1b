"""The JCentral client judges the user certificate by the context's clock, not the wall clock (issue 23,
dead code): a run whose clock is past the certificate's end, or before its start, is refused before any
connection, as a run at that time would be."""

from __future__ import annotations

import time

import pytest
from cryptography import x509

from jenv.errors import ExitCode
from support.launcher import run_in_process
from support.service import running

DAY = 86400


@pytest.fixture(scope="module")
def jcentral(pki):
    with running(pki) as service:
        yield service


def _dates(service) -> tuple:
    with open(service.user_files("jdoe")[0], "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    return cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()


@pytest.mark.parametrize("when, words", [("after", "expired"), ("before", "not valid yet|not yet valid")])
def test_the_user_certificate_is_judged_at_the_contexts_time(jcentral, home, when, words):
    import re

    not_before, not_after = _dates(jcentral)
    moment = not_after + DAY if when == "after" else not_before - DAY
    before = jcentral.token_requests
    result = run_in_process(["token-init"], jcentral.env(home), clock=lambda: moment)
    assert result.returncode == ExitCode.NOT_VALID_NOW, result.stderr
    assert len(result.stderr.splitlines()) == 1 and re.search(words, result.stderr), result.stderr
    assert "user certificate" in result.stderr
    assert jcentral.token_requests == before  # refused before connecting


def test_the_twin_a_clock_within_the_certificate_gets_a_token(jcentral, home):
    not_before, not_after = _dates(jcentral)
    assert not_before < time.time() < not_after
    result = run_in_process(["token-init"], jcentral.env(home), clock=time.time)
    assert result.returncode == 0, result.stderr
