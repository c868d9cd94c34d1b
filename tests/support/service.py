"""The one running-service fixture: a CA, registered users with credentials, the local service.

``build_world`` writes the PKI (users under ``root/users/<name>/user{cert,key}.pem``, the CA
directory, ``users.json``); ``running(world)`` puts the service on 127.0.0.1 and yields a
:class:`Service` that can hand a jenv process the environment to reach it.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Tuple

from jenv.jcentral.client import ClientIdentity
from jenv.locations import CAStore, Endpoint, Location
from jenv.service.authority import Authority, Credential, install_ca_dir
from jenv.service.server import LocalService, load_user_map, run_service
from support.launcher import clean_env
from support.pki import alien_like_ca

__all__ = ["USERS", "World", "Service", "build_world", "running", "identity_at", "write_credential",
           "encrypted_user_key"]

#: name -> (DN, roles, e-mail): a user with two roles, an admin, a vobox identity.
USERS = {
    "jdoe": ("/C=ch/O=jenv test/OU=Users/CN=Jane Doe", ["jdoe", "alicepr"], "jane.doe@example.org"),
    "admin1": ("/C=ch/O=jenv test/OU=Users/CN=Ada Admin", ["admin1", "admin"], None),
    "vobox1": ("/C=ch/O=jenv test/OU=Users/CN=Vic Vobox", ["vobox1", "vobox"], None),
}


def identity_at(directory: Path, stem: str = "user") -> ClientIdentity:
    return ClientIdentity(Location("user certificate", "test", path=str(directory / f"{stem}cert.pem")),
                          Location("user key", "test", path=str(directory / f"{stem}key.pem")))


def write_credential(credential: Credential, directory: Path, stem: str = "user") -> ClientIdentity:
    directory.mkdir(parents=True, exist_ok=True)
    credential.write(str(directory / f"{stem}cert.pem"), str(directory / f"{stem}key.pem"))
    return identity_at(directory, stem)


def encrypted_user_key(plain_key: str, target: Path, passphrase: bytes, mode: int = 0o600) -> Path:
    """The user key at ``plain_key`` encrypted with ``passphrase`` (PKCS#8), written to ``target`` with
    ``mode``."""
    from cryptography.hazmat.primitives import serialization

    loaded = serialization.load_pem_private_key(Path(plain_key).read_bytes(), None)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(loaded.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.BestAvailableEncryption(passphrase)))
    return target


@dataclass
class World:
    """The service CA, a CA directory for clients, and the written user credentials."""

    root: Path
    authority: Authority
    ca_dir: Path
    users_file: Path
    creds: Dict[str, Credential]

    def identity(self, name: str) -> ClientIdentity:
        return identity_at(self.root / "users" / name)

    def user_files(self, name: str) -> Tuple[str, str]:
        directory = self.root / "users" / name
        return str(directory / "usercert.pem"), str(directory / "userkey.pem")

    @property
    def ca_store(self) -> CAStore:
        return CAStore(str(self.ca_dir), "dir", "test")


def build_world(root: Path, ca_dn: str, serial_zero: bool = False) -> World:
    """Write the PKI under ``root``; ``serial_zero`` makes the CA a twin of AliEn2-CA (serial 0, pathlen 0,
    authority key identifier with issuer and serial)."""
    authority = Authority(*alien_like_ca(ca_dn, root / "ca")) if serial_zero else Authority.create(ca_dn)
    ca_dir = root / "certificates"
    install_ca_dir(str(ca_dir), [authority.cert])
    creds, user_map = {}, {}
    for name, (dn, roles, email) in USERS.items():
        creds[name] = authority.issue_user(dn, days=200, email=email)
        write_credential(creds[name], root / "users" / name)
        user_map[dn] = {"username": name, "roles": roles, "email": email}
    users_file = root / "users.json"
    users_file.write_text(json.dumps(user_map))
    return World(root, authority, ca_dir, users_file, creds)


@dataclass
class Service:
    """The running local service and what a jenv process needs to reach it."""

    service: LocalService
    world: World
    host: str
    port: int

    @property
    def root(self) -> Path:
        return self.world.root

    @property
    def ca_dir(self) -> Path:
        return self.world.ca_dir

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.host, self.port, "test")

    @property
    def token_requests(self) -> int:
        return self.service.token_requests

    def user_files(self, name: str) -> Tuple[str, str]:
        return self.world.user_files(name)

    def env(self, home: Path, user: str = "jdoe", **extra: str) -> Dict[str, str]:
        """A clean environment for ``user``: TMPDIR inside ``home``, the service as JCentral."""
        cert, key = self.user_files(user)
        env = clean_env(home, X509_USER_CERT=cert, X509_USER_KEY=key, X509_CERT_DIR=str(self.ca_dir),
                        ALIENPY_JCENTRAL=self.host, ALIENPY_JCENTRAL_PORT=str(self.port))
        env.update(extra)
        return env


@contextlib.contextmanager
def running(world: World) -> Iterator[Service]:
    """The service for ``world`` on 127.0.0.1, a random port, in a thread; stopped on exit."""
    service = LocalService(world.authority, world.authority.issue_server(), load_user_map(str(world.users_file)))
    with run_service(service) as (host, port):
        yield Service(service, world, host, port)
