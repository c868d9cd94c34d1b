"""The two tiers of the suite: a quick test starts no process; a ``slow`` one may.

``slow`` marks a test that starts a process of any kind: jenv as ``python -m jenv``, a shell, strace,
openssl, curl, alien.py, a pseudo-terminal, or a fork of the test itself.  tests/conftest.py marks every
test under tests/system/ slow; elsewhere a module says ``pytestmark = pytest.mark.slow`` (or one test
``@pytest.mark.slow``).  While a quick test and its function-scoped fixtures run, :func:`watching`
records every process started through :mod:`subprocess` or ``os.fork``/``os.forkpty``/``os.posix_spawn``/
``os.system``, and :func:`quick_tests_start_no_process` fails the test when one was.  tests/conftest.py
imports the hooks and the fixture (so does ``-p support.tiers``).  Under ``-m "not slow"`` exactly,
:func:`pytest_ignore_collect` does not even import tests/system/ and the modules whose ``pytestmark`` is
``pytest.mark.slow`` (read from the source): their corpora, built at import, cost the quick tier half
its time otherwise.  Session and module fixtures are
outside the watch: they run once for whichever test comes first (under pytest-xdist, any of them), and
some build certificates with openssl (:meth:`support.pki.TestCA.alien_like_ca`).
"""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

__all__ = ["SYSTEM", "pytest_collection_modifyitems", "pytest_ignore_collect", "quick_tests_start_no_process",
           "watching"]

#: The cross-cutting suites: every test in there is slow.
SYSTEM = Path(__file__).resolve().parents[1] / "system"

#: Where the current watch records the processes started (None: nobody watches).
_started: Optional[List[str]] = None


def _record(what: str) -> None:
    if _started is not None:
        _started.append(what)


def _wrap(name: str, original: Callable, describe: Callable[..., str]) -> Callable:
    def wrapper(*args, **kwargs):
        _record(f"{name}({describe(*args, **kwargs)})")
        return original(*args, **kwargs)
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


def _install() -> None:
    """Wrap the ways a test can start a process, once per interpreter (each pytest-xdist worker)."""
    if getattr(subprocess.Popen._execute_child, "__wrapped__", None) is not None:  # type: ignore[attr-defined]
        return
    subprocess.Popen._execute_child = _wrap(  # type: ignore[attr-defined]
        "subprocess", subprocess.Popen._execute_child,  # type: ignore[attr-defined]
        lambda self, args, *rest, **kw: repr(args if isinstance(args, (str, bytes)) else list(args)))
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            setattr(os, name, _wrap(f"os.{name}", getattr(os, name), lambda *a, **k: repr(a[:2]) if a else ""))


@contextlib.contextmanager
def watching(started: List[str]) -> Iterator[List[str]]:
    """Record into ``started`` each process started inside the block (a nested watch hides its
    processes from the outer one, so a test of the watch can start one)."""
    global _started
    _install()
    outer, _started = _started, started
    try:
        yield started
    finally:
        _started = outer


def pytest_collection_modifyitems(items):
    """Every test under tests/system/ is slow: real shells, the corpora, secrets, crashes, the soak."""
    for item in items:
        if SYSTEM in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def quick_tests_start_no_process(request):
    """A test not marked slow fails when it, or one of its function-scoped fixtures, starts a process."""
    if request.node.get_closest_marker("slow"):
        yield
        return
    with watching([]) as started:
        yield
    if started:
        pytest.fail(f"a quick test started {len(started)} process(es), first {started[0]}: "
                    "mark it slow (tests/README.md)", pytrace=False)


def _is_slow_mark(node: ast.AST) -> bool:
    return ast.unparse(node) == "pytest.mark.slow"


def marked_slow(source: str) -> bool:
    """The module says ``pytestmark = pytest.mark.slow`` (alone or in a list)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            return any(_is_slow_mark(value) for value in values)
    return False


def pytest_ignore_collect(collection_path: Path, config) -> Optional[bool]:
    """The quick tier (``-m "not slow"``) skips what is slow as a whole without importing it."""
    if (config.getoption("markexpr", "") or "").replace(" ", "") != "notslow":
        return None
    path = Path(collection_path).resolve()
    if path == SYSTEM or SYSTEM in path.parents:
        return True
    if path.suffix == ".py" and path.name.startswith("test_") and marked_slow(path.read_text()):
        return True
    return None
