"""``jenv hook`` and ``jenv completion`` as a user runs them, including from an installed copy."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support.realshell import REPO, jenv_cli as run_jenv, run_script


@pytest.mark.parametrize("shell, file", [
    ("bash", "shell/jenv.sh"), ("zsh", "shell/jenv.sh"), ("ksh", "shell/jenv.sh"),
    ("dash", "shell/jenv.sh"), ("sh", "shell/jenv.sh"), ("fish", "shell/jenv.fish"),
])
def test_hook_prints_the_shell_file(shell, file, shell_env):
    result = run_jenv(["hook", shell, "--file"], shell_env)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == (REPO / file).read_text()


@pytest.mark.parametrize("shell", ["tcsh", "csh"])
def test_csh_hook_is_one_source_line(shell, shell_env):
    result = run_jenv(["hook", shell, "--file"], shell_env)
    assert result.returncode == 0
    assert result.stdout == f"source '{REPO / 'jenv' / 'data' / 'shell' / 'jenv.csh'}';\n"
    assert (REPO / "shell" / "jenv.csh").resolve() == REPO / "jenv" / "data" / "shell" / "jenv.csh"


@pytest.mark.parametrize("shell, file", [
    ("bash", "completions/jenv.bash"), ("zsh", "completions/_jenv"), ("fish", "completions/jenv.fish"),
])
def test_completion_prints_the_file(shell, file, shell_env):
    result = run_jenv(["completion", shell], shell_env)
    assert result.returncode == 0 and result.stdout == (REPO / file).read_text()
    assert run_jenv(["--shell", shell, "completion"], shell_env).stdout == result.stdout


@pytest.mark.parametrize("args, message", [
    (["hook", "json"], "no login hook for json"),
    (["hook", "pwsh"], "unknown shell 'pwsh'"),
    (["completion", "tcsh"], "no completion for tcsh: available for bash, zsh and fish"),
    (["--shell", "nope", "completion"], "unknown shell 'nope'"),
])
def test_refusals_are_usage_errors(args, message, shell_env):
    result = run_jenv(args, shell_env)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("shell, capture, first_line", [
    ("bash", 'x="$(python3 -m jenv completion)"; printf "%s\\n" "$x" | head -n 1',
     "# bash completion for jenv and alien-token-init."),
    ("zsh", 'x="$(python3 -m jenv completion)"; printf "%s\\n" "$x" | head -n 1',
     "#compdef jenv alien-token-init"),
    ("fish", "python3 -m jenv completion | head -n 1", "# fish completion for jenv and alien-token-init."),
    ("dash", "python3 -m jenv hook --file | head -n 1", "# jenv login hook for POSIX shells: bash, zsh, ksh, dash, sh."),
])
def test_python_m_jenv_detects_the_calling_shell(shell, capture, first_line, tmp_path, shell_env):
    """With no shell named, ``python -m jenv`` inside the shell's $(...) serves that shell."""
    fake = tmp_path / "fake-jenv"
    fake.write_text("#!/bin/sh\necho 'export JALIEN_TOKEN_CERT=/tmp/fake-cert.pem;'\n")
    fake.chmod(0o755)
    python_dir = tmp_path / "py"
    python_dir.mkdir()
    # A wrapper, not a symlink: a symlink to a virtualenv's python does not run in that virtualenv.
    wrapper = python_dir / "python3"
    wrapper.write_text(f"#!/bin/sh\nexec '{sys.executable}' \"$@\"\n")
    wrapper.chmod(0o755)
    env = dict(shell_env, SHELL="/bin/tcsh", JENV_BIN=str(fake),
               PATH=f"{python_dir}:{shell_env['PATH']}")
    proc = run_script(shell, capture + "\n", tmp_path, env)
    assert proc.stderr == b"" and proc.stdout.decode().splitlines() == [first_line]


def test_installed_copy_serves_hooks_and_completions(tmp_path, shell_env):
    """A non-editable install (pip --target) ships jenv/data, and the csh source line points there."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            (src / name).write_bytes((REPO / name).read_bytes())
    for name in ("jenv", "bin"):
        subprocess.run(["cp", "-r", str(REPO / name), str(src / name)], check=True)
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "--target", str(target), str(src)],
                         capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert pip.returncode == 0, pip.stderr
    env = dict(shell_env, PYTHONPATH=str(target))
    run = lambda *args: subprocess.run([sys.executable, "-m", "jenv", *args], env=env,  # noqa: E731
                                       capture_output=True, text=True, cwd=str(tmp_path))
    installed = target / "jenv" / "data"
    assert run("hook", "bash", "--file").stdout == (installed / "shell" / "jenv.sh").read_text()
    assert run("hook", "fish", "--file").stdout == (REPO / "shell" / "jenv.fish").read_text()
    assert run("hook", "tcsh", "--file").stdout == f"source '{installed / 'shell' / 'jenv.csh'}';\n"
    # The login line itself loads completions from the installed copy too.
    assert f". {installed / 'completions' / 'jenv.bash'} " in run("hook", "bash").stdout
    for shell, name in (("bash", "jenv.bash"), ("zsh", "_jenv"), ("fish", "jenv.fish")):
        assert run("completion", shell).stdout == (REPO / "completions" / name).read_text()
    assert not os.path.islink(installed / "shell" / "jenv.sh")
