"""Fixtures of the secrets tests: a sandbox with its local service (``root``, the
shared helpers, comes from tests/conftest.py)."""

from __future__ import annotations

from typing import Dict, Iterator

import pytest

from jenv.service.sandbox import SandboxPaths, create_sandbox, load_service_files, sandbox_environment
from jenv.service.server import LocalService, load_user_map, run_service


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Iterator[Dict[str, str]]:
    """A sandbox (CA, user) with its service running; yields the variables that reach it."""
    paths = SandboxPaths.at(str(tmp_path_factory.mktemp("secrets") / "sandbox"))
    create_sandbox(paths.root)
    authority, server = load_service_files(paths)
    with run_service(LocalService(authority, server, load_user_map(paths.users))) as (host, port):
        yield sandbox_environment(paths, host, port)
