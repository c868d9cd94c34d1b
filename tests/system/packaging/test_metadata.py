"""What PyPI and a user read of the package: valid trove classifiers, the project's links, one version
(``jenv --version``, the changelog's newest release), checked on the checkout without building."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from jenv import __version__
from support.launcher import clean_env, run_in_process

REPO = Path(__file__).resolve().parents[3]

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")


def project() -> dict:
    with open(REPO / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


def test_classifiers_are_pypis():
    from trove_classifiers import classifiers, deprecated_classifiers

    given = project()["classifiers"]
    assert given and len(set(given)) == len(given)
    assert [c for c in given if c not in classifiers or c in deprecated_classifiers] == []


def test_python_classifiers_follow_requires_python():
    """Each Python version classifier is one that requires-python admits, and the lowest is there."""
    data = project()
    lowest = tuple(int(n) for n in re.fullmatch(r">=(\d+)\.(\d+)", data["requires-python"]).groups())
    versions = [tuple(int(n) for n in c.rsplit(":: ", 1)[1].split("."))
                for c in data["classifiers"] if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert lowest in versions and all(v >= lowest for v in versions)


def test_urls_are_real_pages_not_placeholders():
    urls = project()["urls"]
    assert urls and all(re.fullmatch(r"https://[a-z0-9.-]+\.[a-z]+(/[\w./-]*)?", u) for u in urls.values()), urls
    assert not [u for u in urls.values() if re.search(r"example|TODO|xxx|<", u)]


def test_version_is_the_changelogs_newest_release(tmp_path):
    assert run_in_process(["--version"], clean_env(tmp_path)).stdout == f"jenv {__version__}\n"
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+[^\]]*)\] - \d{4}-\d{2}-\d{2}$",
                          (REPO / "CHANGELOG.md").read_text(), re.M)
    assert releases and releases[0] == __version__
