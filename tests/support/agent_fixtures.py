"""Fixtures for the renewal agent (tests/tokens/agent/, tests/system/agent/): the local service issuing short tokens, an encrypted user key, and
agents that are always stopped at the end of a test."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest

from support.agentkit import AgentRun, encrypted_key
from support.service import Service, build_world, running

CA_DN = "/C=ch/O=jenv test/CN=jenv agent test CA"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("agent-pki"), CA_DN)


@pytest.fixture
def svc(world) -> Iterator[Service]:
    """The service on 127.0.0.1; every token it issues lasts 12 seconds."""
    with running(world) as service:
        service.service.token_seconds = 12
        yield service


@pytest.fixture
def agents() -> Iterator[List[AgentRun]]:
    """Agents a test started: each is stopped (and killed if it must be) at the end."""
    started: List[AgentRun] = []
    yield started
    for run in started:
        run.kill()


@pytest.fixture
def env(svc, home):
    """jdoe with an encrypted user key, reaching the service."""
    return svc.env(home, X509_USER_KEY=str(encrypted_key(svc, home)), PYTHONPATH=str(Path(__file__).parents[2]))

