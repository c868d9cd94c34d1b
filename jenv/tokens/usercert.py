"""Installing the user certificate and key from the CA's PKCS#12 file (the workflow of ``jenv cert-import``).

What the tutorials do with three ``openssl pkcs12`` runs, ``mkdir`` and ``chmod``, in one step that
cannot half-succeed: the bundle is opened by ``cryptography`` (legacy RC2/3DES and current AES
encryption alike), the key is checked to belong to the certificate, and only then are the two files
written, each created with its final mode (certificate 0644, key 0400) next to its place and renamed
over it.  Existing files are never replaced without ``force``, which first keeps the old pair as
``<name>.<date>`` copies.  Passwords are asked on the terminal (/dev/tty), never echoed.

(The token store's pair writer, :func:`jenv.tokens.store.write_token_pair`, does not fit: it writes 0400
files under the store's lock and keeps no dated copies.)
"""

from __future__ import annotations

import os
import stat
from typing import Callable, List, NamedTuple, Optional, Tuple

from jenv.credentials import PASSPHRASE_TRIES, asking_again, read_raw_credential, tty_secret
from jenv.errors import KeyMismatchError, NotFoundError, PassphraseError, UnsafeFileError, UsageError
from jenv.locations import Location
from jenv.safefile import keep_secrets_out_of_core_dumps

__all__ = ["import_pkcs12", "Imported", "install_pair", "check_targets", "backup_name", "CERT_MODE", "KEY_MODE"]

CERT_MODE = 0o644
KEY_MODE = 0o400


class Imported(NamedTuple):
    """What cert-import wrote: the two paths, the copies of the old pair, and whether the key is encrypted."""

    cert_path: str
    key_path: str
    backups: Tuple[str, ...]
    encrypted: bool


def backup_name(path: str, day: str) -> str:
    """``<path>.<day>``, or ``<path>.<day>.N`` with the first N not yet taken."""
    candidate, number = f"{path}.{day}", 1
    while os.path.lexists(candidate):
        number += 1
        candidate = f"{path}.{day}.{number}"
    return candidate


def _existing(path: str) -> Optional[os.stat_result]:
    """The lstat of a target that exists; UnsafeFileError when it is not a regular file (never followed)."""
    from jenv.safefile import lstat_if_there

    st = lstat_if_there(path, "the target")
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise UnsafeFileError(f"{path} is {kind}; cert-import replaces only regular files: move it away, "
                              "or give --dir another directory")
    return st


def check_targets(directory: str, force: bool) -> List[Tuple[str, Optional[os.stat_result]]]:
    """The two target paths and what is there now; refused (before any password is asked) when they exist
    and ``force`` is not given, or when ``directory`` is not a directory."""
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise UnsafeFileError(f"{directory} is not a directory: give --dir a directory")
    if os.path.lexists(directory):
        _check_private(directory)
    targets = [(os.path.join(directory, name), None) for name in ("usercert.pem", "userkey.pem")]
    targets = [(path, _existing(path)) for path, _ in targets]
    present = [path for path, st in targets if st is not None]
    if present and not force:
        raise UsageError(f"{' and '.join(present)} already exist{'s' if len(present) == 1 else ''}: give --force "
                         "to replace them (the old files are kept as <name>.<date> copies), or --dir <directory>")
    return targets


def _check_private(directory: str) -> None:
    """Refuse a directory others can write, sticky or not: the user's lasting credential is nobody's to
    replace, and nobody's to plant files beside."""
    from jenv.safefile import check_directory

    check_directory(directory, "user certificate and key", os.getuid(), private=True,
                    fix="give --dir a directory of your own (mkdir -m 700 <dir>)")


def install_pair(directory: str, cert_pem: bytes, key_pem: bytes, day: str, encrypted: bool) -> Imported:
    """Write usercert.pem (0644) and userkey.pem (0400) into ``directory`` (made 0700 when missing).

    Each file is written and fsync-ed under a temporary name, created with its final mode, then renamed
    over its place, with SIGINT/SIGTERM/SIGHUP held so both renames happen; an old file there is first
    copied to ``<name>.<day>`` (same mode).  On failure nothing is left half-written and OSError names
    the path.
    """
    from jenv.safefile import make_directory, replace_pair

    make_directory(directory, 0o700)
    _check_private(directory)
    cert_path, key_path = os.path.join(directory, "usercert.pem"), os.path.join(directory, "userkey.pem")
    copies = [backup_name(path, day) if _existing(path) is not None else None for path in (key_path, cert_path)]
    # the certificate is public (0644, umask 022); the key's 0400 is set at its creation
    backups = replace_pair((key_path, key_pem, KEY_MODE), (cert_path, cert_pem, CERT_MODE), 0o022, copies)
    return Imported(cert_path, key_path, tuple(backups), encrypted)


def _new_passphrase(key_path: str) -> bytes:
    no_terminal = ("the new passphrase for the user key cannot be asked: there is no terminal (run cert-import "
                   "from a terminal); nothing was written")
    first = tty_secret(f"New passphrase for {key_path}: ", no_terminal)
    if not first:
        raise PassphraseError("empty passphrase: the user key would be unprotected; type one, or give "
                              "--no-passphrase if you really want that; nothing was written")
    before = ""
    for _try in range(PASSPHRASE_TRIES):  # a typo in the confirmation asks for the confirmation only
        if tty_secret(f"{before}The same passphrase again: ", no_terminal) == first:
            return first
        before = "That is not the same passphrase, try again.\n"
    raise PassphraseError(f"the two passphrases differ ({PASSPHRASE_TRIES} tries): nothing was written; "
                          "run cert-import again")


def import_pkcs12(path: str, directory: str, force: bool, encrypt: bool, day: str,
                  warn: Callable[[str], None]) -> Tuple[Imported, object]:
    """Install the PKCS#12 file ``path`` as usercert.pem and userkey.pem in ``directory``: what was written,
    and the certificate's :class:`jenv.pem.CertInfo`.

    Everything is checked before the first prompt (the file, the targets: refused when they exist without
    ``force``), the PKCS#12 password is asked (again after a wrong one), the key must belong to the
    certificate, then (``encrypt``) a new passphrase is asked twice; ``warn`` gets the line that says the
    key is written unencrypted.  ``day`` names the copies of an old pair.  Nothing is written unless all
    of that succeeded."""
    from jenv.pem import cert_info, certificate_pem, check_pkcs12, key_matches, load_pkcs12, private_key_pem

    source = Location("PKCS#12 file", "command line", path=os.path.abspath(path))
    keep_secrets_out_of_core_dumps()
    data = read_raw_credential(source)
    what = f"PKCS#12 file {source.path}"
    check_pkcs12(data, what)
    targets = check_targets(directory, force)  # all before the first prompt
    no_terminal = f"the password of {what} cannot be asked: there is no terminal (run cert-import from a terminal)"
    (key, cert), _password = asking_again(
        lambda before: tty_secret(f"{before}PKCS#12 password for {source.path}: ", no_terminal),
        lambda secret: load_pkcs12(data, what, secret()), "Wrong password, try again.")
    if not key_matches(cert, key):
        raise KeyMismatchError(f"the key in {what} does not belong to its certificate: export the bundle again; "
                               "nothing was written")
    info = cert_info(cert)  # everything the report shows is read before anything is written
    key_path = targets[1][0]
    passphrase = _new_passphrase(key_path) if encrypt else None
    if passphrase is None:
        warn(f"jenv: warning: {key_path} is written without a passphrase: anyone who gets a copy of it can "
             "use your grid identity")
    try:
        done = install_pair(directory, certificate_pem(cert), private_key_pem(key, passphrase), day,
                            passphrase is not None)
    except OSError as exc:
        raise NotFoundError(f"cannot write into {directory}: {exc.strerror or exc}; nothing was replaced") from None
    return done, info
