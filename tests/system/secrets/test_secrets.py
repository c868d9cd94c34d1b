"""Private keys never leak: not on stdout/stderr outside content mode, never in a file others can read.

What is proven, and how:

* The scanner in tests/conftest.py (``run_jenv``: every run of the suite) really
  catches key material: a run that prints a key in content mode is caught as
  soon as the test does not declare content mode, for every PEM key format
  and every shell's quoting.
* Files holding keys are created with their final private mode: under umask
  000, strace shows each O_CREAT of the token files carrying 0400/0600 (the
  mode is part of the creating openat, so there is no moment at which the
  file exists with other permissions) and no chmod afterwards; a poller
  watching TMPDIR during repeated token-init runs never sees a file open to
  group or others; and a source check lists every place jenv creates files,
  so a new writer cannot appear without being looked at.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jenv.shells import render_exports
from support.launcher import REPO, scan



def _env(sandbox: Dict[str, str], home: Path, root) -> Dict[str, str]:
    return {**root.clean_env(home), **sandbox, "TMPDIR": str(home / "tmp")}


def _token_files(env: Dict[str, str]) -> Tuple[Path, Path]:
    tmp, uid = Path(env["TMPDIR"]), os.getuid()
    return tmp / f"tokencert_{uid}.pem", tmp / f"tokenkey_{uid}.pem"


# --- the scanner ---------------------------------------------------------------------------

def test_the_scanner_catches_a_key_printed_outside_content_mode(sandbox, home, root):
    """Content mode (PEM in JALIEN_TOKEN_*) prints the key: allowed when declared, a failure otherwise."""
    env = _env(sandbox, home, root)
    assert root.run_jenv(["token-init"], env).returncode == 0
    cert, key = (path.read_text() for path in _token_files(env))
    content_env = dict(env, JALIEN_TOKEN_CERT=cert, JALIEN_TOKEN_KEY=key)
    printed = root.run_jenv(["token"], content_env, content_mode=True)
    assert printed.returncode == 0 and root.leaked_key_material(printed.stdout)
    assert key.strip().splitlines()[1] in printed.stdout  # the real key, not just armour
    with pytest.raises(AssertionError, match="key material on stdout"):
        root.run_jenv(["token"], content_env)
    for option in ("--shell=fish", "--shell=zsh", "--json"):
        with pytest.raises(AssertionError, match="key material on stdout"):
            root.run_jenv(["token", option], content_env)


def _key_texts() -> List[str]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem, fmt = serialization.Encoding.PEM, serialization.PrivateFormat
    plain, locked = serialization.NoEncryption(), serialization.BestAvailableEncryption(b"pass")
    return [rsa_key.private_bytes(pem, fmt.PKCS8, plain).decode(),
            rsa_key.private_bytes(pem, fmt.TraditionalOpenSSL, plain).decode(),
            ec_key.private_bytes(pem, fmt.TraditionalOpenSSL, plain).decode(),
            rsa_key.private_bytes(pem, fmt.PKCS8, locked).decode(),
            rsa_key.private_bytes(pem, fmt.TraditionalOpenSSL, locked).decode()]


@pytest.mark.parametrize("shell", ["bash", "fish", "json"])  # csh cannot carry PEM content at all
def test_the_scanner_sees_every_key_format_in_every_rendering(shell, root):
    for text in _key_texts():
        rendered = render_exports(shell, {"JALIEN_TOKEN_KEY": text})
        assert root.leaked_key_material(rendered), (shell, text[:40])


def test_the_scanner_does_not_flag_certificates_or_public_keys(root):
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert not root.leaked_key_material(public + "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")


# --- file modes ----------------------------------------------------------------------------

def _watch(directory: Path, stop: threading.Event, seen: Dict[str, Set[int]]) -> None:
    """Record the mode of every entry of ``directory``, as often as possible, until ``stop``."""
    while not stop.is_set():
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:  # renamed or removed between listing and stat
                continue
            if stat.S_ISREG(mode):
                seen.setdefault(entry.name, set()).add(stat.S_IMODE(mode))


def _jenv_umask_000(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "jenv", *args], env=dict(env, PYTHONPATH=str(REPO)), umask=0,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    _scan(proc)
    return proc


def _scan(proc: subprocess.CompletedProcess) -> None:
    """The launcher's secrets scan, for the runs this module starts itself (umask 000, strace)."""
    scan(proc.args, proc.stdout, proc.stderr)


def test_token_files_are_never_open_to_others_under_umask_000(sandbox, home, root):
    env = _env(sandbox, home, root)
    tmp = Path(env["TMPDIR"])
    stop, seen = threading.Event(), {}
    watcher = threading.Thread(target=_watch, args=(tmp, stop, seen), daemon=True)
    watcher.start()
    try:
        for _ in range(6):
            proc = _jenv_umask_000(["token-init"], env)
            assert proc.returncode == 0, proc.stderr
    finally:
        stop.set()
        watcher.join(5)
    open_to_others = {name: sorted(oct(m) for m in modes) for name, modes in seen.items()
                      if any(m & 0o077 for m in modes)}
    assert not open_to_others
    cert, key = _token_files(env)
    assert stat.S_IMODE(os.lstat(key).st_mode) == 0o400
    assert stat.S_IMODE(os.lstat(cert).st_mode) & 0o077 == 0
    assert sorted(p.name for p in tmp.iterdir()) == sorted([cert.name, key.name])  # the lock is private, elsewhere
    assert {cert.name, key.name} <= set(seen)  # the watcher did watch
    print(f"watcher saw {len(seen)} names, temporaries among them: {sorted(n for n in seen if n.startswith('.'))}")


_CREATE = re.compile(r'openat\(AT_FDCWD, "(?P<path>[^"]+)", (?P<flags>[A-Z_|]+)(?:, (?P<mode>0\d+))?\)')
_CHMOD = re.compile(r'\b(f?chmod(?:at)?)\(')


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_key_files_are_created_with_their_final_mode(sandbox, home, root):
    """Every file jenv creates in TMPDIR is created 0400/0600 by the openat itself; nothing is chmod-ed."""
    env = _env(sandbox, home, root)
    assert root.run_jenv(["token-init"], env).returncode == 0  # so the next run replaces an existing pair
    trace = home / "strace.out"
    argv = ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=openat,chmod,fchmod,fchmodat,umask",
            sys.executable, "-m", "jenv", "token-init"]
    proc = subprocess.run(argv, env=dict(env, PYTHONPATH=str(REPO)), umask=0, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    if proc.returncode != 0 and "ptrace" in proc.stderr:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()}")
    _scan(proc)
    assert proc.returncode == 0, proc.stderr
    lines = trace.read_text().splitlines()
    private = env.get("XDG_RUNTIME_DIR") or str(home / ".cache" / "jenv")
    created = [m.groupdict() for m in map(_CREATE.search, lines) if m and "O_CREAT" in m["flags"]
               and m["path"].startswith((env["TMPDIR"], private))]
    assert len(created) >= 3, lines  # key and certificate temporaries (TMPDIR), lock file (the private dir)
    assert any(c["path"].startswith(private) for c in created), created
    assert all(c["mode"] in ("0400", "0600") for c in created), created
    assert not [line for line in lines if _CHMOD.search(line) and env["TMPDIR"] in line]
    assert any("umask(077)" in line for line in lines)  # and the umask cannot widen anything either


# --- every place that creates a file ---------------------------------------------------------

#: (module, function) -> how a file created there is protected.  Every file jenv creates is created in
#: its file home, jenv/safefile/ (tests/safefile/test_file_home.py refuses a creation anywhere else): there
#: each file gets its final mode from the open itself; what a caller writes is its own business.
KNOWN_WRITERS = {
    ("jenv/safefile/write.py", "create_new_file"): "os.open O_CREAT|O_EXCL|O_NOFOLLOW with the caller's final mode "
                                                   "(every new file, temporaries of replace_file and replace_pair "
                                                   "included)",
    ("jenv/safefile/write.py", "open_own_file_to_append"): "os.open O_APPEND|O_CREAT|O_NOFOLLOW 0600, the user's "
                                                           "own regular file only (the service's request log; the "
                                                           "agent's log and lock in the private 0700 directory: "
                                                           "messages only, an empty lock)",
    ("jenv/safefile/lock.py", "_open_lock_file"): "os.open O_CREAT|O_NOFOLLOW 0600 (the token store's lock, empty)",
    ("jenv/safefile/core.py", "_write_coredump_filter"): "/proc/self/coredump_filter (opened r+, never created)",
    ("jenv/safefile/write.py", "replace_directory"): "chmod 0755 of a complete new CA directory (public "
                                                    "certificates), made 0700 by mkdtemp",
    # What truly cannot go there: no file is created, and no file rule applies.
    ("jenv/context.py", "run_reported"): "os.devnull opened for writing, once the reader of stdout went away",
}
_WRITE_MODE = re.compile(r"[wax+]")


def _file_writers(path: Path) -> List[Tuple[str, int]]:
    """(function, line) of each call that can create a file: os.open with O_CREAT, open() for writing."""
    found = []
    tree = ast.parse(path.read_text())
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            if name == "os.open" and "O_CREAT" in ast.unparse(node):
                found.append((func.name, node.lineno))
            elif name in ("open", "io.open", "os.fdopen") and len(node.args) > 1 and \
                    isinstance(node.args[1], ast.Constant) and _WRITE_MODE.search(str(node.args[1].value)):
                if name != "os.fdopen":  # fdopen wraps a descriptor whose creation is checked above
                    found.append((func.name, node.lineno))
            elif name in ("os.chmod", "os.fchmod", "tempfile.NamedTemporaryFile", "tempfile.mkstemp"):
                found.append((func.name, node.lineno))
    return found


def test_every_place_that_creates_a_file_is_known():
    """A new file writer (or chmod) in jenv/ fails this test until it is reviewed and listed above."""
    unknown = []
    for path in sorted((REPO / "jenv").rglob("*.py")):
        module = path.relative_to(REPO).as_posix()
        for function, line in _file_writers(path):
            if (module, function) not in KNOWN_WRITERS and (module, "*") not in KNOWN_WRITERS:
                unknown.append(f"{module}:{line} in {function}()")
    assert not unknown, "review these file writers for key material and modes: " + ", ".join(unknown)


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_cert_import_creates_the_key_with_its_final_mode(home, tmp_path):
    """Under umask 000 and strace: every file cert-import creates in ~/.globus is created 0400 (key and
    the copy of the old key) or 0644 (certificate) by the openat itself, and nothing is chmod-ed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from support.launcher import clean_env, run_on_pty
    from support.pki import TestCA

    leaf = TestCA().issue("/C=ch/O=jenv-test/OU=Users/CN=Jane Doe")
    p12 = tmp_path / "cert.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"x", leaf.key, leaf.cert, None,
                                                          serialization.BestAvailableEncryption(b"pw")))
    env = clean_env(home)
    leaf.write(home / ".globus")  # an old pair, so --force makes the copies too
    trace = tmp_path / "strace.out"
    argv = ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=openat,chmod,fchmod,fchmodat",
            "sh", "-c", f'umask 000; exec "$0" -m jenv cert-import {p12} --force', sys.executable]
    run = run_on_pty(argv, dict(env, PYTHONPATH=str(REPO)), [b"pw", b"new phrase", b"new phrase"], prompt=b": ",
                     capture=True, timeout=60)
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    globus = str(home / ".globus")
    lines = trace.read_text().splitlines()
    created = [m.groupdict() for m in map(_CREATE.search, lines) if m and "O_CREAT" in m["flags"]
               and m["path"].startswith(globus)]
    keys = [c for c in created if "userkey.pem" in c["path"]]
    certs = [c for c in created if "usercert.pem" in c["path"]]
    assert len(keys) == 2 and len(certs) == 2, created  # a temporary and a copy of the old one, each
    assert all("O_EXCL" in c["flags"] and "O_NOFOLLOW" in c["flags"] for c in created), created
    assert all(c["mode"] == "0400" for c in keys), keys
    assert all(c["mode"] in ("0644", "0400") for c in certs), certs
    assert not [line for line in lines if _CHMOD.search(line) and globus in line]
    assert stat.S_IMODE(os.lstat(home / ".globus" / "userkey.pem").st_mode) == 0o400
