"""Fixtures for the token command tests (tests/tokens/, tests/system/crash/, tests/system/alienpy/): the local JCentral service over real TLS on 127.0.0.1."""

from __future__ import annotations

from typing import Iterator

import pytest

from support.tokenkit import run_in_process, token_paths
from support.snapshot import snapshot
from support.service import USERS, Service, build_world, running  # noqa: F401  (USERS: for the tests)

CA_DN = "/C=ch/O=jenv test/CN=jenv token test CA"


@pytest.fixture(scope="session", params=["test-ca", "serial-0-ca"])
def svc(request, tmp_path_factory) -> Iterator[Service]:
    """The service, once with the suite's test CA and once with its twin shaped like AliEn2-CA
    (serial number 0, pathlen 0, authority key identifier with issuer and serial), so every
    token test also runs against a CA like the one that signs real tokens."""
    world = build_world(tmp_path_factory.mktemp("tokens-pki"), CA_DN, serial_zero=request.param == "serial-0-ca")
    with running(world) as service:
        yield service


@pytest.fixture(scope="module")
def server_tls(svc):
    """The service's own TLS server context, for fault servers that stand in for JCentral."""
    return svc.service.ssl_context()


@pytest.fixture
def with_token(svc, home):
    """An environment with a valid token already in place, and its snapshot."""
    env = svc.env(home)
    assert run_in_process(["token-init"], env).returncode == 0
    cert_path, key_path = token_paths(env)
    return env, (snapshot(cert_path), snapshot(key_path))
