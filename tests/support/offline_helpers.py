"""Helpers for the offline command tests (a unique module name: "conftest" is ambiguous across test dirs)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from support.pki import Leaf


from support import launcher as _root
from support.launcher import Result, clean_env, run_in_process, run_jenv  # noqa: F401  (re-exported)


UID = os.getuid()
TOKEN_DN = "/C=ch/O=AliEn2/CN=Users/CN=jdoe/CN=12345/CN=token"


def write_pair(leaf: Leaf, directory: Path, stem: str, passphrase: Optional[bytes] = None,
               fmt: str = "pkcs8") -> Dict[str, Path]:
    cert, key = leaf.write(directory, stem, passphrase=passphrase, fmt=fmt)
    return {"cert": cert, "key": key}


def openssl_facts(path: Path) -> Dict[str, str]:
    """subject, sha256 fingerprint, notAfter and serial as openssl prints them (the oracle)."""
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-fingerprint", "-sha256", "-enddate",
                          "-startdate", "-serial", "-nameopt", "compat", "-in", str(path)],
                         capture_output=True, text=True, check=True).stdout
    facts = {}
    for line in out.splitlines():
        name, value = line.split("=", 1)
        facts[name.strip()] = value.strip()
    return facts


def openssl_date(text: str) -> str:
    """'Nov 28 07:31:15 2027 GMT' -> '2027-11-28T07:31:15Z'."""
    return dt.datetime.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y GMT").strftime("%Y-%m-%dT%H:%M:%SZ")


def run_detached(args: Sequence[str], env: Dict[str, str], timeout: float = 20) -> Result:
    """Run jenv in a new session: no controlling terminal, so /dev/tty cannot be opened."""
    proc = subprocess.run([sys.executable, "-m", "jenv", *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, start_new_session=True)
    _root.scan(args, proc.stdout, proc.stderr)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _drop_file_read_override() -> None:
    """In the child, before exec: give up root's right to read any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH).

    Tests run as root in CI containers, where a mode 000 file is still readable;
    removing the capabilities from the bounding set makes "unreadable" real.
    """
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def unreadable_runner():
    """A run_jenv-like callable for which a mode 000 file is really unreadable (also when run as root)."""
    if os.geteuid() != 0:
        return run_jenv

    def run(args: Sequence[str], env: Dict[str, str], timeout: float = 20) -> Result:
        proc = subprocess.run([sys.executable, "-m", "jenv", *args], env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout, preexec_fn=_drop_file_read_override)
        _root.scan(args, proc.stdout, proc.stderr)
        return Result(proc.returncode, proc.stdout, proc.stderr)
    return run


def run_with_tty(args: Sequence[str], env: Dict[str, str], answer: Optional[bytes],
                 timeout: float = 20) -> "tuple[Result, bytes]":
    """Run jenv with a pseudo-terminal as its controlling terminal (so /dev/tty is the pty).

    Each time the prompt appears on the terminal (up to the three tries jenv gives), ``answer`` and a
    newline are typed.
    Returns the result (stdout/stderr are pipes) and everything the terminal showed;
    all of it is scanned for tracebacks and key material.
    """
    run = _root.run_on_pty([sys.executable, "-m", "jenv", *args], env, [] if answer is None else [answer] * 3,
                           timeout=timeout, capture=True)
    return Result(run.returncode, run.stdout, run.stderr), run.terminal
