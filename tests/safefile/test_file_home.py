"""Every file rule has one home, jenv/safefile/: no other module opens with os.open, opens for writing,
renames, links, fsyncs, chmods or makes a file or directory itself (issue 23.2).

Read from the source with ``ast``.  What truly cannot go there is listed below with the reason: none of
it is a file on a filesystem, so no file rule (mode, owner, link, kind, size) applies.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List, Tuple

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "jenv" / "safefile"

#: The calls that create, replace, link, sync or open a file: made in the home only.
FORBIDDEN = {"os.open", "os.replace", "os.rename", "os.renames", "os.fsync", "os.fdatasync", "os.sync", "os.link",
             "os.symlink", "os.chmod", "os.fchmod", "os.lchmod", "os.chown", "os.fchown", "os.lchown", "os.mkdir",
             "os.makedirs", "os.mkfifo", "os.mknod", "os.truncate", "os.ftruncate", "os.memfd_create",
             "tempfile.mkstemp", "tempfile.mkdtemp", "tempfile.NamedTemporaryFile", "tempfile.TemporaryFile",
             "tempfile.TemporaryDirectory", "tempfile.SpooledTemporaryFile", "shutil.copy", "shutil.copy2",
             "shutil.copyfile", "shutil.copytree", "shutil.move"}
_WRITE_MODES = set("wax+")

#: (module, call) -> why it stays where it is.
ELSEWHERE = {
    ("jenv/credentials.py", "os.open"): "/dev/tty, the controlling terminal a passphrase is asked on",
    ("jenv/report/doctor.py", "os.open"): "/dev/tty, to tell whether there is a controlling terminal",
    ("jenv/tokens/agentstart.py", "os.open"): "os.devnull, the detached agent's standard streams",
    ("jenv/tokens/handoff.py", "os.open"): "os.devnull, the standard streams of the scrubbed directory's remover",
    ("jenv/context.py", "open"): "os.devnull for writing, once the reader of stdout went away",
    ("jenv/tokens/judge.py", "os.memfd_create"): "anonymous memory the libraries read as a path (/proc/self/fd), "
                                                 "never on a filesystem",
}


def _file_calls(source: str) -> List[Tuple[str, int]]:
    """(call, line) of each call in ``source`` that touches a file the way only the home may."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in FORBIDDEN or name.endswith((".write_text", ".write_bytes", ".touch", ".symlink_to")):
            found.append((name, node.lineno))
        elif name in ("open", "io.open") and _opens_to_write(node):
            found.append((name, node.lineno))
    return found


def _opens_to_write(call: ast.Call) -> bool:
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    if mode is None:
        return False
    return not isinstance(mode, ast.Constant) or bool(_WRITE_MODES & set(str(mode.value)))


def _outside_the_home() -> List[Tuple[str, str, int]]:
    found = []
    for path in sorted((REPO / "jenv").rglob("*.py")):
        if HOME in path.parents:
            continue
        module = path.relative_to(REPO).as_posix()
        found.extend((module, call, line) for call, line in _file_calls(path.read_text()))
    return found


def test_no_module_outside_the_home_touches_a_file_itself():
    stray = [f"{module}:{line} {call}()" for module, call, line in _outside_the_home()
             if (module, call) not in ELSEWHERE]
    assert stray == [], "call jenv.safefile for these (or list why one truly cannot): " + ", ".join(stray)


def test_every_exception_is_still_needed():
    """An entry of ELSEWHERE whose call went away (or went home) is removed, so the list stays the truth."""
    seen = {(module, call) for module, call, _line in _outside_the_home()}
    assert sorted(set(ELSEWHERE) - seen) == []


def test_the_checker_sees_each_kind_of_call():
    """The negative twin: each way of touching a file is found in a module's source, reads are not."""
    source = "\n".join([
        "import os, tempfile",
        "fd = os.open(p, os.O_RDONLY)",
        "os.replace(a, b)",
        "os.rename(a, b)",
        "os.fsync(fd)",
        "os.makedirs(d, exist_ok=True)",
        "tempfile.mkdtemp()",
        "handle = open(p, 'w')",
        "handle = open(p, mode='ab')",
        "handle = open(p, chosen_mode)",
        "Path(p).write_bytes(b'')",
        "handle = open(p)",
        "handle = open(p, 'rb')",
        "text = data.replace('a', 'b')",
    ])
    calls = [call for call, _line in _file_calls(source)]
    assert calls == ["os.open", "os.replace", "os.rename", "os.fsync", "os.makedirs", "tempfile.mkdtemp", "open",
                     "open", "open", "Path(p).write_bytes"]


def test_the_home_is_where_the_calls_are():
    """The home itself makes these calls (so the scan above looks at the right thing)."""
    calls = {call for path in HOME.rglob("*.py") for call, _line in _file_calls(path.read_text())}
    assert {"os.open", "os.replace", "os.fsync", "os.link", "os.makedirs", "os.rename", "os.symlink"} <= calls


def test_the_home_index_names_every_public_function_of_its_modules():
    """``from jenv.safefile import X`` finds each public name of each module of the home (the index in
    jenv/safefile/__init__.py and the modules' ``__all__`` agree), and nothing else."""
    import importlib

    import jenv.safefile as home

    public = {}
    for path in sorted(HOME.glob("*.py")):
        if path.stem != "__init__":
            module = importlib.import_module(f"jenv.safefile.{path.stem}")
            public.update({name: path.stem for name in module.__all__})
    assert home._HOME == public
    assert all(getattr(home, name) is getattr(importlib.import_module(f"jenv.safefile.{where}"), name)
               for name, where in public.items())
