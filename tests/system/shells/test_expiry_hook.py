"""The login hook shows the user certificate's expiry notice on stderr, once a day, and still sets the token.

Real shells source the hook with a valid token and a user certificate that ends in 12 days: the first
login prints the one notice line (nothing of it reaches the evaluated stdout), the second is silent.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pytest

from support.realshell import dump_command, read_dump, run_script
from support.launcher import scan
from support.pki import now

SNIPPETS = {
    "bash": 'eval "$(jenv hook bash)"\n{dump}\n',
    "zsh": 'eval "$(jenv hook zsh)"\n{dump}\n',
    "fish": "jenv hook fish | source\n{dump}\n",
    "tcsh": 'eval "`jenv hook tcsh`"\n{dump}\n',
}


@pytest.mark.parametrize("shell", sorted(SNIPPETS))
def test_the_hook_shows_the_notice_once_a_day(shell, shell_env, tmp_path, root_ca):
    home = Path(shell_env["HOME"])
    root_ca.issue("/C=ch/O=jenv-test/OU=Users/CN=Jane Doe", not_after=now() + dt.timedelta(days=12, hours=5)).write(
        home / ".globus")
    token = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe", not_after=now() + dt.timedelta(hours=20))
    tmp = Path(shell_env["TMPDIR"])
    cert = tmp / f"tokencert_{os.getuid()}.pem"
    for path, data in ((cert, token.cert_pem), (tmp / f"tokenkey_{os.getuid()}.pem", token.key_pem())):
        path.write_bytes(data)
        path.chmod(0o400)
    env = dict(shell_env, PATH=f"{Path(sys.executable).parent}:{shell_env['PATH']}")
    script = SNIPPETS[shell].format(dump=dump_command(tmp_path, ["JALIEN_TOKEN_CERT"]))
    for login in (1, 2):
        proc = run_script(shell, script, tmp_path, env)
        stderr = proc.stderr.decode()
        scan(["hook", shell], proc.stdout.decode(), stderr)
        assert proc.returncode == 0, stderr
        assert read_dump(tmp_path)["JALIEN_TOKEN_CERT"] == str(cert).encode()
        if login == 1:
            assert stderr.count("\n") == 1 and "your user certificate" in stderr and "expires in 12d 4h" in stderr
        else:
            assert stderr == ""  # the same day: silent
