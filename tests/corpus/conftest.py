"""Fixtures of the bad-input corpus: one world (CA, user, tokens, services) for the session."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from corpus_lab import World, build_world, serve_world

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


@pytest.fixture(scope="session")
def root_conftest(request):
    """tests/conftest.py as pytest loaded it (its run checks and scan counters are the ones reported)."""
    for plugin in request.config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "/").resolve() == ROOT_CONFTEST:
            return plugin
    raise RuntimeError(f"{ROOT_CONFTEST} is not loaded")


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Iterator[World]:
    with serve_world(build_world(tmp_path_factory.mktemp("corpus-world"))) as served:
        yield served
