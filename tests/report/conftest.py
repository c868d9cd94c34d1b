"""Fixtures for the ``jenv doctor`` tests: the local JCentral service over real TLS on 127.0.0.1."""

from __future__ import annotations

from typing import Iterator

import pytest

from support.service import Service, build_world, running

CA_DN = "/C=ch/O=jenv test/CN=jenv doctor test CA"


@pytest.fixture(scope="session")
def svc(tmp_path_factory) -> Iterator[Service]:
    world = build_world(tmp_path_factory.mktemp("doctor-pki"), CA_DN)
    with running(world) as service:
        yield service
