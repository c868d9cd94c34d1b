"""No core dump with a key in it (issue 11.4): before jenv reads a private key it sets RLIMIT_CORE to 0
and marks itself not dumpable (PR_SET_DUMPABLE 0), so neither a crash nor gcore/ptrace gets the key."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import os, resource, sys
from jenv.credentials import read_credential
from jenv.locations import Location
def dumpable():
    import ctypes
    return ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
print(resource.getrlimit(resource.RLIMIT_CORE)[0], dumpable())
read_credential(Location(sys.argv[2], "test", path=sys.argv[1]))
print(resource.getrlimit(resource.RLIMIT_CORE)[0], dumpable())
"""


def _probe(path, what):
    proc = subprocess.run([sys.executable, "-c", "import resource; hard = resource.getrlimit(resource.RLIMIT_CORE)[1]; "
                           "resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))\n" + PROBE, str(path), what],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [tuple(int(x) for x in line.split()) for line in proc.stdout.splitlines()]


def test_reading_a_key_turns_core_dumps_off(tmp_path, root_ca):
    leaf = root_ca.issue()
    path = tmp_path / "userkey.pem"
    path.write_bytes(leaf.key_pem())
    before, after = _probe(path, "user key")
    assert before[1] == 1  # the probe starts dumpable (and with the largest core limit it may have)
    assert after == (0, 0)


def test_reading_a_certificate_leaves_them_alone(tmp_path, root_ca):
    path = tmp_path / "usercert.pem"
    path.write_bytes(root_ca.issue().cert_pem)
    before, after = _probe(path, "user certificate")
    assert before == after and after[1] == 1
