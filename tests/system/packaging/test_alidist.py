"""The aliBuild recipe packaging/alidist/jenv.sh: its body run as aliBuild runs it, the installation
moved elsewhere, and jenv used from there with nothing but the modulefile's settings.

Slow: pip downloads jenv's dependencies from the package index (skipped, saying so, where it cannot
be reached; CI reaches it).  The recipe's bash body (after the YAML header's ``---``) runs with the
variables aliBuild sets, in a build directory of its own, with a Python interpreter's directory on
PATH as Python-modules puts it there (the interpreter's own, not this test's virtual environment).
The tree is then moved, as aliBuild's relocation and CVMFS move it; the modulefile's ``prepend-path``
lines, resolved for the new place, are the only jenv settings of the runs that follow: ``jenv
--version``, then ``jenv sandbox`` (a throwaway CA, user and local JCentral) getting a token with the
moved ``jenv``.  The moved tree is compared before and after: nothing is written at run time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from jenv import __version__

from support.snapshot import snapshot
from test_build import REPO

RECIPE = REPO / "packaging" / "alidist" / "jenv.sh"


def header_and_body() -> tuple:
    text = RECIPE.read_text()
    header, body = text.split("\n---\n", 1)
    return header, body


def test_header_names_the_package_its_version_and_what_it_needs():
    header, body = header_and_body()
    fields = dict(re.findall(r"^(\w+): *(.*)$", header, re.M))
    assert fields["package"] == "jenv" and fields["tag"].strip('"') == f"v{__version__}"
    assert re.search(r"^requires:\n(  - .+\n)*  - Python-modules", header + "\n", re.M)
    assert re.search(r"^build_requires:\n  - alibuild-recipe-tools", header, re.M)
    assert body.startswith("#!/bin/bash -e\n")
    assert "$INSTALLROOT" not in body.split("<<'EoF'", 1)[1].split("\nEoF\n", 1)[0]  # the launcher


def test_recipe_installs_a_jenv_that_works_after_the_tree_moved(tmp_path, package_index, clean_copy):
    source = clean_copy(tmp_path / "jenv")
    python = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    pybin = tmp_path / "python-modules" / "bin"
    pybin.mkdir(parents=True)
    (pybin / "python3").symlink_to(python)
    sw, arch = tmp_path / "sw", "slc9_x86-64"
    version, revision, pkghash = f"v{__version__}", "1", "0123abcd"
    root = sw / arch / "jenv" / f"{version}-{revision}"
    build = tmp_path / "BUILD"
    build.mkdir()
    _header, body = header_and_body()
    env = {"PATH": f"{pybin}:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
           "INSTALLROOT": str(root), "SOURCEDIR": str(source), "BUILDDIR": str(build), "PKGNAME": "jenv",
           "PKGVERSION": version, "PKGREVISION": revision, "PKGHASH": pkghash, "ARCHITECTURE": arch,
           "JOBS": "2", **{k: v for k, v in os.environ.items() if k.startswith("PIP_")}}
    built = subprocess.run(["bash", "-e", "-c", body], cwd=build, env=env, capture_output=True, text=True,
                           timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    module = (root / "etc" / "modulefiles" / "jenv").read_text()
    # aliBuild writes the revision into the modulefile when it installs or relocates the package.
    module = module.replace(f"@@PKGREVISION@{pkghash}@@", revision)

    moved_sw = tmp_path / "elsewhere" / "sw"
    moved_sw.parent.mkdir()
    shutil.move(str(sw), str(moved_sw))
    moved = moved_sw / arch / "jenv" / f"{version}-{revision}"
    assert not sw.exists()

    basedir = str(moved_sw / arch)
    jenv_root = re.search(r"^set JENV_ROOT (.+)$", module, re.M).group(1)
    jenv_root = jenv_root.replace("$::env(BASEDIR)", basedir).replace("$version", f"{version}-{revision}")
    assert jenv_root == str(moved)
    user = {"PATH": f"{pybin}:/usr/bin:/bin", "HOME": str(tmp_path / "user"), "LANG": "C.UTF-8"}
    for name, sub in re.findall(r"^prepend-path (\w+) \$JENV_ROOT(\S*)$", module, re.M):
        user[name] = jenv_root + sub + (":" + user[name] if name in user else "")
    assert {"PATH", "PYTHONPATH"} <= set(user)
    (tmp_path / "user").mkdir()

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), env=user, cwd=tmp_path / "user", capture_output=True, text=True,
                              timeout=120)

    # The interpreter's own start-up (the .pth files of its site-packages) may touch packages on
    # PYTHONPATH: it runs once, importing nothing, before the tree is compared with what jenv leaves.
    assert run("python3", "-c", "pass").returncode == 0
    before = snapshot(moved)
    version_run = run("jenv", "--version")
    assert (version_run.returncode, version_run.stdout, version_run.stderr) == (0, f"jenv {__version__}\n", "")
    where = run("python3", "-c", "import jenv, cryptography, OpenSSL; print(jenv.__file__, cryptography.__file__, "
                "OpenSSL.__file__)")
    assert [Path(p).is_relative_to(moved) for p in where.stdout.split()] == [True] * 3, where
    token = run("jenv", "sandbox", "--", "sh", "-c",
                'eval "$(jenv token)" && command -v jenv && jenv token-info')
    assert token.returncode == 0, token.stderr
    assert token.stdout.splitlines()[0] == str(moved / "bin" / "jenv")
    assert "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe" in token.stdout + token.stderr
    man = run("man", "-w", "jenv")
    if man.returncode != 127:
        assert man.stdout.strip() == str(moved / "share" / "man" / "man1" / "jenv.1")
    assert snapshot(moved) == before  # nothing written at run time (no byte code, no cache)
