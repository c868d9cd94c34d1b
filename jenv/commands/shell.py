"""``jenv hook`` (the login line, in one process) and ``jenv completion`` (the files in jenv/data)."""

from __future__ import annotations

import os
import sys

from jenv.context import Context
from jenv.errors import ExitCode, JenvError, NotFoundError, UsageError
from jenv.lite.record import Option, options_record
from jenv.shells import ShellFamily, pick_shell, quote_value, render_exports

TYPE_CHECKING = False
if TYPE_CHECKING:  # `jenv hook` runs on the login fast path: light imports only
    from typing import Dict, Optional, Tuple

__all__ = ["cmd_hook", "cmd_completion", "hook_text", "completion_text", "data_file", "data_dir",
           "COMPLETION_FILES", "HOOK_FILES", "HookOptions", "CompletionOptions"]

#: ``jenv hook``'s options.
HookOptions = options_record("HookOptions", {"shell": Option("<shell>"), "file": Option("--file", False)})
#: ``jenv completion``'s options.
CompletionOptions = options_record("CompletionOptions", {"shell": Option("<shell>")})

#: shell family -> hook file under jenv/data/shell
HOOK_FILES: Dict[ShellFamily, str] = {
    ShellFamily.POSIX: "jenv.sh",
    ShellFamily.FISH: "jenv.fish",
    ShellFamily.CSH: "jenv.csh",
}

#: shell name -> completion file under jenv/data/completions
COMPLETION_FILES: Dict[str, str] = {"bash": "jenv.bash", "zsh": "_jenv", "fish": "jenv.fish"}


def data_dir(*parts: str) -> str:
    """A directory shipped in jenv/data (jenv is installed as files; pathlib is not on the fast path)."""
    import jenv

    return os.path.join(os.path.dirname(os.path.abspath(jenv.__file__)), "data", *parts)


def data_file(*parts: str) -> str:
    """Path of a file shipped in jenv/data; NotFoundError when the install lacks it."""
    path = data_dir(*parts)
    if not os.path.isfile(path):
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
        return f"source {quote_value(shell, path)};\n"
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def completion_text(shell: str) -> str:
    """The completion script for bash, zsh or fish; UsageError for other shells."""
    if shell not in COMPLETION_FILES:
        raise UsageError(f"no completion for {shell}: available for bash, zsh and fish")
    with open(data_file("completions", COMPLETION_FILES[shell]), encoding="utf-8") as handle:
        return handle.read()


def cmd_hook(args, ctx: Context) -> int:
    """The login line for your shell: a valid token, exported, in one jenv process.

    Usage:
      jenv hook [<shell>] [--file]

    Options:
      --file    Print the hook script instead (for sourcing from a file; it runs
                "jenv token" itself under timeout).

    Put one line in your login file, as its last line (Ctrl-C at a passphrase
    prompt skips the rest of a bash or zsh login file):
      ~/.bashrc, ~/.zshrc, ~/.kshrc, ~/.profile   eval "$(jenv hook bash)"   (zsh, ksh, sh alike)
      ~/.config/fish/config.fish                  jenv hook fish | source
      ~/.tcshrc, ~/.cshrc                         eval "`jenv hook tcsh`"
    or, for no process at all once the token is fresh (bash, zsh, ksh alike; docs/manual.md, "Shell setup"):
      [ -O ~/.cache/jenv/login.bash ] && . ~/.cache/jenv/login.bash || eval "$(jenv hook bash)"
      test -O ~/.cache/jenv/login.fish; and source ~/.cache/jenv/login.fish; or jenv hook fish | source

    It prints, from one process: TMPDIR where /tmp is private to the node
    (lxplus*, or JENV_PRIVATE_TMP=1) and TMPDIR is unset (JENV_TMPDIR, else a
    0700 directory under $HOME), a completion loader for bash, zsh and fish
    (the completion file is read at the first TAB), and the exports of
    "jenv token" (a new token first when needed, the passphrase asked on the
    terminal).  Silent on success, one line on failure, never more than
    JENV_HOOK_TIMEOUT (20) seconds.  Shells: sh bash zsh ksh dash fish tcsh csh.
    For bash, zsh, ksh and fish it also installs ~/.cache/jenv/login.<shell>.
    """
    opts = HookOptions.from_args(args)
    shell, family = _choose(opts.shell, ctx)
    if opts.file or family not in HOOK_FILES:
        ctx.stdout.write(hook_text(shell, family))
        return ExitCode.OK
    from jenv.shells.hook import TIMEOUT_MESSAGE, apply_private_tmpdir, completion_loader, hook_limit, \
        start_watchdog

    limit = hook_limit(ctx.environ)
    if ctx.stdout is sys.stdout:  # the real process (an in-process test run must not be ended)
        start_watchdog(limit, TIMEOUT_MESSAGE.format(limit=f"{limit:g}"))
    environ = dict(ctx.environ)
    tmpdir, warning = apply_private_tmpdir(environ, ctx.home)
    if warning:
        ctx.err(warning)
    first = render_exports(shell, {"TMPDIR": tmpdir}) if tmpdir else ""
    first += completion_loader(shell, data_dir("completions"))
    if first:  # now: if the token step is cut short, the shell still gets these
        ctx.stdout.write(first)
        ctx.stdout.flush()
    environ.setdefault("JENV_TIMEOUT", "8")  # each network step, well within the hook's bound
    exports = _token_exports(ctx, environ, shell)
    if exports:
        ctx.stdout.write(exports)
    from jenv.shells.hook import LOGIN_SOURCES

    if shell in LOGIN_SOURCES:
        install_login_file(ctx, shell)
    return ExitCode.OK


def install_login_file(ctx: Context, shell: str) -> Optional[str]:
    """Put the shell's in-shell login (``login.<shell>`` with its completion loaders, and the prompt file:
    :func:`jenv.shells.hook.login_file_texts`) in ``~/.cache/jenv`` when missing or different; the login
    file's path, or None when it cannot be written (the login line then keeps running ``jenv hook``)."""
    from jenv.shells.hook import LOGIN_SOURCES, PROMPT_SOURCES, completion_loader, login_file_texts
    from jenv.safefile import read_private_file, replace_file
    from jenv.tokens.fresh import fresh_directory
    from jenv.tokens.memo import memo_directory

    if not os.path.isabs(ctx.home):
        return None
    directory = memo_directory((fresh_directory(ctx.home),), ctx.uid, create=True)
    if directory is None:
        return None
    sources = []
    for name in (LOGIN_SOURCES[shell], PROMPT_SOURCES[shell][0]):
        with open(data_file("shell", name), encoding="utf-8") as handle:
            sources.append(handle.read())
    texts = login_file_texts(shell, sources[0], sources[1], completion_loader(shell, data_dir("completions")))
    for name, text in reversed(texts):  # the prompt file first: a login file finds the one it loads
        data = text.encode("utf-8", "surrogateescape")
        path = os.path.join(directory, name)
        try:
            if read_private_file(path, ctx.uid, "login file", True, 1 << 20, guard=False) != data:
                replace_file(path, data, 0o600)
        except (OSError, JenvError):
            return None
    return os.path.join(directory, texts[0][0])


def _token_exports(ctx: Context, environ: "Dict[str, str]", shell: str) -> str:
    """What ``jenv token --shell <shell>`` prints, run in this process; '' after its one stderr line."""
    import io

    from jenv.durations import DEFAULT_MIN_VALID, parse_duration
    from jenv.tokens.inuse import renew_token, use_existing_token

    class Held(io.StringIO):
        """The token step's output, held; a terminal when the hook's own stdout is one, so that key content
        is refused there as ``jenv token`` refuses it (typed without eval)."""

        def isatty(self) -> bool:
            try:
                return ctx.stdout.isatty()
            except (AttributeError, ValueError):
                return False

    buffer = Held()
    inner = Context(environ, ctx.uid, ctx.home, shell=shell, stdout=buffer, stderr=ctx.stderr, clock=ctx.clock)
    try:
        min_valid, typed = parse_duration(DEFAULT_MIN_VALID), ["jenv token"]
        if use_existing_token(inner, min_valid, False, typed) is None:
            import warnings  # a new token: library warnings are not for a login (as in cli.main)

            with warnings.catch_warnings():
                if not environ.get("JENV_DEBUG"):
                    warnings.simplefilter("ignore")
                renew_token(inner, min_valid, False, typed)
    except JenvError as exc:
        from jenv.context import printable

        ctx.err(f"jenv: {printable(str(exc))}")
        return ""
    return buffer.getvalue()


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
    shell, _family = _choose(CompletionOptions.from_args(args).shell, ctx)
    ctx.stdout.write(completion_text(shell))
    return ExitCode.OK
