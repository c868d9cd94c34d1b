"""``jenv shims``: alien-token-info & co. that run jenv, for O2's and O2DPG's token checks.

The shim scripts, the probes around them (which interpreter flags jenv imports with, the official
client's commands on PATH), writing them and removing only what jenv wrote.
"""

from __future__ import annotations

import os
import shlex
import sys

from jenv.errors import NotFoundError, UnsafeFileError
from jenv.safefile import check_directory, make_directory, read_small_file, replace_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Mapping, Sequence, Tuple

__all__ = ["SHIMS", "SHIM_MARKER", "shim_text", "is_shim", "interpreter_flags", "on_path", "refusals",
           "install_shims", "remove_shims"]

#: The official client's standalone commands that O2 and O2DPG run -> the jenv command each shim runs.
SHIMS = {
    "alien-token-info": "alien-token-info",
    "alien-token-init": "alien-token-init",
    "alien-token-destroy": "alien-token-destroy",
    "alien-cert-info": "alien-cert-info",
}
#: The line that marks a file as one jenv wrote (and may replace or remove).
SHIM_MARKER = "# jenv shim: written by 'jenv shims'; 'jenv shims --remove' removes it"

#: Python code of a shim: the working directory leaves sys.path first, so a directory holding a
#: "jenv" or "cryptography" of its own cannot take the shim's place.
_SHIM_CODE = "import sys; sys.path[:] = [p for p in sys.path if p]; from jenv.cli import main; sys.exit(main())"


def interpreter_flags(python: str) -> List[str]:
    """``-E`` (ignore PYTHONPATH & co., which O2's environments set for their own packages) when jenv
    imports without them; nothing when jenv itself is only found through them."""
    import subprocess

    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    try:
        probe = subprocess.run([python, "-E", "-c", _SHIM_CODE.split("; from")[0] + "; import jenv.cli"],
                               env=env, cwd="/", capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return ["-E"] if probe.returncode == 0 else []


def shim_text(python: str, command: str, flags: Sequence[str] = ("-E",)) -> str:
    """The shell script of one shim: runs ``python ... jenv <command> "$@"``."""
    words = " ".join(shlex.quote(word) for word in [python, *flags, "-c", _SHIM_CODE, command])
    return f'#!/bin/sh\n{SHIM_MARKER}\nexec {words} "$@"\n'


def is_shim(path: str) -> bool:
    """True when ``path`` is a regular file (not a link) that jenv's shims command wrote."""
    try:
        head = read_small_file(path, 4096, follow_links=False, whole=False)[0]
    except OSError:
        return False
    return SHIM_MARKER.encode() in head


def on_path(name: str, environ, skip: str) -> List[str]:
    """Executables called ``name`` on PATH, outside the directory ``skip``."""
    found = []
    for directory in environ.get("PATH", "").split(os.pathsep):
        if not directory or os.path.abspath(directory) == skip:
            continue
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK) and candidate not in found:
            found.append(candidate)
    return found


def refusals(directory: str, environ, force: bool) -> List[str]:
    problems = []
    for name in SHIMS:
        target = os.path.join(directory, name)
        if os.path.lexists(target) and not is_shim(target):
            if os.path.isdir(target) and not os.path.islink(target):
                problems.append(f"{target} is a directory")
            elif not force:
                problems.append(f"{target} exists and was not written by jenv")
        if not force:
            problems.extend(f"{other} is on PATH (the official client's command, which the shim would shadow "
                            "or be shadowed by)" for other in on_path(name, environ, directory) if not is_shim(other))
    return problems


def _write_shim(target: str, text: str) -> None:
    try:
        replace_file(target, text.encode("utf-8", "surrogateescape"), 0o755)
    except OSError as exc:
        raise NotFoundError(f"cannot write {target}: {exc.strerror}") from None


def install_shims(directory: str, environ: Mapping[str, str], uid: int, force: bool) -> str:
    """Write the shims into ``directory`` (created 0755 when missing); the interpreter they run.

    Refused with UnsafeFileError, before anything is written, when the official client's commands are on
    PATH or a file jenv did not write is in the way (unless ``force``), and when others can write the
    directory (it goes on PATH).  NotFoundError when the directory or a shim cannot be written."""
    problems = refusals(directory, environ, force)
    if problems:
        raise UnsafeFileError(f"not writing the shims: {problems[0]}"
                              + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                              + ": remove it, or use --force")
    try:
        make_directory(directory, 0o755)
    except OSError as exc:
        raise NotFoundError(f"cannot create {directory}: {exc.strerror}") from None
    # private: the directory goes on PATH, where a command another user puts beside the shims would run as you
    check_directory(directory, "shims", uid, fix="give --dir a directory of your own", private=True,
                    stake="the shims, and so what runs as alien-token-info and the others")
    python = os.path.abspath(sys.executable)
    flags = interpreter_flags(python)
    for name, command in SHIMS.items():
        _write_shim(os.path.join(directory, name), shim_text(python, command, flags))
    return python


def remove_shims(directory: str) -> Tuple[List[str], List[str]]:
    """Remove the shims jenv wrote in ``directory``: (the names removed, the paths of files jenv did not
    write, left alone)."""
    removed, kept = [], []
    for name in SHIMS:
        target = os.path.join(directory, name)
        if is_shim(target):
            try:
                os.unlink(target)
            except OSError as exc:
                raise NotFoundError(f"cannot remove {target}: {exc.strerror}") from None
            removed.append(name)
        elif os.path.lexists(target):
            kept.append(target)
    return removed, kept
