"""Shared fixtures (a session-wide test PKI, the fixtures several folders use), the key-scan summary and
the two tiers (support/tiers.py); helpers live in tests/support/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import support.signals  # noqa: E402,F401  (before any process starts: SIGHUP, SIGINT, SIGQUIT not ignored)
from support.launcher import HOSTILE, SCANNED, Result, clean_env, leaked_key_material, run_jenv  # noqa: E402,F401
from support.pki import TestCA  # noqa: E402
from support.tiers import (pytest_collection_modifyitems, pytest_ignore_collect,  # noqa: E402,F401
                           quick_tests_start_no_process)
# fixtures shared by several folders
from support.offline_fixtures import expired_leaf, future_leaf, setup, token_leaf, user_ec, user_rsa  # noqa: E402,F401
from support.service_fixtures import endpoint, pki, root, service, service_run, write_cred  # noqa: E402,F401


def pytest_sessionfinish(session):
    """Under pytest-xdist each worker counts its own runs: hand them to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["scanned"] = dict(SCANNED)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_testnodedown(node, error):
    for key, value in getattr(node, "workeroutput", {}).get("scanned", {}).items():
        SCANNED[key] += value


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"jenv runs scanned for private-key material: {SCANNED['runs']} "
        f"({SCANNED['content_runs']} in explicit content mode, stdout allowed there); JSON documents valid "
        f"under their schema: {SCANNED.get('json_documents', 0)}")


@pytest.fixture(scope="session")
def root_ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="session")
def inter_ca(root_ca: TestCA) -> TestCA:
    return root_ca.child_ca()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h
