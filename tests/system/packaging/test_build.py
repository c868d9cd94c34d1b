"""The wheel and sdist of ``python -m build`` from a clean copy of the checkout, installed with pipx.

Slow: it builds in an isolated environment and installs jenv's dependencies, both downloaded from the
package index (skipped, saying so, where the index cannot be reached; CI reaches it).  Each artifact
goes into its own pipx home (PIPX_HOME, PIPX_BIN_DIR, PIPX_MAN_DIR in the test's directory), and the
installed command, man page, completions and JSON schemas are checked as a user meets them.
"""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from jenv import __version__

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "jenv" / "data"
#: The files under jenv/data that every installation carries (man page, completions, schemas, shell).
DATA_FILES = sorted(str(p.relative_to(REPO)) for p in DATA.rglob("*") if p.is_file())


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


def test_wheel_carries_the_data_and_the_man_page_where_man_finds_it(dists):
    with zipfile.ZipFile(dists["wheel"]) as archive:
        names = set(archive.namelist())
        assert set(DATA_FILES) <= names, sorted(set(DATA_FILES) - names)
        man = f"jenv-{__version__}.data/data/share/man/man1/jenv.1"
        assert archive.read(man) == (DATA / "man" / "man1" / "jenv.1").read_bytes()
        assert f"jenv-{__version__}.data/scripts/jenv" in names
    assert any(p.name.endswith(".json") for p in DATA.rglob("schemas/*")) and any(
        n.startswith("jenv/data/schemas/") for n in names)


def test_wheel_metadata_version_classifiers_and_links(dists):
    metadata = wheel_metadata(dists["wheel"])
    assert metadata["Version"] == __version__
    assert metadata.get_all("Classifier") and all(c.count(" :: ") for c in metadata.get_all("Classifier"))
    links = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL"))
    assert links["Documentation"].startswith("https://")


def test_sdist_carries_what_a_packager_reads(dists):
    with tarfile.open(dists["sdist"]) as archive:
        top = f"jenv-{__version__}/"
        names = {n[len(top):] for n in archive.getnames() if n.startswith(top)}
    want = {"pyproject.toml", "README.md", "CHANGELOG.md", "bin/jenv", "packaging/alidist/jenv.sh",
            "packaging/README.md", *DATA_FILES}
    assert want <= names, sorted(want - names)


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_pipx_install_gives_jenv_its_man_page_and_completions(kind, dists, tmp_path):
    pipx = {"PIPX_HOME": tmp_path / "pipx", "PIPX_BIN_DIR": tmp_path / "bin", "PIPX_MAN_DIR": tmp_path / "man"}
    env = dict(os.environ, **{k: str(v) for k, v in pipx.items()}, HOME=str(tmp_path / "home"))
    env.pop("VIRTUAL_ENV", None)
    installed = subprocess.run([sys.executable, "-m", "pipx", "install", "--python", sys.executable,
                                str(dists[kind])], env=env, capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    jenv = pipx["PIPX_BIN_DIR"] / "jenv"
    user = {"PATH": f"{pipx['PIPX_BIN_DIR']}:/usr/bin:/bin", "HOME": env["HOME"], "LANG": "C.UTF-8",
            "MANPATH": str(pipx["PIPX_MAN_DIR"])}

    def run(*args: str) -> str:
        result = subprocess.run([str(jenv), *args], env=user, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return result.stdout

    assert run("--version") == f"jenv {wheel_metadata(dists['wheel'])['Version']}\n"
    page = pipx["PIPX_MAN_DIR"] / "man1" / "jenv.1"
    assert page.read_bytes() == (DATA / "man" / "man1" / "jenv.1").read_bytes()
    where = subprocess.run(["man", "-w", "jenv"], env=user, capture_output=True, text=True, timeout=60)
    if where.returncode != 127:  # man-db present: it finds the page through pipx's directory
        assert Path(where.stdout.strip()).resolve() == page.resolve()
    for shell, name in (("bash", "jenv.bash"), ("zsh", "_jenv"), ("fish", "jenv.fish")):
        assert run("completion", shell) == (DATA / "completions" / name).read_text()
    venv_data = next((pipx["PIPX_HOME"] / "venvs" / "jenv").rglob("site-packages/jenv/data"))
    assert sorted(p.name for p in (venv_data / "schemas").iterdir()) == sorted(
        p.name for p in (DATA / "schemas").iterdir())
    hook = subprocess.run([str(jenv), "hook", "bash"], env=user, capture_output=True, text=True, timeout=60)
    assert f". {venv_data / 'completions' / 'jenv.bash'} " in hook.stdout  # the login line loads them
