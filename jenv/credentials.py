"""Reading credentials from files or variables, safely.

``read_credential`` never hangs on a FIFO, never reads a device or directory,
and refuses files larger than any PEM credential could be.  Key passphrases
are asked on the terminal (/dev/tty), never on stdout, so prompting works
inside ``eval "$(jenv token)"``; with no terminal the error is immediate.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Tuple, TypeVar

from jenv.errors import InvalidInputError, NotFoundError, PassphraseError, UnsafeFileError
from jenv.lite.pkcs12 import is_pkcs12, pkcs12_problem
from jenv.locations import Location
from jenv.safefile import (MAX_PEM_SIZE, FileReadError, FileRefusedError, check_directory, create_new_file,
                           file_kind, keep_secrets_out_of_core_dumps, read_small_file)

if TYPE_CHECKING:  # jenv.pem (and cryptography) load only when a credential is parsed: cert-verify's fast path
    from cryptography import x509

__all__ = [
    "read_credential",
    "load_certificate",
    "load_private_key",
    "tty_passphrase",
    "tty_secret",
    "PASSPHRASE_TRIES",
    "asking_again",
    "unlock_key",
    "read_raw_credential",
    "key_permission_problem",
    "materialize",
    "materialize_pair",
    "fix_hint",
    "describe_location",
    "die_by",
]


def fix_hint(loc: Location) -> str:
    """The one-line fix for a missing or broken credential."""
    if loc.what.startswith("token"):
        return "run 'jenv token-init' to create a token"
    if loc.what.startswith("PKCS#12"):
        return "give the path of the .p12 file the CA or your browser saved"
    var = loc.variable
    if var:
        return f"point {var} at the right file"
    variable = "X509_USER_CERT" if "cert" in loc.what else "X509_USER_KEY"
    return (f"run 'jenv cert-import <file.p12>' with the .p12 file from the CERN CA (it installs "
            f"~/.globus/usercert.pem and userkey.pem), or set {variable}")


def read_credential(loc: Location) -> bytes:
    """The bytes of a credential (file or PEM content).

    Raises NotFoundError (missing, unreadable), UnsafeFileError (not a regular
    file) or InvalidInputError (too large, or a PKCS#12 bundle: the message names
    ``jenv cert-import``).
    """
    data = read_raw_credential(loc)
    if data[:1] == b"\x30" and is_pkcs12(data):
        raise InvalidInputError(f"{describe_location(loc)} {pkcs12_problem(loc.path, loc.variable)}")
    return data


def read_raw_credential(loc: Location) -> bytes:
    """:func:`read_credential` without the PKCS#12 refusal (for ``jenv cert-import``, which wants one)."""
    if loc.problem is not None:
        raise InvalidInputError(loc.problem)
    if loc.what.endswith("key"):
        keep_secrets_out_of_core_dumps()
    if loc.pem is not None:
        data = loc.pem.encode("utf-8", "replace")
        if len(data) > MAX_PEM_SIZE:
            raise InvalidInputError(f"{loc.describe()} is larger than {MAX_PEM_SIZE} bytes")
        return data
    assert loc.path is not None
    where = f"{loc.what} {loc.path} ({loc.source})"
    try:
        found = read_small_file(loc.path, MAX_PEM_SIZE)
    except FileNotFoundError:
        raise NotFoundError(f"{where} does not exist: {fix_hint(loc)}") from None
    except PermissionError:
        raise NotFoundError(f"{where} is not readable: check its permissions") from None
    except FileRefusedError as exc:
        if exc.reason == "kind":
            raise UnsafeFileError(f"{where} is {file_kind(exc.st.st_mode)}, not a file: {fix_hint(loc)}") from None
        size = f"{exc.st.st_size} bytes, too large" if exc.st.st_size > MAX_PEM_SIZE else "too large"
        raise InvalidInputError(f"{where} is {size} for a PEM credential") from None
    except FileReadError as exc:
        raise NotFoundError(f"{where} cannot be read: {exc.strerror}") from None
    except OSError as exc:
        raise NotFoundError(f"{where} cannot be opened: {exc.strerror}") from None
    assert found is not None
    return found[0]


def describe_location(loc: Location) -> str:
    """The location for messages: path and where it came from, or the variable holding the PEM."""
    return f"{loc.describe()} ({loc.source})" if loc.pem is None else loc.describe()


def load_certificate(loc: Location) -> x509.Certificate:
    """Read and parse a certificate; errors name the location."""
    from jenv.pem import parse_certificate

    return parse_certificate(read_credential(loc), describe_location(loc))


def load_private_key(loc: Location, passphrase: Optional[Callable[[], bytes]] = None):
    """Read and parse a private key; an encrypted key asks on the terminal (up to :data:`PASSPHRASE_TRIES`
    times) unless ``passphrase`` is given."""
    from jenv.pem import parse_private_key

    what = describe_location(loc)
    data = read_credential(loc)
    if passphrase is not None:
        return parse_private_key(data, what, passphrase)
    return unlock_key(what, lambda secret: parse_private_key(data, what, secret))[0]


def tty_passphrase(what: str, before: str = "") -> bytes:
    """Ask for a passphrase on the controlling terminal with echo off (``before``: a line shown first).

    Raises PassphraseError at once when there is no terminal (a login shell
    must never wait on a prompt nobody sees).
    """
    return tty_secret(f"{before}Passphrase for {what}: ", f"{what} is encrypted and there is no terminal to ask "
                                                          "for its passphrase: run the command from a terminal")


#: How many times a terminal is asked for a passphrase or password before jenv gives up (ssh's and
#: openssl's number).
PASSPHRASE_TRIES = 3

T = TypeVar("T")


def asking_again(ask: Callable[[str], bytes], attempt: Callable[[Callable[[], bytes]], T], again: str,
                 tries: int = PASSPHRASE_TRIES) -> Tuple[T, Optional[bytes]]:
    """``attempt(secret)``, where ``secret()`` asks the terminal through ``ask(before)`` (once per try), and
    the answer that worked (None when nothing was asked).

    When the attempt raises PassphraseError after an answer was typed (a wrong or empty passphrase), the
    prompt comes again with the line ``again`` before it, up to ``tries`` answers in all; then the last
    error is raised.  Nothing is asked again when no answer was typed (no terminal).
    """
    before = ""
    for left in range(tries - 1, -1, -1):
        answers: List[bytes] = []

        def secret() -> bytes:
            if not answers:
                answers.append(ask(before))
            return answers[0]

        try:
            return attempt(secret), (answers[0] if answers else None)
        except PassphraseError:
            if not answers or not left:
                raise
        before = again + "\n"
    raise AssertionError("unreachable")  # the last try returns or raises


def unlock_key(what: str, attempt: Callable[[Callable[[], bytes]], T]) -> Tuple[T, Optional[bytes]]:
    """:func:`asking_again` with the key passphrase prompt (``tty_passphrase(what)``)."""
    return asking_again(lambda before: tty_passphrase(what, before), attempt, "Wrong passphrase, try again.")


#: (terminal fd, its modes before the prompt) while a prompt has echo off: restore_terminal's work.
_PROMPT_STATE: list = []


def restore_terminal() -> None:
    """Put back the terminal modes of a prompt in progress (echo on); for the login hook's watchdog,
    which ends jenv from another thread when its time is up.  Never raises."""
    for fd, modes in list(_PROMPT_STATE):
        try:
            import termios

            termios.tcsetattr(fd, termios.TCSANOW, modes)
            os.write(fd, b"\n")
        except (OSError, ImportError):
            pass


def tty_secret(prompt: str, no_terminal: str) -> bytes:
    """Read one line on the controlling terminal (/dev/tty) after ``prompt``, with echo off; the terminal
    modes come back whatever ends the prompt.  Raises PassphraseError(``no_terminal``) when there is none."""
    import termios

    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise PassphraseError(no_terminal) from None
    with os.fdopen(fd, "r+b", buffering=0) as tty:
        old = termios.tcgetattr(fd)
        new = list(old)
        new[3] &= ~termios.ECHO
        ended_by = None
        _PROMPT_STATE.append((fd, old))
        text = prompt.encode("utf-8", "replace")
        try:
            with _signals_end_the_prompt(fd, old, new, tty, text):
                # Echo off before the prompt (as getpass does): TCSAFLUSH drops pending
                # input, so a passphrase typed right after the prompt must not be flushed.
                termios.tcsetattr(fd, termios.TCSAFLUSH, new)
                tty.write(text)
                line = b""
                while not line.endswith(b"\n"):
                    chunk = tty.read(1)
                    if not chunk:
                        break
                    line += chunk
        except _PromptEnded as exc:
            ended_by = exc.signum
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, old)  # echo back on, whatever ended the prompt
            _PROMPT_STATE.remove((fd, old))
            tty.write(b"\n")
    if ended_by is not None:
        die_by(ended_by)
    return line.rstrip(b"\r\n")


class _PromptEnded(BaseException):
    """A signal that ends jenv arrived during the prompt (a hook's time limit, a closed terminal, Ctrl-\\)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _prompt_ending_signals() -> list:
    """The signals whose default action would end jenv at the prompt, with echo still off: SIGTERM, SIGHUP,
    SIGQUIT, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU, SIGVTALRM, SIGPROF, SIGPWR, SIGSTKFLT, SIGIO and the
    real-time signals, those still at their default action (one jenv was started with ignored stays
    ignored, as Python leaves SIGXFSZ).  SIGINT already unwinds (KeyboardInterrupt).  Signals of faults
    (SIGSEGV & co.) are left alone: a handler cannot run for a real one."""
    import signal

    names = ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGALRM", "SIGUSR1", "SIGUSR2", "SIGXCPU", "SIGXFSZ", "SIGVTALRM",
             "SIGPROF", "SIGPWR", "SIGSTKFLT", "SIGIO")
    found = [getattr(signal, name) for name in names if hasattr(signal, name)]
    if hasattr(signal, "SIGRTMIN"):
        found += range(signal.SIGRTMIN, signal.SIGRTMAX + 1)
    return [signum for signum in found if signal.getsignal(signum) == signal.SIG_DFL]


def _set_modes(fd: int, modes) -> None:
    """tcsetattr, again after a stop: a job continued in the background stops (SIGTTOU) until it is in the
    foreground, and then the call is interrupted."""
    import termios

    while True:
        try:
            termios.tcsetattr(fd, termios.TCSANOW, modes)
            return
        except termios.error as exc:
            if exc.args[0] != errno.EINTR:
                raise


@contextlib.contextmanager
def _signals_end_the_prompt(fd: int, old, new, tty, prompt: bytes) -> Iterator[None]:
    """While the prompt waits, a signal that would end jenv unwinds it instead (so the terminal modes are
    restored first, then jenv ends by that signal), and SIGTSTP (Ctrl-Z) gives echo back while jenv is
    stopped and takes it away again, prompt repeated, when it continues (as ssh's readpassphrase does)."""
    import signal

    def ended(signum, _frame):
        raise _PromptEnded(signum)

    def stopped(signum, _frame):
        _set_modes(fd, old)  # echo on while jenv is stopped
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # jenv stops here, until SIGCONT
        signal.signal(signum, stopped)
        _set_modes(fd, new)
        tty.write(b"\n" + prompt)

    previous = {signum: signal.signal(signum, ended) for signum in _prompt_ending_signals()}
    if signal.getsignal(signal.SIGTSTP) == signal.SIG_DFL:
        previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, stopped)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def die_by(signum: int) -> None:
    """End the process by ``signum``'s default action, as if the handler had never been there
    (the hook's ``timeout`` and the shell then see the usual status)."""
    import signal

    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    raise SystemExit(128 + signum)  # only reached if the signal is blocked


def key_permission_problem(path: str) -> Optional[str]:
    """A message when a key file is readable or writable by group/others, else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if mode & 0o077:
        return f"{path} has mode {stat.S_IMODE(mode):04o}, readable by others: run 'chmod 600 {path}'"
    return None


def _fresh_private_directory() -> str:
    """A new 0700 directory (mkdtemp) for temporary copies of PEM content."""
    import tempfile

    from jenv.safefile import new_private_directory

    # mkdtemp's fresh 0700 directory is only as safe as the one it is made in: where others may rename
    # it away and put theirs in its place, the copy would be written into theirs.
    check_directory(tempfile.gettempdir(), "temporary copies of PEM content", os.getuid())
    return new_private_directory("jenv-")


@contextlib.contextmanager
def materialize_pair(cert: Location, key: Location) -> Iterator[Tuple[str, str]]:
    """File paths for a certificate and key: their own paths, or private temporary copies of PEM content
    side by side in one fresh 0700 directory (a pair has one origin), removed when the block ends."""
    if cert.pem is None and key.pem is None:
        with materialize(cert) as cert_path, materialize(key) as key_path:
            yield cert_path, key_path
        return
    for loc in (cert, key):
        if loc.problem is not None or loc.pem is None:
            raise InvalidInputError(loc.problem or f"{loc.describe()}: give both halves as PEM content")
    directory = _fresh_private_directory()
    paths = [os.path.join(directory, name) for name in ("tokencert.pem", "tokenkey.pem")]
    try:
        for path, loc in zip(paths, (cert, key)):
            text = loc.pem if loc.pem.endswith("\n") else loc.pem + "\n"
            create_new_file(path, text.encode("utf-8", "replace"), 0o600)
        yield paths[0], paths[1]
    finally:
        for path in paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(directory)


@contextlib.contextmanager
def materialize(loc: Location) -> Iterator[str]:
    """A file path for a credential: its own path, or a private temporary copy of PEM content.

    The temporary file lives in a fresh 0700 directory, is created 0600 and is
    removed when the block ends, whatever happens.  Raises UnsafeFileError
    when others can write the temporary directory (see :func:`check_directory`).
    """
    if loc.problem is not None:
        raise InvalidInputError(loc.problem)
    if loc.pem is None:
        assert loc.path is not None
        yield loc.path
        return
    directory = _fresh_private_directory()
    path = os.path.join(directory, "credential.pem")
    try:
        text = loc.pem if loc.pem.endswith("\n") else loc.pem + "\n"
        create_new_file(path, text.encode("utf-8", "replace"), 0o600)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(directory)
