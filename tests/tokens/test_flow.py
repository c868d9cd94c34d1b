"""End-to-end token commands against the local JCentral service over real TLS on 127.0.0.1."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support.launcher import HOSTILE
from support.tokenkit import assert_no_key_printed, run_in_process, token_paths
from support.snapshot import snapshot

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DAY = 86400


def bash(script: str, env) -> subprocess.CompletedProcess:
    """Run ``script`` in a real bash, with JENV standing for this checkout's jenv."""
    jenv = f"{sys.executable} -m jenv"
    proc = subprocess.run(["bash", "-c", script.replace("JENV", jenv)], env=env, capture_output=True, text=True,
                          timeout=60, cwd=str(REPO))
    assert_no_key_printed(proc.stdout, proc.stderr)  # content mode goes through eval into files, never out
    return proc


def load_pair(cert_path, key_path):
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
    return cert, key


def assert_matching_private_pair(cert_path, key_path):
    cert, key = load_pair(cert_path, key_path)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    for path in (cert_path, key_path):
        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o400 and st.st_uid == os.getuid()
    return cert


def lifetime_days(cert: x509.Certificate) -> float:
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() / DAY


def test_eval_token_creates_then_reuses_without_a_request(svc, home):
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    before = svc.token_requests
    proc = bash('eval "$(JENV token)" && printf "%s\\n%s\\n" "$JALIEN_TOKEN_CERT" "$JALIEN_TOKEN_KEY"', env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(cert_path), str(key_path)]
    assert svc.token_requests == before + 1
    assert_matching_private_pair(cert_path, key_path)
    assert key_path.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")  # kept as JCentral sent it
    first = (snapshot(cert_path), snapshot(key_path))
    again = run_in_process(["token"], env)
    assert again.returncode == 0 and again.stderr == ""
    assert svc.token_requests == before + 1  # valid files: no connection at all
    assert (snapshot(cert_path), snapshot(key_path)) == first


@pytest.mark.parametrize("user,args,subject,days", [
    ("jdoe", [], "/CN=Users/CN=jdoe/OU=jdoe", 31),
    ("jdoe", ["-u", "alicepr", "-v", "3"], "/CN=Users/CN=jdoe/OU=alicepr", 3),
    ("admin1", ["-t", "job", "-u", "jdoe", "-jobid", "4242"], "/CN=Jobs/CN=jdoe/OU=jdoe/OU=4242", 2),
    ("vobox1", ["-t", "jobagent"], "/CN=JobAgent", 2),
    ("admin1", ["-t", "host", "-hostname", "node1.example.org", "-f"], "/OU=ALICE/CN=node1.example.org", 365),
    ("admin1", ["-t", "job", "-u", "jdoe", "-jobid", "queueid=1/resubmission=0"],
     "/CN=Jobs/CN=jdoe/OU=jdoe/OU=queueid=1/resubmission=0", 2),
])
def test_token_init_writes_each_token_type(svc, home, user, args, subject, days):
    env = svc.env(home, user)
    cert_path, key_path = token_paths(env)
    result = run_in_process(["token-init", *args], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    cert = assert_matching_private_pair(cert_path, key_path)
    dn = "/" + "/".join(attr.rfc4514_string() for attr in cert.subject)
    assert dn.endswith(subject), dn
    assert abs(lifetime_days(cert) - days - 2 / 24) < 0.01  # not-before is 2 hours in the past
    assert subject.split("/")[-1] in result.stderr and "token certificate" in result.stderr  # token-info


def test_alias_and_validity_notice(svc, home):
    env = svc.env(home)
    result = run_in_process(["alien-token-init", "-v", "100"], env)
    assert result.returncode == 0, result.stderr
    assert "Reducing the validity from 100 to 31" in result.stderr
    cert = load_pair(*token_paths(env))[0]
    assert abs(lifetime_days(cert) - 31 - 2 / 24) < 0.01


@pytest.mark.parametrize("command", ["token-init", "alien-token-init"])
def test_the_tutorials_positional_username_is_dash_u(svc, home, command):
    """ALICE tutorials write `alien-token-init <username>`: taken as -u <username>, said in one line."""
    env = svc.env(home)
    result = run_in_process([command, "alicepr"], env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == "jenv: token-init alicepr: asking for -u alicepr"
    cert = load_pair(*token_paths(env))[0]
    assert cert.subject.rfc4514_string().startswith("OU=alicepr,CN=jdoe,CN=Users")
    same = run_in_process([command, "jdoe", "-u", "jdoe"], env)
    assert same.returncode == 0, same.stderr
    twice = run_in_process([command, "jdoe", "-u", "alicepr"], env)
    assert twice.returncode == 2 and "give the user name once" in twice.stderr


def test_f_is_passed_on_for_a_host_name_that_does_not_resolve(svc, home):
    env = svc.env(home, "admin1")
    refused = run_in_process(["token-init", "-hostname", "gone.example.invalid"], env)
    assert refused.returncode == 10
    assert "hostname `gone.example.invalid` cannot be resolved (-f asks for the host token anyway)" in refused.stderr
    forced = run_in_process(["token-init", "-hostname", "gone.example.invalid", "-f"], env)
    assert forced.returncode == 0, forced.stderr
    assert "jenv: JCentral: The indicated hostname `gone.example.invalid` cannot be resolved!" in forced.stderr
    cert = load_pair(*token_paths(env))[0]
    assert cert.subject.rfc4514_string() == "CN=gone.example.invalid,OU=ALICE,O=AliEn2,C=ch"


@pytest.mark.parametrize("user,validity,days,notice", [
    ("jdoe", "0", 2, "jenv: -v 0: JCentral gives 2 days for a validity of 0 or less"),
    ("jdoe", "-3", 2, "jenv: -v -3: JCentral gives 2 days"),
    ("admin1", "500", 400, "jenv: -v 500: JCentral gives at most 400 days, and that only to admins"),
    ("admin1", "300", 300, None),
])
def test_what_jcentral_does_silently_with_v_is_said(svc, home, user, validity, days, notice):
    """GetTokenCertificate.java: -v <= 0 is 2 days, an admin's request above 400 is capped, neither with a
    message from JCentral; jenv says it on stderr once the token came."""
    env = svc.env(home, user)
    result = run_in_process(["token-init", "-v", validity], env)
    assert result.returncode == 0, result.stderr
    assert (notice in result.stderr) if notice else "jenv: -v" not in result.stderr
    assert abs(lifetime_days(load_pair(*token_paths(env))[0]) - days - 2 / 24) < 0.01


@pytest.mark.parametrize("user,args,code,message", [
    ("jdoe", ["-u", "admin1"], 10, "Switching user"),  # refused role switch, token attached must be ignored
    ("jdoe", ["-t", "host", "-hostname", "h.example.org"], 10, "cannot be resolved (-f asks for the host token"),
    ("jdoe", ["-t", "host", "-hostname", "127.0.0.1"], 10, "Only admin can do that (JCentral exit code 121"),
    ("jdoe", ["-t", "job", "-u", "jdoe", "-jobid", "1"], 10, "Only a JobAgent can ask for a Job token"),
    ("jdoe", ["-t", "job"], 2, "-u <user> and -jobid"),  # client-side validation, no request
    ("jdoe", ["-jobid", "4242"], 2, "-u <user> and -jobid"),  # -jobid alone means a job token, as in JAliEn
    ("jdoe", ["-t", "cake"], 2, "token type"),
    ("jdoe", ["-v", "ten"], 2, "whole number"),
])
def test_refusals_leave_the_previous_token(svc, home, user, args, code, message):
    env = svc.env(home, user)
    assert run_in_process(["token-init"], env).returncode == 0
    cert_path, key_path = token_paths(env)
    before = (snapshot(cert_path), snapshot(key_path))
    for command in (["token-init", *args], ["token", *args]):
        result = run_in_process(command, env)
        assert result.returncode == code, result.stderr
        assert result.stdout == ""
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert (snapshot(cert_path), snapshot(key_path)) == before


def test_expiring_token_is_renewed(svc, home):
    env = svc.env(home)
    assert run_in_process(["token-init", "-v", "1"], env).returncode == 0  # 1 day (+2 h before now)
    cert_path, key_path = token_paths(env)
    old = cert_path.read_bytes()
    before = svc.token_requests
    assert run_in_process(["token", "--min-valid", "12h"], env).returncode == 0
    assert svc.token_requests == before and cert_path.read_bytes() == old  # a day left is enough
    result = run_in_process(["token", "--min-valid", "2 days"], env)
    assert result.returncode == 0, result.stderr
    assert svc.token_requests == before + 1 and cert_path.read_bytes() != old
    assert run_in_process(["token", "--min-valid", "2d"], env).returncode == 0
    assert svc.token_requests == before + 1  # the renewed token has 31 days
    assert_matching_private_pair(cert_path, key_path)
    assert run_in_process(["token", "--min-valid", "5x"], env).returncode == 2


def test_json_works_with_the_reference_jq_line(svc, home):
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    result = run_in_process(["-json", "token"], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"schema": "jenv.token/1",
                                         "results": [{"tokencert": str(cert_path), "tokenkey": str(key_path)}]}
    jq = ('eval $(JENV -json token | jq -r \'.["results"][0] |  "JALIEN_TOKEN_CERT=\\"\\(.tokencert)\\"", '
          '"JALIEN_TOKEN_KEY=\\"\\(.tokenkey)\\""\') && echo "$JALIEN_TOKEN_CERT $JALIEN_TOKEN_KEY"')
    proc = bash(jq, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(cert_path), str(key_path)]


def test_content_mode_exports_pem_and_leaves_files_alone(svc, home):
    env = svc.env(home)
    assert run_in_process(["token-init"], env).returncode == 0
    cert_path, key_path = token_paths(env)
    before = (snapshot(cert_path), snapshot(key_path))
    proc = bash('eval "$(JENV token --content)" && printf "%s" "$JALIEN_TOKEN_KEY" > "$HOME/k" && '
                'printf "%s" "$JALIEN_TOKEN_CERT" > "$HOME/c"', env)
    assert proc.returncode == 0, proc.stderr
    key_text = (home / "k").read_text()
    assert key_text.startswith("-----BEGIN RSA PRIVATE KEY-----")
    cert, key = x509.load_pem_x509_certificate((home / "c").read_bytes()), \
        serialization.load_pem_private_key(key_text.encode(), None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert (home / "c").read_bytes() != cert_path.read_bytes()  # a fresh token, not the files
    assert (snapshot(cert_path), snapshot(key_path)) == before
    as_json = run_in_process(["token", "--content", "--json"], env, content_mode=True)
    assert as_json.returncode == 0, as_json.stderr
    pair = json.loads(as_json.stdout)["results"][0]
    assert pair["tokencert"].startswith("-----BEGIN CERTIFICATE-----")
    assert pair["tokenkey"].startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_content_in_variables_is_reused(svc, home):
    env = svc.env(home)
    pair = json.loads(run_in_process(["token", "--content", "--json"], env, content_mode=True).stdout)["results"][0]
    env.update(JALIEN_TOKEN_CERT=pair["tokencert"], JALIEN_TOKEN_KEY=pair["tokenkey"])
    before = svc.token_requests
    again = run_in_process(["token", "--json"], env, content_mode=True)
    assert again.returncode == 0 and json.loads(again.stdout)["results"][0] == pair
    assert svc.token_requests == before
    assert not any(Path(env["TMPDIR"]).iterdir())


def test_destroy_removes_and_unsets(svc, home):
    env = svc.env(home)
    cert_path, key_path = token_paths(env)
    proc = bash('eval "$(JENV token)"; eval "$(JENV token-destroy)"; echo "cert=${JALIEN_TOKEN_CERT-unset}"', env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "cert=unset"
    assert f"removed {key_path} and {cert_path}" in proc.stderr
    assert not cert_path.exists() and not key_path.exists()
    again = run_in_process(["token-destroy", "--shell", "fish"], env)
    assert again.returncode == 0 and "no token files" in again.stderr
    assert again.stdout.count("set -e") == 2


def test_user_role_change(svc, home):
    env = svc.env(home)
    assert run_in_process(["token-init"], env).returncode == 0
    cert_path, key_path = token_paths(env)
    before = (snapshot(cert_path), snapshot(key_path))
    result = run_in_process(["user", "alicepr", "--json"], env, content_mode=True)
    assert result.returncode == 0, result.stderr
    role_cert = x509.load_pem_x509_certificate(json.loads(result.stdout)["results"][0]["tokencert"].encode())
    assert role_cert.subject.rfc4514_string().startswith("OU=alicepr,CN=jdoe")
    assert (snapshot(cert_path), snapshot(key_path)) == before
    refused = run_in_process(["user", "admin1"], env)
    assert refused.returncode == 10 and refused.stdout == ""
    assert run_in_process(["user", "alicepr", "token-init"], env).returncode == 0
    written = load_pair(cert_path, key_path)[0]
    assert written.subject.rfc4514_string().startswith("OU=alicepr,CN=jdoe")


def test_valid_token_needs_no_user_certificate(svc, home):
    env = svc.env(home)
    assert run_in_process(["token"], env).returncode == 0
    env.update(X509_USER_CERT=str(home / "missing.pem"), X509_USER_KEY=str(home / "missing-key.pem"))
    result = run_in_process(["token"], env)
    assert result.returncode == 0 and "JALIEN_TOKEN_CERT" in result.stdout
    expired = run_in_process(["token", "--min-valid", "100d"], env)  # needs JCentral: the user cert is missing
    assert expired.returncode == 3 and expired.stdout == "" and "missing.pem" in expired.stderr


def test_fast_path_imports_no_network_or_crypto(svc, home):
    env = svc.env(home)
    assert run_in_process(["token"], env).returncode == 0
    code = ("import sys; from jenv.login import main; rc = main(['token']); "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('cryptography', 'websockets', 'requests', 'ssl', 'socket', 'jenv'))), file=sys.stderr); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stderr.split()
    assert "jenv.tokens.check" in loaded and "jenv.commands.tokens" in loaded  # the probe sees the modules
    assert "jenv.tokens.store" not in loaded and "jenv.cli" not in loaded  # no lock, no docopt on the fast path
    assert [m for m in loaded if not m.startswith("jenv")] == []
    assert not {"jenv.pem", "jenv.credentials", "jenv.jcentral.client", "jenv.jcentral.protocol"} & set(loaded)


#: Names for TMPDIR (so for the token paths) that run code or split words when a shell reads them unquoted.
CODE_IN_NAMES = ["$(touch pwned)", "`touch pwned`", "it's \"quoted\"; touch pwned", "two  spaces & tab\there",
                 "new\nline; touch pwned", "dollar $HOME and \\ backslash", HOSTILE]


def readme_jq_line() -> str:
    """The one jq line the manual documents (so this test runs what users copy)."""
    lines = [line.strip() for line in (REPO / "docs" / "manual.md").read_text().splitlines() if "| jq -r" in line]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("name", CODE_IN_NAMES, ids=range(len(CODE_IN_NAMES)))
def test_the_readme_jq_line_runs_no_code_from_the_paths(svc, home, tmp_path, name):
    """The README's jq line, exactly as written, in a real bash, with jenv on PATH: the token paths come
    back exactly, whatever TMPDIR is called, and nothing in the name runs."""
    tmpdir = home / name
    tmpdir.mkdir(mode=0o700)
    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir()
    work.mkdir()
    (bin_dir / "jenv").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m jenv "$@"\n')
    (bin_dir / "jenv").chmod(0o755)
    env = svc.env(home, TMPDIR=str(tmpdir))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    cert_path, key_path = token_paths(env)
    script = readme_jq_line() + '\nprintf "%s\\0%s" "$JALIEN_TOKEN_CERT" "$JALIEN_TOKEN_KEY"'
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=work)
    assert_no_key_printed(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\0") == [str(cert_path), str(key_path)]
    assert cert_path.is_file() and key_path.is_file()
    assert not list(work.iterdir()) and not list(home.rglob("pwned"))


def test_token_destroy_after_a_role_change_says_what_it_unset_and_what_remains(svc, home):
    """eval "$(jenv user <role>)" puts a role's token in the variables; token-destroy then unsets them and
    says that the token files at the default names are still there, and how to remove them too."""
    env = dict(svc.env(home), PATH=os.environ["PATH"])
    assert run_in_process(["token-init"], env).returncode == 0
    cert_path, key_path = token_paths(env)
    jenv = f"{sys.executable} -m jenv"
    script = f'eval "$({jenv} user alicepr --shell sh)" && eval "$({jenv} token-destroy --shell sh)" && ' \
             'echo "cert=${JALIEN_TOKEN_CERT-unset}"'
    result = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "cert=unset\n", result.stderr
    said = result.stderr.splitlines()[-1]
    assert said.startswith("jenv: the lines printed unset JALIEN_TOKEN_CERT and JALIEN_TOKEN_KEY"), said
    assert f"the token files {cert_path} and {key_path} remain" in said
    assert "run 'jenv token-destroy' again" in said
    assert cert_path.exists() and key_path.exists()
    # what it says works: with the variables unset, token-destroy removes the files
    again = run_in_process(["token-destroy", "--shell", "sh"], env)
    assert again.returncode == 0 and "removed" in again.stderr and not cert_path.exists()
    # and with nothing anywhere it says so
    nothing = run_in_process(["token-destroy", "--shell", "sh"], env)
    assert nothing.stderr == "jenv: no token files to remove\n"
