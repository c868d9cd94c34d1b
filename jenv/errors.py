"""Errors and exit codes: the one table that the README and ``jenv --help`` quote.

Every expected failure is a :class:`JenvError` subclass whose message names the
problem and, where there is one, the fix.  ``cli.main`` turns it into one line
on stderr and the error's exit code; nothing else in jenv exits the process.
"""

from __future__ import annotations

import enum

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
    "EXIT_CODE_TABLE",
]


class ExitCode(enum.IntEnum):
    """Process exit statuses of jenv (stable: scripts may test them); each carries its one-line meaning,
    which ``jenv --help`` and the README's table quote (a test ties the README to these texts)."""

    def __new__(cls, value: int, text: str) -> "ExitCode":
        member = int.__new__(cls, value)
        member._value_ = value
        member.text = text  # type: ignore[attr-defined]
        return member

    OK = 0, "success"
    ERROR = 1, "unexpected internal error (JENV_DEBUG=1 shows the traceback)"
    USAGE = 2, "usage error: unknown command, bad option or option value"
    NOT_FOUND = 3, "a certificate, key or CA store is missing or unreadable"
    INVALID = 4, "a file, variable or answer holds something unusable"
    NOT_VALID_NOW = 5, "certificate expired, about to expire, or not yet valid"
    VERIFY_FAILED = 6, "certificate does not verify against the CA certificates"
    KEY_MISMATCH = 7, "private key does not belong to the certificate"
    UNSAFE = 8, "unsafe file refused (permissions, symlink, owner, file type)"
    NETWORK = 9, "JCentral unreachable (refused, timeout, TLS, broken answer)"
    REFUSED = 10, "JCentral refused the request (shows the server's message)"
    PASSPHRASE = 11, "key passphrase needed but no terminal, or wrong passphrase"
    INTERRUPTED = 130, "interrupted"


#: One line per exit code, quoted by ``jenv --help`` and the README.
EXIT_CODE_TABLE = {code: code.text for code in ExitCode}  # type: ignore[attr-defined]


class JenvError(Exception):
    """Base of every expected failure; ``str(err)`` is the one-line message."""

    exit_code: ExitCode = ExitCode.ERROR


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
