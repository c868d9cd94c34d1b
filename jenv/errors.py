"""Errors and exit codes: the one table that the README and ``jenv --help`` quote.

Every expected failure is a :class:`JenvError` subclass whose message names the
problem and, where there is one, the fix.  ``cli.main`` turns it into one line
on stderr and the error's exit code; nothing else in jenv exits the process.
"""

from __future__ import annotations

__all__ = [
    "ExitCode",
    "JenvError",
    "UsageError",
    "NotFoundError",
    "InvalidInputError",
    "NotValidNowError",
    "VerifyError",
    "KeyMismatchError",
    "UnsafeFileError",
    "NetworkError",
    "ServerRefusedError",
    "PassphraseError",
    "NotCoveredError",
    "LockTimeoutError",
    "EXIT_CODE_TABLE",
]


class _ExitStatus(int):
    """One exit status: an int that also knows its name and its one-line meaning."""

    name: str
    text: str

    def __new__(cls, value: int, text: str) -> "_ExitStatus":
        status = int.__new__(cls, value)
        status.text = text
        status.name = str(value)
        return status

    def __set_name__(self, owner: type, name: str) -> None:
        if isinstance(owner, _ExitCodeTable):  # a member of ExitCode (not JenvError.exit_code = ...)
            self.name = name
            owner._members.append(self)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<ExitCode.{self.name}: {int(self)}>"

    __str__ = int.__repr__


class _ExitCodeTable(type):
    """Iterating over ExitCode gives its members in order; ExitCode(3) looks one up by value."""

    def __iter__(cls):
        return iter(cls._members)  # type: ignore[attr-defined]

    def __len__(cls) -> int:
        return len(cls._members)  # type: ignore[attr-defined]

    def __call__(cls, value: int) -> _ExitStatus:  # type: ignore[override]
        for member in cls._members:  # type: ignore[attr-defined]
            if member == value:
                return member
        raise ValueError(f"{value!r} is not a jenv exit code")


class ExitCode(metaclass=_ExitCodeTable):
    """Process exit statuses of jenv (stable: scripts may test them); each carries its one-line meaning,
    which ``jenv --help`` and the README's table quote (a test ties the README to these texts).

    A plain class rather than ``enum.IntEnum``: ``enum`` is not imported on the login fast path.
    """

    _members: list = []

    OK = _ExitStatus(0, "success")
    ERROR = _ExitStatus(1, "unexpected internal error (JENV_DEBUG=1 shows the traceback)")
    USAGE = _ExitStatus(2, "usage error: unknown command, bad option or option value")
    NOT_FOUND = _ExitStatus(3, "a certificate, key or CA store is missing or unreadable")
    INVALID = _ExitStatus(4, "a file, variable or answer holds something unusable")
    NOT_VALID_NOW = _ExitStatus(5, "certificate expired, about to expire, or not yet valid")
    VERIFY_FAILED = _ExitStatus(6, "certificate does not verify against the CA certificates, or is not the one "
                                    "expected (JCentral's name, a server's certificate, your account's token)")
    KEY_MISMATCH = _ExitStatus(7, "private key does not belong to the certificate")
    UNSAFE = _ExitStatus(8, "unsafe file refused (permissions, symlink, owner, file type)")
    NETWORK = _ExitStatus(9, "JCentral unreachable (refused, timeout, TLS, broken answer)")
    REFUSED = _ExitStatus(10, "JCentral refused the request (shows the server's message)")
    PASSPHRASE = _ExitStatus(11, "key passphrase needed but no terminal, or wrong passphrase")
    NO_AGENT = _ExitStatus(12, "no jenv agent runs for you on this host (agent status, renew-now, stop)")
    #: ``exec --for``/``export --for`` before anything starts: the token ends sooner and no agent renews it;
    #: ``exec --renew``: neither an agent nor an unencrypted user key can renew the command's copy.
    NOT_COVERED = _ExitStatus(13, "the token cannot last as long as asked (exec/export --for) and nothing can "
                                  "renew it (exec --renew): start 'jenv agent', or get a longer token")
    LOCKED = _ExitStatus(14, "the token files stayed locked too long by another jenv (getting a token or waiting "
                             "for a passphrase)")
    INTERRUPTED = _ExitStatus(130, "interrupted")


#: One line per exit code, quoted by ``jenv --help`` and the README.
EXIT_CODE_TABLE = {code: code.text for code in ExitCode}


class JenvError(Exception):
    """Base of every expected failure; ``str(err)`` is the one-line message."""

    exit_code: int = ExitCode.ERROR


class UsageError(JenvError):
    exit_code = ExitCode.USAGE


class NotFoundError(JenvError):
    exit_code = ExitCode.NOT_FOUND


class InvalidInputError(JenvError):
    exit_code = ExitCode.INVALID


class NotValidNowError(JenvError):
    exit_code = ExitCode.NOT_VALID_NOW


class VerifyError(JenvError):
    exit_code = ExitCode.VERIFY_FAILED


class KeyMismatchError(JenvError):
    exit_code = ExitCode.KEY_MISMATCH


class UnsafeFileError(JenvError):
    exit_code = ExitCode.UNSAFE


class NetworkError(JenvError):
    exit_code = ExitCode.NETWORK


class ServerRefusedError(JenvError):
    exit_code = ExitCode.REFUSED


class PassphraseError(JenvError):
    exit_code = ExitCode.PASSPHRASE


class NotCoveredError(JenvError):
    """The token cannot cover the time a command asked for (``--for``), or nothing can renew it (``--renew``)."""

    exit_code = ExitCode.NOT_COVERED


class LockTimeoutError(JenvError):
    """Another process held the token files' lock longer than this run would wait (it is getting a token or
    waiting for a passphrase): no fault of JCentral's, nor of the network."""

    exit_code = ExitCode.LOCKED
