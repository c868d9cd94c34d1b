"""A refused token says "the previous token is unchanged" only when there is a previous token, and it is
(issue 23 item 3): a run that would replace the token files says it when they hold a token, and not when
there is none; a run that prints the token as content replaces nothing and does not say it.

An impostor JCentral (the fault server with a certificate of the store CA) answers with tokens the vetting
refuses for each kind of reason (the key, the CA, the subject); jenv runs in-process.
"""

from __future__ import annotations

from typing import Dict, List

import pytest

from support import faultservers as faults
from test_token_vetting import KEY_PEM, _answer, _replying, _token
from support.snapshot import snapshot
from support.tokenkit import run_in_process, token_paths

pytestmark = pytest.mark.slow  # jenv, agents or commands as processes


def _answers(svc) -> Dict[str, str]:
    """One refused answer per step of the vetting."""
    authority = svc.service.authority
    from jenv.service.authority import Authority

    stranger = Authority.create("/C=ch/O=jenv test/CN=jenv token test CA")
    other_key = stranger.issue_user("/C=ch/O=x/CN=other").key_pem().decode()
    return {
        "key of another token": _answer(_token(authority.cert, authority.key), other_key),
        "two certificates": _answer(_token(authority.cert, authority.key) * 2, KEY_PEM),
        "foreign CA": _answer(_token(stranger.cert, stranger.key)),
        "wrong subject": _answer(_token(authority.cert, authority.key, dn="/C=ch/O=AliEn2/CN=Jobs/CN=jdoe")),
    }


def _run(env: Dict[str, str], answer: str, server_tls, command: List[str], content: bool = False):
    with faults.ws_server(server_tls, _replying(answer)) as port:
        return run_in_process(command, dict(env, ALIENPY_JCENTRAL_PORT=str(port), JENV_TIMEOUT="15"),
                              content_mode=content)


REPLACING = [["token-init"], ["token", "--min-valid", "400d"]]


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("command", REPLACING, ids=" ".join)
def test_with_a_previous_token_the_refusal_says_it_is_unchanged(svc, with_token, server_tls, command):
    env, before = with_token
    for reason, answer in _answers(svc).items():
        result = _run(env, answer, server_tls, command)
        assert result.returncode in (4, 6) and len(result.stderr.splitlines()) == 1, (reason, result.stderr)
        assert "nothing was written, the previous token is unchanged" in result.stderr, (reason, result.stderr)
        assert (snapshot(token_paths(env)[0]), snapshot(token_paths(env)[1])) == before, reason


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
@pytest.mark.parametrize("command", REPLACING, ids=" ".join)
def test_without_a_previous_token_the_refusal_names_none(svc, home, server_tls, command):
    env = svc.env(home)
    for reason, answer in _answers(svc).items():
        result = _run(env, answer, server_tls, command)
        assert result.returncode in (4, 6) and len(result.stderr.splitlines()) == 1, (reason, result.stderr)
        assert "nothing was written" in result.stderr and "previous token" not in result.stderr, (reason,
                                                                                                result.stderr)
        assert not token_paths(env)[0].exists() and not token_paths(env)[1].exists(), reason


@pytest.mark.parametrize("svc", ["test-ca"], indirect=True)
def test_content_replaces_nothing_so_names_no_previous_token(svc, with_token, server_tls):
    env, before = with_token
    for reason, answer in _answers(svc).items():
        result = _run(env, answer, server_tls, ["token", "--content", "--shell", "sh"], content=True)
        assert result.returncode in (4, 6) and result.stdout == "", (reason, result.stderr)
        assert "previous token" not in result.stderr, (reason, result.stderr)
        assert (snapshot(token_paths(env)[0]), snapshot(token_paths(env)[1])) == before, reason
