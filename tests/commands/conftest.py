"""Fixtures for the tests of the token outside the login shell: the local JCentral service (over real TLS
on 127.0.0.1) and a valid token made through it."""

from __future__ import annotations

from typing import Dict, Iterator

import pytest

from support.launcher import run_in_process
from support.service import Service, build_world, running

CA_DN = "/C=ch/O=jenv test/CN=jenv elsewhere test CA"


@pytest.fixture(scope="session", params=["test-ca", "serial-0-ca"])
def svc(request, tmp_path_factory) -> Iterator[Service]:
    """The service with the suite's test CA, and with its twin shaped like AliEn2-CA (serial 0)."""
    world = build_world(tmp_path_factory.mktemp("elsewhere-pki"), CA_DN, serial_zero=request.param == "serial-0-ca")
    with running(world) as service:
        yield service


@pytest.fixture
def env(svc, home) -> Dict[str, str]:
    """A clean environment for jdoe with a valid token in the default files."""
    environ = svc.env(home)
    result = run_in_process(["token-init"], environ)
    assert result.returncode == 0, result.stderr
    return environ
