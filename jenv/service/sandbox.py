"""The files of a local service: a throwaway CA, its accounts, a server certificate.

Layout of a service directory (``jenv serve --dir``, ``jenv sandbox --dir``)::

    ca/cacert.pem ca/cakey.pem          the CA that signs the tokens (PEM; the key unencrypted)
    server/hostcert.pem server/hostkey.pem   the service's TLS certificate, signed by that CA, and key
    users.json                          the accounts: DN -> username, roles, e-mail, admin, jobagent
    certificates/<hash>.0 -> ...pem     X509_CERT_DIR for clients (made by jenv; serve does not read it)
    globus/usercert.pem globus/userkey.pem   the sandbox user (key 0400, maybe encrypted)
    admin/usercert.pem admin/userkey.pem     the sandbox admin account
    tmp/ admin/tmp/                     TMPDIR for commands run inside (token files), user and admin

``jenv serve`` reads only the first three; a directory assembled by hand
from an existing CA needs nothing else.  ``users.json`` (see
:mod:`jenv.service.server`)::

    {"/C=ch/O=jenv sandbox/OU=Users/CN=jdoe":
        {"username": "jdoe", "roles": ["jdoe", "alicepr", "vobox"], "email": "jdoe@sandbox.invalid"},
     "/C=ch/O=jenv sandbox/OU=Users/CN=jadmin": {"username": "jadmin", "roles": ["jadmin", "admin"]}}
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from typing import Dict, Optional

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from jenv.service.authority import Authority, Credential, install_ca_dir, write_private_file
from jenv.errors import InvalidInputError, KeyMismatchError, NotFoundError, UnsafeFileError, VerifyError
from jenv.locations import ALIENPY_JCENTRAL, ALIENPY_JCENTRAL_PORT, X509_CERT_DIR, X509_USER_CERT, \
    X509_USER_KEY
from jenv.pem import grid_dn, key_matches, parse_certificate, parse_private_key
from jenv.safefile import MAX_PEM_SIZE, make_directory, read_small_file

__all__ = ["SandboxPaths", "SANDBOX_ROLES", "SANDBOX_ADMIN", "create_sandbox", "load_service_files", "user_dn",
           "sandbox_environment"]

#: The roles of the sandbox user besides its own name: enough for every example of the README
#: (``jenv user alicepr``; a JobAgent token needs ``vobox``).
SANDBOX_ROLES = ("alicepr", "vobox")
#: The sandbox's admin account (job and host tokens need an admin or a JobAgent).
SANDBOX_ADMIN = "jadmin"


@dataclass(frozen=True)
class SandboxPaths:
    """Where each file of a sandbox directory lives (see the module docstring)."""

    root: str
    ca_cert: str
    ca_key: str
    ca_dir: str
    server_cert: str
    server_key: str
    user_cert: str
    user_key: str
    users: str
    tmp: str
    admin_cert: str
    admin_key: str

    @classmethod
    def at(cls, root: str) -> "SandboxPaths":
        join = os.path.join
        return cls(root, join(root, "ca", "cacert.pem"), join(root, "ca", "cakey.pem"), join(root, "certificates"),
                   join(root, "server", "hostcert.pem"), join(root, "server", "hostkey.pem"),
                   join(root, "globus", "usercert.pem"), join(root, "globus", "userkey.pem"),
                   join(root, "users.json"), join(root, "tmp"),
                   join(root, "admin", "usercert.pem"), join(root, "admin", "userkey.pem"))


def _mkdir(path: str) -> None:
    """A private directory, or the user's own directory already there; never one reached through a link."""
    try:
        make_directory(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise UnsafeFileError(f"{path} is not a directory of your own (a symbolic link, a file, or another "
                              "user's): give another directory for the sandbox")


def _dn(username: str) -> str:
    return f"/C=ch/O=jenv sandbox/OU=Users/CN={username}"


def create_sandbox(root: str, username: str = "jdoe", passphrase: Optional[bytes] = None,
                   roles: tuple = SANDBOX_ROLES) -> SandboxPaths:
    """Create a complete sandbox in ``root`` (created 0700; must not hold a sandbox yet).

    The user gets the DN /C=ch/O=jenv sandbox/OU=Users/CN=<username> and the
    roles ``<username>`` plus ``roles``; the admin account ``jadmin`` the
    roles ``jadmin`` and ``admin``.  Both keys get ``passphrase``.  Returns the paths.
    """
    if username == SANDBOX_ADMIN:
        raise InvalidInputError(f"{SANDBOX_ADMIN} is the sandbox's admin account: choose another user name")
    paths = SandboxPaths.at(root)
    _mkdir(root)
    if os.path.lexists(paths.ca_cert):
        raise InvalidInputError(f"{root} already holds a sandbox; use it with 'jenv serve --dir {root}'")
    for sub in ("ca", "server", "globus", "admin", "tmp", os.path.join("admin", "tmp")):
        _mkdir(os.path.join(root, sub))
    authority = Authority.create()
    authority.credential.write(paths.ca_cert, paths.ca_key)
    install_ca_dir(paths.ca_dir, [authority.cert])
    authority.issue_server().write(paths.server_cert, paths.server_key)
    email = f"{username}@sandbox.invalid"
    authority.issue_user(_dn(username), days=365, email=email).write(paths.user_cert, paths.user_key, passphrase)
    authority.issue_user(_dn(SANDBOX_ADMIN), days=365).write(paths.admin_cert, paths.admin_key, passphrase)
    users: Dict[str, dict] = {
        _dn(username): {"username": username, "roles": [username, *roles], "email": email},
        _dn(SANDBOX_ADMIN): {"username": SANDBOX_ADMIN, "roles": [SANDBOX_ADMIN, "admin"]},
    }
    write_private_file(paths.users, (json.dumps(users, indent=2) + "\n").encode("utf-8"), 0o600)
    return paths


def _read(path: str) -> bytes:
    try:
        return read_small_file(path, MAX_PEM_SIZE)[0]
    except OSError as exc:
        raise NotFoundError(f"{path}: {exc.strerror}; create a service directory with "
                            "'jenv sandbox --dir <dir>'") from None


def load_service_files(paths: SandboxPaths):
    """(Authority, server Credential) from a service directory; errors name the file and the fix."""
    ca_cert = parse_certificate(_read(paths.ca_cert), paths.ca_cert)
    ca_key = parse_private_key(_read(paths.ca_key), paths.ca_key)
    if not key_matches(ca_cert, ca_key):
        raise KeyMismatchError(f"{paths.ca_key} is not the key of {paths.ca_cert}")
    server = Credential(parse_certificate(_read(paths.server_cert), paths.server_cert),
                        parse_private_key(_read(paths.server_key), paths.server_key))
    if not key_matches(server.cert, server.key):
        raise KeyMismatchError(f"{paths.server_key} is not the key of {paths.server_cert}")
    try:
        server.cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise VerifyError(f"{paths.server_cert} is not signed by {paths.ca_cert}: clients could not trust the "
                          "service; issue the server certificate from that CA") from None
    return Authority(ca_cert, ca_key), server


def user_dn(paths: SandboxPaths, admin: bool = False) -> str:
    """The DN of the sandbox user's certificate (or of the admin account's)."""
    path = paths.admin_cert if admin else paths.user_cert
    cert: x509.Certificate = parse_certificate(_read(path), path)
    return grid_dn(cert.subject)


def sandbox_environment(paths: SandboxPaths, host: str, port: int, admin: bool = False) -> Dict[str, str]:
    """The variables a command inside the sandbox gets (credentials of the user, or of the admin
    account, CA dir, endpoint, TMPDIR)."""
    cert, key = (paths.admin_cert, paths.admin_key) if admin else (paths.user_cert, paths.user_key)
    tmp = os.path.join(os.path.dirname(paths.admin_cert), "tmp") if admin else paths.tmp
    return {X509_USER_CERT: cert, X509_USER_KEY: key, X509_CERT_DIR: paths.ca_dir,
            ALIENPY_JCENTRAL: host, ALIENPY_JCENTRAL_PORT: str(port), "TMPDIR": tmp}
