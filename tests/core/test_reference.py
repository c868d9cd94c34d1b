"""The reference cannot drift (issue 26.2, 26.3): docs/reference.md and the man page are generated from
the code's own usage texts, variables table and exit-code table by tools/reference.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import reference  # noqa: E402

_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def test_the_committed_reference_is_what_the_code_says():
    stale = [str(path.relative_to(REPO)) for path, text in reference.outputs().items()
             if not path.exists() or path.read_text() != text]
    assert stale == [], "run: python tools/reference.py"


def test_the_check_mode_sees_a_stale_file(tmp_path, monkeypatch):
    """The negative twin: a reference that differs from the code is named."""
    stale = tmp_path / "reference.md"
    stale.write_text("# an old reference\n")
    monkeypatch.setattr(reference, "MARKDOWN", stale)
    assert reference.main(["--check"]) == 1


def _options(text: str) -> set:
    return {match.group(1) for match in _OPTION.finditer(text)}


def test_every_option_of_every_usage_is_in_the_man_page_and_the_reverse():
    page = reference.MAN_PAGE.read_text().replace("\\-", "-")
    commands = page.split(".SH COMMANDS", 1)[1].split(".SH ENVIRONMENT", 1)[0]
    usage_options = set().union(*(_options(usage) for _name, usage in reference.commands()))
    assert usage_options - _options(commands) == set()
    assert _options(commands) - usage_options == set()
    environment = page.split(".SH ENVIRONMENT", 1)[1].split(".SH FILES", 1)[0]
    assert [name for name in reference.VARIABLES if ".B " + name + "\n" not in environment] == []


@pytest.mark.skipif(shutil.which("mandoc") is None and shutil.which("groff") is None,
                    reason="neither mandoc nor groff is installed")
@pytest.mark.slow
def test_the_man_page_is_clean_roff():
    if shutil.which("mandoc"):
        proc = subprocess.run(["mandoc", "-T", "lint", str(reference.MAN_PAGE)], capture_output=True, text=True)
        assert proc.stdout + proc.stderr == ""
    else:
        proc = subprocess.run(["groff", "-ww", "-z", "-man", str(reference.MAN_PAGE)], capture_output=True, text=True)
        assert proc.stderr == ""


def test_jenv_help_shows_what_the_page_says():
    from jenv.cli import command_usage

    page = reference.MAN_PAGE.read_text()
    for name, usage in reference.commands():
        assert usage == command_usage(name)
        assert reference._roff(usage) in page
