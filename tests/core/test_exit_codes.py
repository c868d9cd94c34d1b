"""The exit-code texts have one home (``ExitCode``): the reference's generated table and ``jenv --help`` quote it."""

from __future__ import annotations

import re
from pathlib import Path

from jenv.errors import EXIT_CODE_TABLE, ExitCode

REFERENCE = (Path(__file__).resolve().parents[2] / "docs" / "reference.md").read_text()


def test_reference_exit_code_table_is_exitcode():
    section = REFERENCE[REFERENCE.index("## Exit codes"):]
    rows = re.findall(r'^\| <a id="exit-(\d+)"></a>(\d+) \| (.+?) \|$', section, re.M)
    assert all(anchor == code for anchor, code, _text in rows)
    assert {int(code): text for _anchor, code, text in rows} == {int(code): code.text for code in ExitCode}


def test_every_code_has_its_text_once():
    assert EXIT_CODE_TABLE == {code: code.text for code in ExitCode}
    assert len({code.text for code in ExitCode}) == len(ExitCode)


def test_help_lists_every_code(capsys):
    from jenv.cli import main

    assert main(["--help"], {"HOME": "/nonexistent", "PATH": "/usr/bin"}) == 0
    out = capsys.readouterr().out
    for code in ExitCode:
        assert code.text in out, code
