"""Fixtures of the CA tests: a home with ~/.globus, and a previous CA store in it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.ca_server import ROOT, openssl_hash


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    (h / ".globus").mkdir(parents=True)
    return h


@pytest.fixture
def old_store(home: Path) -> Path:
    """A previous, working store: one CA and its link."""
    store = home / ".globus" / "certificates"
    store.mkdir()
    (store / "Previous.pem").write_bytes(ROOT.pem)
    os.symlink("Previous.pem", store / f"{openssl_hash(ROOT.pem)}.0")
    return store
