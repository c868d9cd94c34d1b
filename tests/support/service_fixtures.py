"""Fixtures of the JCentral client and service tests (tests/jcentral/, tests/service/, tests/core/): a local CA,
registered users, the service in a thread; imported by tests/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from jenv.locations import Endpoint
from jenv.service.server import LocalService
from support.service import USERS, World, build_world, identity_at, running, write_credential  # noqa: F401

Pki = World  # the name these tests use


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("pki"), "/C=ch/O=jenv test/CN=jenv test service CA")


@pytest.fixture(scope="session")
def service_run(pki) -> Iterator[Tuple[LocalService, Endpoint]]:
    with running(pki) as service:
        yield service.service, service.endpoint


@pytest.fixture
def service(service_run) -> LocalService:
    return service_run[0]


@pytest.fixture
def endpoint(service_run) -> Endpoint:
    return service_run[1]


def pem_text(path: os.PathLike) -> str:
    return Path(path).read_text()


@pytest.fixture(scope="session")
def write_cred():
    """write_credential(credential, directory, stem="user") -> ClientIdentity."""
    return write_credential


@pytest.fixture(scope="session")
def root():
    """The shared test helpers (run_jenv, clean_env, leaked_key_material)."""
    from support import launcher as jenvtest
    return jenvtest