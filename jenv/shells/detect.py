"""Which shell jenv's output is for: ``--shell``, the parent process, ``$SHELL``, then sh.

The parent process comes first because inside ``eval "$(jenv token)"`` the
parent of jenv is the shell that will read the output, which may differ from
the login shell named by ``$SHELL`` (trusting ``$SHELL`` first is the most
reported bug of similar tools).  shellingham walks past the python
interpreter, so ``python -m jenv`` and console scripts are detected alike.
Detection never fails: anything going wrong falls through to the next rule
(shellingham's README: "your application should almost never do this to your
user").
"""

from __future__ import annotations

import os

from jenv.errors import UsageError
from jenv.lite.record import record
from jenv.shells.base import SHELL_FAMILIES, SHELL_NAMES, ShellFamily, canonical_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path detects the shell: no typing or subprocess at run time
    from typing import Callable, Mapping, Optional

__all__ = ["ShellChoice", "pick_shell", "detect_parent_shell", "HOW_OPTION", "HOW_PARENT",
           "HOW_ENV", "HOW_FALLBACK"]

HOW_OPTION = "from --shell"
HOW_PARENT = "from the parent process"
HOW_ENV = "from $SHELL"
HOW_FALLBACK = "the default"

#: Families of --shell names that are output forms, not shells a process or $SHELL can be
#: (/usr/bin/env, json-vars).
_OUTPUT_FORMS = (ShellFamily.JSON, ShellFamily.ENV)


class ShellChoice(record("ShellChoice", "name family how")):
    """The shell whose syntax jenv prints, its ShellFamily, and how it was found (for ``jenv status``)."""

    __slots__ = ()


def _parent_named_like_a_shell() -> Optional[str]:
    """The parent's name from ``/proc/<ppid>/comm`` when it is a shell jenv knows, else None.

    ``eval "$(jenv token)"`` makes the shell jenv's parent, so this one read
    answers the common case the way shellingham would (its walk starts at the
    same parent); shellingham's import alone costs more than the whole login
    fast path, so it only runs when this says nothing.
    """
    try:
        with open(f"/proc/{os.getppid()}/comm", "rb") as handle:
            name = handle.read(64).decode("ascii", "replace").strip()
    except OSError:
        return None
    known = canonical_name(name)
    return name if known is not None and SHELL_FAMILIES[known] not in _OUTPUT_FORMS else None


def detect_parent_shell() -> Optional[str]:
    """The process name of the nearest shell among jenv's ancestors, or None.

    The parent first (:func:`_parent_named_like_a_shell`), then shellingham;
    every failure of the process table (no /proc, no ps, odd output) means
    "unknown", never an error.
    """
    quick = _parent_named_like_a_shell()
    if quick is not None:
        return quick
    try:
        import shellingham

        name, _path = shellingham.detect_shell()
    except Exception as exc:  # noqa: BLE001 - sorted below
        import subprocess  # shellingham has imported it (its ps fallback); not before, on the fast path

        if not isinstance(exc, (ImportError, OSError, subprocess.SubprocessError, ValueError, LookupError)):
            raise
        # ShellDetectionFailure is an OSError; ps and /proc parsing may raise the others.
        return None
    return name


def pick_shell(explicit: Optional[str], environ: Mapping[str, str],
               detect: Callable[[], Optional[str]] = detect_parent_shell) -> ShellChoice:
    """Choose the output shell: ``explicit`` (from --shell), the parent process, $SHELL, sh.

    Raises UsageError when ``explicit`` is not one of SHELL_NAMES.  A detected
    shell jenv has no syntax for (pwsh, nu, ...) falls through to $SHELL.
    """
    if explicit:
        name = explicit if explicit in SHELL_FAMILIES else canonical_name(explicit)
        if name is None:
            raise UsageError(f"unknown shell {explicit!r}: use one of "
                             + " ".join(SHELL_NAMES))
        return ShellChoice(name, SHELL_FAMILIES[name], HOW_OPTION)
    detected = detect()
    name = canonical_name(detected) if detected else None
    if name is not None and SHELL_FAMILIES[name] not in _OUTPUT_FORMS:
        return ShellChoice(name, SHELL_FAMILIES[name], HOW_PARENT)
    name = canonical_name(environ.get("SHELL", ""))
    if name is not None and SHELL_FAMILIES[name] not in _OUTPUT_FORMS:
        return ShellChoice(name, SHELL_FAMILIES[name], HOW_ENV)
    return ShellChoice("sh", ShellFamily.POSIX, HOW_FALLBACK)
