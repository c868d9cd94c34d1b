"""``jenv hook`` and ``jenv completion``: print the shell files shipped in jenv/data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Dict, Tuple

from jenv.context import Context
from jenv.errors import ExitCode, NotFoundError, UsageError
from jenv.shells import ShellFamily, pick_shell, quote_value

__all__ = ["cmd_hook", "cmd_completion", "hook_text", "completion_text", "data_file",
           "COMPLETION_FILES", "HOOK_FILES"]

#: shell family -> hook file under jenv/data/shell
HOOK_FILES: Dict[ShellFamily, str] = {
    ShellFamily.POSIX: "jenv.sh",
    ShellFamily.FISH: "jenv.fish",
    ShellFamily.CSH: "jenv.csh",
}

#: shell name -> completion file under jenv/data/completions
COMPLETION_FILES: Dict[str, str] = {"bash": "jenv.bash", "zsh": "_jenv", "fish": "jenv.fish"}


def data_file(*parts: str) -> Path:
    """Path of a file shipped in jenv/data; NotFoundError when the install lacks it."""
    path = Path(str(resources.files("jenv").joinpath("data", *parts)))
    if not path.is_file():
        raise NotFoundError(f"{path} is missing from the jenv installation: reinstall jenv "
                            "(pip install --force-reinstall jenv)")
    return path


def _choose(explicit_arg: str, ctx: Context) -> Tuple[str, ShellFamily]:
    choice = pick_shell(explicit_arg or ctx.shell, ctx.environ)
    return choice.name, choice.family


def hook_text(shell: str, family: ShellFamily) -> str:
    """The login hook for ``shell``.

    POSIX and fish get the hook itself; csh/tcsh get a ``source`` line for the
    installed jenv.csh, because csh's ``eval`` joins the lines of backquote
    output and a multi-line hook cannot survive that.  Raises UsageError for json.
    """
    if family not in HOOK_FILES:
        raise UsageError(f"no login hook for {shell}: use sh, bash, zsh, ksh, dash, fish, tcsh or csh")
    path = data_file("shell", HOOK_FILES[family])
    if family is ShellFamily.CSH:
        return f"source {quote_value(shell, str(path))};\n"
    return path.read_text(encoding="utf-8")


def completion_text(shell: str) -> str:
    """The completion script for bash, zsh or fish; UsageError for other shells."""
    if shell not in COMPLETION_FILES:
        raise UsageError(f"no completion for {shell}: available for bash, zsh and fish")
    return data_file("completions", COMPLETION_FILES[shell]).read_text(encoding="utf-8")


def cmd_hook(args, ctx: Context) -> int:
    """Print the login hook for your shell (default: the shell running jenv).

    Usage:
      jenv hook [<shell>]

    Put one line in your login file:
      ~/.bashrc, ~/.zshrc, ~/.kshrc, ~/.profile   eval "$(jenv hook bash)"
      ~/.config/fish/config.fish                  jenv hook fish | source
      ~/.tcshrc, ~/.cshrc                         eval "`jenv hook tcsh`"

    The hook gets a valid token at login (jenv token) and exports it; where /tmp
    is private to the node (lxplus*, or JENV_PRIVATE_TMP=1) and TMPDIR is unset,
    it first sets TMPDIR to JENV_TMPDIR or a 0700 directory under $HOME.  Silent
    on success, one line on failure, never more than JENV_HOOK_TIMEOUT (20) s.
    Shells: sh bash zsh ksh dash fish tcsh csh.
    """
    shell, family = _choose(args["<shell>"], ctx)
    ctx.stdout.write(hook_text(shell, family))
    return ExitCode.OK


def cmd_completion(args, ctx: Context) -> int:
    """Print the completion script for bash, zsh or fish (default: the shell running jenv).

    Usage:
      jenv completion [<shell>]

    Install:
      bash  ~/.bashrc:                   eval "$(jenv completion bash)"
      zsh   ~/.zshrc, after compinit:    eval "$(jenv completion zsh)"
            or: jenv completion zsh > ~/.zfunc/_jenv  (with fpath+=(~/.zfunc) before compinit)
      fish  jenv completion fish > ~/.config/fish/completions/jenv.fish
    """
    shell, _family = _choose(args["<shell>"], ctx)
    ctx.stdout.write(completion_text(shell))
    return ExitCode.OK
