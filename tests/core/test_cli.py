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


# --- one command line (issue 15.5) ----------------------------------------------------------

def test_a_bare_jenv_prints_the_short_usage(tmp_path):
    res = run_in_process([], clean_env(tmp_path / "home"))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("Usage:") and "Exit codes" not in res.stderr and len(res.stderr.splitlines()) < 8


@pytest.mark.parametrize("typed, offered", [("tokn", "'token'"), ("tokne-info", "'token-info'"),
                                            ("stauts", "'status'"), ("hlep", "'help'")])
def test_an_unknown_command_suggests_the_nearest(tmp_path, typed, offered):
    res = run_in_process([typed], clean_env(tmp_path / "home"))
    assert res.returncode == 2 and res.stdout == "" and len(res.stderr.splitlines()) == 1
    assert f"unknown command {typed!r}; did you mean " in res.stderr and offered in res.stderr


def test_help_and_help_command(tmp_path):
    env = clean_env(tmp_path / "home")
    full = run_in_process(["help"], env)
    assert full.returncode == 0 and full.stdout == run_in_process(["--help"], env).stdout
    for command in ("token", "alien-token-init", "status"):
        one = run_in_process(["help", command], env)
        assert one.returncode == 0 and one.stdout == run_in_process([command, "--help"], env).stdout
    bad = run_in_process(["help", "tokn"], env)
    assert bad.returncode == 2 and "did you mean 'token'" in bad.stderr


def _has_json(command: str) -> bool:
    from jenv.cli import command_usage

    return "--json" in command_usage(command)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("spelling", ["before", "after", "one-dash-after"])
def test_json_is_accepted_anywhere_or_refused_as_usage(tmp_path, command, spelling):
    """--json and -json before or after a command mean the same; where a command has no JSON output
    either spelling is a usage error (2) naming it, before any work."""
    env = clean_env(tmp_path / "home", ALIENPY_JCENTRAL="127.0.0.1", ALIENPY_JCENTRAL_PORT="1")
    extra = {"user": ["alicepr"], "cert-verify": [], "completion": ["bash"], "hook": ["bash"],
             "serve": ["--dir", str(tmp_path / "svc")], "sandbox": ["--", "true"], "exec": ["--", "true"],
             "export": ["--to", str(tmp_path / "out")], "args": ["curl"],
             "cert-import": [str(tmp_path / "none.p12")], "agent": ["status"]}.get(command, [])
    if command in ("sandbox", "exec"):  # the options go before "--"
        argv = {"before": ["--json", command, *extra], "after": [command, "--json", *extra],
                "one-dash-after": [command, "-json", *extra]}[spelling]
    else:
        argv = {"before": ["--json", command, *extra], "after": [command, *extra, "--json"],
                "one-dash-after": [command, *extra, "-json"]}[spelling]
    res = run_in_process(argv, env)
    if _has_json(command):
        assert res.returncode != 2 or "has no JSON output" not in res.stderr, res.stderr
        assert "invalid arguments" not in res.stderr
    else:
        assert res.returncode == 2 and res.stderr.strip() == \
            f"jenv: '{command}' has no JSON output: leave out --json", res.stderr
        assert not (tmp_path / "svc").exists()


def test_every_variable_jenv_reads_is_in_the_help():
    """The source reads no environment variable that ``jenv --help`` does not explain."""
    import ast
    from pathlib import Path

    from jenv import locations

    names = set()
    constants = {name: value for name, value in vars(locations).items() if isinstance(value, str)}
    for path in (Path(__file__).resolve().parents[2] / "jenv").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            key = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "get", "setdefault") and "environ" in ast.unparse(node.func.value) and node.args:
                key = node.args[0]
            elif isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value):
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
            elif isinstance(key, ast.Name) and key.id in constants:
                names.add(constants[key.id])
    assert names, "the scan found nothing: it is broken"
    assert sorted(names - set(locations.VARIABLES)) == []
    text = run_in_process(["--help"], {"PATH": "/usr/bin:/bin"}).stdout
    assert all(f"  {name} " in text for name in locations.VARIABLES)
