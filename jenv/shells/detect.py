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

import subprocess
from typing import Callable, Mapping, NamedTuple, Optional

from jenv.errors import UsageError
from jenv.shells.base import SHELL_FAMILIES, SHELL_NAMES, ShellFamily, canonical_name

__all__ = ["ShellChoice", "pick_shell", "detect_parent_shell", "HOW_OPTION", "HOW_PARENT",
           "HOW_ENV", "HOW_FALLBACK"]

HOW_OPTION = "--shell"
HOW_PARENT = "parent process (shellingham)"
HOW_ENV = "$SHELL"
HOW_FALLBACK = "fallback"

#: Names of --shell that are output forms, not shells a process or $SHELL can be (/usr/bin/env).
_OUTPUT_FORMS = ("json", "env")


class ShellChoice(NamedTuple):
    """The shell whose syntax jenv prints, and how it was found (for ``jenv status``)."""

    name: str
    family: ShellFamily
    how: str


def detect_parent_shell() -> Optional[str]:
    """The process name of the nearest shell among jenv's ancestors, or None.

    Uses shellingham; every failure of the process table (no /proc, no ps,
    odd output) means "unknown", never an error.
    """
    try:
        import shellingham

        name, _path = shellingham.detect_shell()
    except (ImportError, OSError, subprocess.SubprocessError, ValueError, LookupError):
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
    if name is not None and name not in _OUTPUT_FORMS:
        return ShellChoice(name, SHELL_FAMILIES[name], HOW_PARENT)
    name = canonical_name(environ.get("SHELL", ""))
    if name is not None and name not in _OUTPUT_FORMS:
        return ShellChoice(name, SHELL_FAMILIES[name], HOW_ENV)
    return ShellChoice("sh", ShellFamily.POSIX, HOW_FALLBACK)
