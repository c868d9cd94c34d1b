"""Fixtures of the bad-input corpus: one world (CA, user, tokens, services) for the session."""

from __future__ import annotations

from typing import Iterator

import pytest

from support.corpus_lab import World, build_world, serve_world

@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Iterator[World]:
    with serve_world(build_world(tmp_path_factory.mktemp("corpus-world"))) as served:
        yield served
