"""The login line in one process: ``eval "$(jenv hook bash)"`` (and its zsh, ksh, sh, fish, tcsh twins).

One Python start prints everything the login needs, in this order:

1. the private-TMPDIR decision of lxplus-like nodes (:func:`private_tmpdir`),
   the same rules as ``shell/jenv.sh``;
2. a completion loader (bash, zsh, fish) that reads the installed completion
   file at the first TAB, not at every login (:func:`completion_loader`);
3. the token exports of ``jenv token``.

The time bound holds even if jenv itself hangs: :func:`start_watchdog` starts
a thread before any work that ends the process after ``JENV_HOOK_TIMEOUT``
seconds, saying why on stderr.  Stdlib only (it runs on the fast path).
"""

from __future__ import annotations

import os

from jenv.shells.posix import posix_quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Mapping, MutableMapping, Optional, Tuple

__all__ = ["private_tmpdir", "node_private_tmp", "completion_loader", "start_watchdog", "hook_limit",
           "DEFAULT_HOOK_LIMIT", "TIMEOUT_MESSAGE", "LOGIN_SOURCES", "PROMPT_SOURCES", "LOADER_MARK", "CHECK_PLACE",
           "login_file_texts"]

DEFAULT_HOOK_LIMIT = 20
TIMEOUT_MESSAGE = ("jenv hook: no token: jenv token did not finish within {limit}s (a passphrase prompt left "
                   "unanswered, or JCentral not answering); JENV_HOOK_TIMEOUT sets the limit")


def hook_limit(environ: Mapping[str, str]) -> float:
    """JENV_HOOK_TIMEOUT in seconds (default 20); a value that is not a positive number is the default."""
    try:
        value = float(environ.get("JENV_HOOK_TIMEOUT") or DEFAULT_HOOK_LIMIT)
    except ValueError:
        return DEFAULT_HOOK_LIMIT
    return value if 0 < value <= 86400 else DEFAULT_HOOK_LIMIT


def node_private_tmp(environ: Mapping[str, str], hostname: str) -> bool:
    """Whether /tmp is private to this node: JENV_PRIVATE_TMP=1, or a host named ``lxplus*``
    (JENV_PRIVATE_TMP=0 turns that off)."""
    setting = environ.get("JENV_PRIVATE_TMP", "")
    return setting == "1" or (setting != "0" and hostname.startswith("lxplus"))


def private_tmpdir(environ: Mapping[str, str], home: str, hostname: str) -> Tuple[Optional[str], Optional[str]]:
    """(the TMPDIR to set, a warning): where /tmp is private to the node and TMPDIR is unset, a
    directory under $HOME that the next login on another node finds again.

    Private when JENV_PRIVATE_TMP=1, or the host is named ``lxplus*`` (JENV_PRIVATE_TMP=0 turns
    that off).  The directory is JENV_TMPDIR, else ``$HOME/private/jenv-tmp`` where ``$HOME/private``
    exists (AFS), else ``$HOME/.cache/jenv/tmp``; created 0700 when missing.
    """
    if environ.get("TMPDIR") or not node_private_tmp(environ, hostname):
        return None, None
    directory = environ.get("JENV_TMPDIR") or (
        os.path.join(home, "private", "jenv-tmp") if os.path.isdir(os.path.join(home, "private"))
        else os.path.join(home, ".cache", "jenv", "tmp"))
    if not os.path.isdir(directory):
        from jenv.safefile import make_directory

        old_mask = os.umask(0o077)
        try:
            make_directory(directory, 0o700)
        except OSError:
            return None, f"jenv hook: cannot create {directory}; TMPDIR left unset"
        finally:
            os.umask(old_mask)
    return os.path.abspath(directory), None


_BASH_LOADER = """\
if [ -n "${{BASH_VERSION:-}}" ] && ! complete -p jenv >/dev/null 2>&1; then
    _jenv_lazy_complete() {{
        unset -f _jenv_lazy_complete
        complete -r jenv alien-token-init 2>/dev/null
        if . {file} 2>/dev/null && declare -F _jenv_complete >/dev/null; then
            _jenv_complete "$@"
        fi
    }}
    complete -F _jenv_lazy_complete jenv alien-token-init
fi
"""

# zsh: the completion system (compinit) may run after this line (its fpath scan then finds _jenv), or
# not at all; then the first TAB starts it as zsh's own documentation does (compinit -i: insecure
# directories skipped, never asked about) and completes.  Nothing runs at login or at the prompt (no
# process: compinit forks), only in an interactive shell, and a .zshrc that runs compinit pays nothing.
_ZSH_LOADER = """\
if [ -n "${{ZSH_VERSION:-}}" ]; then
    (( ${{fpath[(Ie){dir}]}} )) || fpath=({dir} $fpath)
    autoload -Uz _jenv
    if (( ${{+functions[compdef]}} )); then
        compdef _jenv jenv alien-token-init
    elif [[ -o interactive ]] && (( ! ${{+functions[_jenv_first_tab]}} )); then
        _jenv_first_tab() {{
            bindkey -M emacs '^I' expand-or-complete
            bindkey -M viins '^I' expand-or-complete
            (( ${{+functions[compdef]}} )) || {{ autoload -Uz compinit && compinit -i; }}
            zle expand-or-complete
        }}
        zle -N _jenv_first_tab
        bindkey -M emacs '^I' _jenv_first_tab
        bindkey -M viins '^I' _jenv_first_tab
    fi
fi
"""

_FISH_LOADER = """\
if not contains -- {dir} $fish_complete_path; set -g fish_complete_path $fish_complete_path {dir}; end;
"""


def completion_loader(shell: str, completion_dir: str) -> str:
    """Shell code that loads jenv's completion from ``completion_dir`` at the first TAB ('' for shells
    jenv has no completion for).  Safe under ``set -eu``, and when evaluated twice."""
    if shell == "bash":
        return _BASH_LOADER.format(file=posix_quote(os.path.join(completion_dir, "jenv.bash")))
    if shell == "zsh":
        return _ZSH_LOADER.format(dir=posix_quote(completion_dir))
    if shell == "fish":
        from jenv.shells.fish import FishEmitter

        return _FISH_LOADER.format(dir=FishEmitter().quote(completion_dir))
    return ""


#: Whether the watchdog runs already.
_WATCHED = False


def start_watchdog(seconds: float, message: str) -> None:
    """End this process after ``seconds``, from a watchdog thread, with ``message`` on stderr.

    A thread of the process itself (``_thread``, built in: nothing to import) sleeps until the bound,
    then puts back the terminal modes of a passphrase prompt in progress
    (:func:`jenv.credentials.restore_terminal`), prints the message and ends the whole process with
    status 0, so the shell goes on and never prints "Terminated".  It ends whatever jenv is waiting
    for that the kernel lets go of (a JCentral that does not answer, a prompt nobody answers); like
    ``timeout(1)`` before it, it cannot end a process stuck in the kernel (a hung network
    filesystem).  A forked watchdog could, but a fork costs the login line a fifth of its time.
    Called more than once, it does nothing more.
    """
    global _WATCHED
    if _WATCHED:
        return
    _WATCHED = True
    import _thread
    import sys
    import time

    def watch() -> None:
        time.sleep(seconds)
        try:
            credentials = sys.modules.get("jenv.credentials")
            if credentials is not None:
                credentials.restore_terminal()
            os.write(2, (message + "\n").encode("utf-8", "replace"))
        finally:
            os._exit(0)

    try:
        _thread.start_new_thread(watch, ())
    except RuntimeError:
        pass  # no thread: no bound, as without timeout(1)


def apply_private_tmpdir(environ: MutableMapping[str, str], home: str) -> Tuple[Optional[str], Optional[str]]:
    """:func:`private_tmpdir` for this host, with TMPDIR set in ``environ`` when one was chosen."""
    directory, warning = private_tmpdir(environ, home, os.uname().nodename)
    if directory is not None:
        environ["TMPDIR"] = directory
    return directory, warning

# --- the login decided inside the shell (issue 22): the files "jenv hook" installs in ~/.cache/jenv ---------
#
# Sourced at every login, ``login.<shell>`` (from jenv/data/shell/login.sh or login.fish) holds the check as
# one condition, read and run once, and nothing else before its ``return 0``: reading shell code costs a
# shell about as much as running it.  The prompt machinery is read at the first prompt only, from
# ``prompt.sh`` (or ``prompt.fish``): jenv/data/shell/prompt.* with the very same check, cut from the login
# file between its two marker lines (as the function ``jenv_token_fresh``; for fish, as the condition of the
# prompt function's ``if``).

#: shell -> the file under jenv/data/shell of its login decided inside the shell, installed as
#: ``~/.cache/jenv/login.<shell>`` (with the shell's completion loaders after :data:`LOADER_MARK`).
LOGIN_SOURCES: Dict[str, str] = {"bash": "login.sh", "zsh": "login.sh", "ksh": "login.sh", "fish": "login.fish"}

#: shell -> (the prompt source under jenv/data/shell, the name it is installed under in ~/.cache/jenv).
PROMPT_SOURCES: Dict[str, Tuple[str, str]] = {"bash": ("prompt.sh", "prompt.sh"), "zsh": ("prompt.sh", "prompt.sh"),
                                              "ksh": ("prompt.sh", "prompt.sh"),
                                              "fish": ("prompt.fish", "prompt.fish")}

#: The line of a login file after which its completion loaders go.
LOADER_MARK = "# (the completion loaders of \"jenv hook\", written here by jenv)\n"

#: The line of a prompt file that the login file's check replaces: as the function jenv_token_fresh (bash, zsh,
#: ksh), as the condition of the prompt function's ``if`` (fish).
CHECK_PLACE = "# (the check of the login file, put here by \"jenv hook\")\n"

#: The comment lines in a login file that open and close its check (the lines between are the check).
_CHECK_BEGIN = "# the check {"
_CHECK_END = "# } the check"


def check_lines(login_source: str) -> List[str]:
    """The lines of the check in a login file's text, between its marker lines (for fish: the whole ``if``
    line and its ``and`` lines; for the others the condition list, without the ``if``)."""
    lines = login_source.splitlines(keepends=True)
    begin = [i for i, line in enumerate(lines) if line.rstrip().endswith(_CHECK_BEGIN)]
    end = [i for i, line in enumerate(lines) if line.strip().startswith(_CHECK_END)]
    if len(begin) != 1 or len(end) != 1 or not begin[0] < end[0]:
        raise ValueError("a login file needs one pair of the check's marker lines")
    return lines[begin[0] + 1:end[0]]


def login_file_texts(shell: str, login_source: str, prompt_source: str, loaders: str) -> List[Tuple[str, str]]:
    """[(file name in ~/.cache/jenv, text)]: the login file, with ``loaders`` after its mark, and the prompt
    file, with the login file's check as the function ``jenv_token_fresh``."""
    check = "".join(check_lines(login_source))
    function = check if shell == "fish" else "function jenv_token_fresh {\n" + check + "}\n"
    if CHECK_PLACE not in prompt_source or LOADER_MARK not in login_source:
        raise ValueError("a shell file lacks its mark")
    return [("login." + shell, login_source.replace(LOADER_MARK, LOADER_MARK + loaders, 1)),
            (PROMPT_SOURCES[shell][1], prompt_source.replace(CHECK_PLACE, function, 1))]
