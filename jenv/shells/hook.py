"""The login line in one process: ``eval "$(jenv hook bash)"`` (and its zsh, ksh, sh, fish, tcsh twins).

One Python start prints everything the login needs, in this order:

1. the private-TMPDIR decision of lxplus-like nodes (:func:`private_tmpdir`),
   the same rules as ``shell/jenv.sh``;
2. a completion loader (bash, zsh, fish) that reads the installed completion
   file at the first TAB, not at every login (:func:`completion_loader`);
3. the token exports of ``jenv token``.

The time bound holds even if jenv itself hangs: :func:`start_watchdog` forks
before any work; the child does the work and writes to the parent, which
relays to the shell and gives up on the child after ``JENV_HOOK_TIMEOUT``
seconds, saying why on stderr.  Stdlib only (it runs on the fast path).
"""

from __future__ import annotations

import os

from jenv.shells.posix import posix_quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, MutableMapping, Optional, Tuple

__all__ = ["private_tmpdir", "completion_loader", "start_watchdog", "hook_limit", "DEFAULT_HOOK_LIMIT",
           "TIMEOUT_MESSAGE"]

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


def private_tmpdir(environ: Mapping[str, str], home: str, hostname: str) -> Tuple[Optional[str], Optional[str]]:
    """(the TMPDIR to set, a warning): where /tmp is private to the node and TMPDIR is unset, a
    directory under $HOME that the next login on another node finds again.

    Private when JENV_PRIVATE_TMP=1, or the host is named ``lxplus*`` (JENV_PRIVATE_TMP=0 turns
    that off).  The directory is JENV_TMPDIR, else ``$HOME/private/jenv-tmp`` where ``$HOME/private``
    exists (AFS), else ``$HOME/.cache/jenv/tmp``; created 0700 when missing.
    """
    if environ.get("TMPDIR"):
        return None, None
    setting = environ.get("JENV_PRIVATE_TMP", "")
    private = setting == "1" or (setting != "0" and hostname.startswith("lxplus"))
    if not private:
        return None, None
    directory = environ.get("JENV_TMPDIR") or (
        os.path.join(home, "private", "jenv-tmp") if os.path.isdir(os.path.join(home, "private"))
        else os.path.join(home, ".cache", "jenv", "tmp"))
    if not os.path.isdir(directory):
        old_mask = os.umask(0o077)
        try:
            os.makedirs(directory, exist_ok=True)
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

_ZSH_LOADER = """\
if [ -n "${{ZSH_VERSION:-}}" ]; then
    (( ${{fpath[(Ie){dir}]}} )) || fpath=({dir} $fpath)
    autoload -Uz _jenv
    (( ${{+functions[compdef]}} )) && compdef _jenv jenv alien-token-init
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


#: Whether this process is already the watched child (jenv.fastpath starts the watchdog as early as it can).
_WATCHED = False
_WATCHED_CHILD = False


def start_watchdog(seconds: float, message: str) -> None:
    """Go on in a forked child that is ended after ``seconds``; this process relays its output.

    The child's stdout is a pipe to this process, which copies what arrives to the real stdout as
    it arrives (the TMPDIR and completion lines come before the token step) and exits with the
    child's status.  So the shell always sees a plain exit, never "Terminated", and its ``$(...)``
    ends when this process does: even a child stuck in the kernel (a hung network filesystem),
    which no signal ends, holds only the relay pipe.  When time is up the child gets SIGTERM (a
    passphrase prompt restores the terminal on it), SIGKILL two seconds later, and ``message``
    goes to stderr.  A Ctrl-C is the child's to handle; this process keeps relaying.  Without fork
    (or when it fails) there is no bound.  Called more than once, it does nothing more.

    The earlier it runs the cheaper it is: after fork every page either process writes is copied,
    so jenv.fastpath calls it before the hook's modules are even imported.
    """
    global _WATCHED
    if _WATCHED:
        return
    _WATCHED = True
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except (AttributeError, OSError):
        return
    if pid == 0:
        global _WATCHED_CHILD
        _WATCHED_CHILD = True
        os.close(read_end)
        os.dup2(write_end, 1)  # the child's stdout is the relay pipe (dup2 makes fd 1 inheritable)
        os.close(write_end)
        return
    os.close(write_end)
    import select  # loaded by this waiting process while the child works
    import time

    deadline = time.monotonic() + seconds
    code = 0
    try:
        while True:
            try:
                ready = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))[0]
            except KeyboardInterrupt:
                continue
            if not ready:
                import signal

                os.write(2, (message + "\n").encode("utf-8", "replace"))
                os.kill(pid, signal.SIGTERM)
                end = time.monotonic() + 2
                while os.waitpid(pid, os.WNOHANG)[0] == 0:
                    if time.monotonic() >= end:
                        os.kill(pid, signal.SIGKILL)  # not waited for: it may be stuck in the kernel
                        break
                    time.sleep(0.05)
                break
            chunk = os.read(read_end, 65536)
            if not chunk:
                code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                code = code if code >= 0 else 128 - code
                break
            view = memoryview(chunk)
            while view:
                view = view[os.write(1, view):]
    except BaseException:  # noqa: BLE001 - the relaying parent never runs on as a second jenv
        pass
    os._exit(code)


def watched() -> bool:
    """Whether this process is the child :func:`start_watchdog` left working."""
    return _WATCHED_CHILD


def apply_private_tmpdir(environ: MutableMapping[str, str], home: str) -> Tuple[Optional[str], Optional[str]]:
    """:func:`private_tmpdir` for this host, with TMPDIR set in ``environ`` when one was chosen."""
    directory, warning = private_tmpdir(environ, home, os.uname().nodename)
    if directory is not None:
        environ["TMPDIR"] = directory
    return directory, warning
