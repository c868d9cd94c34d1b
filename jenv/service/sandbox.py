"""The files of a local service: a throwaway CA, a user, a server certificate.

Layout of a sandbox directory (all private to the owner)::

    ca/cacert.pem ca/cakey.pem          the CA that signs everything (key 0400)
    certificates/<hash>.0 -> ...pem     X509_CERT_DIR for clients
    server/hostcert.pem server/hostkey.pem
    globus/usercert.pem globus/userkey.pem   the user (key 0400, maybe encrypted)
    users.json                          DN -> user map read by the service
    tmp/                                TMPDIR for commands run inside (token files)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, Optional

from cryptography import x509

from jenv.service.authority import Authority, Credential, install_ca_dir, write_private_file
from jenv.errors import InvalidInputError, NotFoundError
from jenv.locations import ALIENPY_JCENTRAL, ALIENPY_JCENTRAL_PORT, X509_CERT_DIR, X509_USER_CERT, \
    X509_USER_KEY
from jenv.pem import grid_dn, parse_certificate, parse_private_key

__all__ = ["SandboxPaths", "create_sandbox", "load_service_files", "user_dn", "sandbox_environment"]


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

    @classmethod
    def at(cls, root: str) -> "SandboxPaths":
        join = os.path.join
        return cls(root, join(root, "ca", "cacert.pem"), join(root, "ca", "cakey.pem"), join(root, "certificates"),
                   join(root, "server", "hostcert.pem"), join(root, "server", "hostkey.pem"),
                   join(root, "globus", "usercert.pem"), join(root, "globus", "userkey.pem"),
                   join(root, "users.json"), join(root, "tmp"))


def _mkdir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)


def create_sandbox(root: str, username: str = "jdoe", passphrase: Optional[bytes] = None,
                   roles: tuple = ()) -> SandboxPaths:
    """Create a complete sandbox in ``root`` (created 0700; must not hold a sandbox yet).

    The user gets the DN /C=ch/O=jenv sandbox/OU=Users/CN=<username> and, in
    the user map, the roles ``<username>`` plus ``roles``.  Returns the paths.
    """
    paths = SandboxPaths.at(root)
    _mkdir(root)
    if os.path.lexists(paths.ca_cert):
        raise InvalidInputError(f"{root} already holds a sandbox; use it with 'jenv serve --dir {root}'")
    for sub in ("ca", "server", "globus", "tmp"):
        _mkdir(os.path.join(root, sub))
    authority = Authority.create()
    authority.credential.write(paths.ca_cert, paths.ca_key)
    install_ca_dir(paths.ca_dir, [authority.cert])
    authority.issue_server().write(paths.server_cert, paths.server_key)
    dn = f"/C=ch/O=jenv sandbox/OU=Users/CN={username}"
    email = f"{username}@sandbox.invalid"
    authority.issue_user(dn, days=365, email=email).write(paths.user_cert, paths.user_key, passphrase)
    users: Dict[str, dict] = {dn: {"username": username, "roles": [username, *roles], "email": email}}
    write_private_file(paths.users, (json.dumps(users, indent=2) + "\n").encode("utf-8"), 0o600)
    return paths


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise NotFoundError(f"{path}: {exc.strerror}; create a service directory with "
                            "'jenv sandbox --dir <dir>'") from None


def load_service_files(paths: SandboxPaths):
    """(Authority, server Credential) from a sandbox directory; errors name the file."""
    ca_cert = parse_certificate(_read(paths.ca_cert), paths.ca_cert)
    ca_key = parse_private_key(_read(paths.ca_key), paths.ca_key)
    server = Credential(parse_certificate(_read(paths.server_cert), paths.server_cert),
                        parse_private_key(_read(paths.server_key), paths.server_key))
    return Authority(ca_cert, ca_key), server


def user_dn(paths: SandboxPaths) -> str:
    cert: x509.Certificate = parse_certificate(_read(paths.user_cert), paths.user_cert)
    return grid_dn(cert.subject)


def sandbox_environment(paths: SandboxPaths, host: str, port: int) -> Dict[str, str]:
    """The variables a command inside the sandbox gets (credentials, CA dir, endpoint, TMPDIR)."""
    return {X509_USER_CERT: paths.user_cert, X509_USER_KEY: paths.user_key, X509_CERT_DIR: paths.ca_dir,
            ALIENPY_JCENTRAL: host, ALIENPY_JCENTRAL_PORT: str(port), "TMPDIR": paths.tmp}

