"""The docopt front end: help, version, one-dash spellings, usage errors (real ``python -m jenv`` runs)."""

from __future__ import annotations

import pytest

from jenv import __version__
from jenv.cli import ALIASES, COMMANDS, normalize_argv
from jenv.errors import EXIT_CODE_TABLE

from support.launcher import clean_env, run_in_process


@pytest.fixture
def env(tmp_path):
    return clean_env(tmp_path / "home")


@pytest.mark.parametrize("argv,expected", [
    (["-json", "token"], ["--json", "token"]),
    (["token-init", "-jobid=7", "-hostname", "h.cern.ch"], ["token-init", "--jobid=7", "--hostname", "h.cern.ch"]),
    (["cert-info", "-json"], ["cert-info", "--json"]),
    (["--json", "cert-info"], ["--json", "cert-info"]),
    (["token", "-shell", "fish"], ["token", "--shell", "fish"]),
    (["user", "-content"], ["user", "--content"]),
    (["sandbox", "--", "-json", "x"], ["sandbox", "--", "-json", "x"]),  # the sandboxed command's own args
    (["-j", "-jsonx", "-v", "7"], ["-j", "-jsonx", "-v", "7"]),
    ([], []),
])
def test_normalize_argv(argv, expected):
    assert normalize_argv(argv) == expected


def test_help_lists_every_command_and_exit_code(env):
    res = run_in_process(["--help"], env)
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout.startswith("jenv - ") and "Usage:" in res.stdout
    for command in list(COMMANDS) + list(ALIASES):
        assert command in res.stdout
    for code, text in EXIT_CODE_TABLE.items():
        assert f"  {int(code):<4} {text}" in res.stdout
    assert run_in_process(["-h"], env).stdout == res.stdout


def test_version(env):
    res = run_in_process(["--version"], env)
    assert (res.returncode, res.stdout, res.stderr) == (0, f"jenv {__version__}\n", "")


@pytest.mark.parametrize("command", sorted(COMMANDS) + sorted(ALIASES))
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_has_help(env, command, flag):
    res = run_in_process([command, flag], env)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    canonical = ALIASES.get(command, command)
    assert "Usage:" in res.stdout and f"jenv {canonical}" in res.stdout


@pytest.mark.parametrize("argv,fragment", [
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["--frobnicate", "status"], "Usage:"),
    (["status", "--frobnicate"], "Usage:"),
    (["cert-info", "extra-arg"], "Usage:"),
    (["cert-info", "-x"], "Usage:"),
])
def test_usage_errors_go_to_stderr_with_exit_2(env, argv, fragment):
    res = run_in_process(argv, env)
    assert res.returncode == 2
    assert res.stdout == ""
    assert fragment in res.stderr


def test_no_arguments_is_a_usage_error(env):
    res = run_in_process([], env)
    assert res.returncode == 2 and res.stdout == "" and "Usage:" in res.stderr


@pytest.mark.parametrize("argv", [["--shell=bogus", "token"], ["token", "--shell", "fishy"],
                                  ["token-destroy", "--shell=pwsh"]])
def test_unknown_shell_is_a_usage_error_before_any_work(argv, tmp_path):
    """Not after a token was fetched or removed: nothing on disk is touched, exit 2."""
    env = clean_env(tmp_path / "home", ALIENPY_JCENTRAL_PORT="1")
    result = run_in_process(argv, env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("jenv: unknown shell ") and "given to --shell: use one of sh bash zsh" \
        in result.stderr
    assert list((tmp_path / "home" / "tmp").iterdir()) == []


def test_the_clock_is_injected(tmp_path, root_ca):
    """main(..., clock=) is the time every check uses: the same certificate is valid today and expired
    in two years, with no waiting and no patching."""
    import time

    leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe")  # valid for 365 days
    cert = tmp_path / "cert.pem"
    cert.write_bytes(leaf.cert_pem)
    env = clean_env(tmp_path / "home", X509_USER_CERT=str(cert))
    assert run_in_process(["cert-info"], env).returncode == 0
    later = run_in_process(["cert-info"], env, clock=lambda: time.time() + 2 * 365 * 86400)
    assert later.returncode == 5 and "expired" in later.stderr
