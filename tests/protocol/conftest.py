"""Fixtures for the JCentral protocol tests: a local CA, registered users, the service in a thread."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from jenv.service.authority import Authority, Credential, install_ca_dir
from jenv.jcentral.client import ClientIdentity
from jenv.locations import CAStore, Endpoint, Location
from jenv.service.server import LocalService, load_user_map, run_service

USERS = {
    "jdoe": ("/C=ch/O=jenv test/OU=Users/CN=Jane Doe", ["jdoe", "alicepr"], "jane.doe@example.org"),
    "admin1": ("/C=ch/O=jenv test/OU=Users/CN=Ada Admin", ["admin1", "admin"], None),
    "vobox1": ("/C=ch/O=jenv test/OU=Users/CN=Vic Vobox", ["vobox1", "vobox"], None),
}


@dataclass
class Pki:
    """The service CA, a CA directory for clients, and written user credentials."""

    root: Path
    authority: Authority
    ca_dir: Path
    users_file: Path
    creds: Dict[str, Credential]

    def identity(self, name: str) -> ClientIdentity:
        return identity_at(self.root / "users" / name)

    @property
    def ca_store(self) -> CAStore:
        return CAStore(str(self.ca_dir), "dir", "test")


def identity_at(directory: Path, stem: str = "user") -> ClientIdentity:
    return ClientIdentity(Location("user certificate", "test", path=str(directory / f"{stem}cert.pem")),
                          Location("user key", "test", path=str(directory / f"{stem}key.pem")))


def write_credential(credential: Credential, directory: Path, stem: str = "user") -> ClientIdentity:
    directory.mkdir(parents=True, exist_ok=True)
    credential.write(str(directory / f"{stem}cert.pem"), str(directory / f"{stem}key.pem"))
    return identity_at(directory, stem)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    authority = Authority.create("/C=ch/O=jenv test/CN=jenv test service CA")
    ca_dir = root / "certificates"
    install_ca_dir(str(ca_dir), [authority.cert])
    creds, user_map = {}, {}
    for name, (dn, roles, email) in USERS.items():
        creds[name] = authority.issue_user(dn, days=200, email=email)
        write_credential(creds[name], root / "users" / name)
        user_map[dn] = {"username": name, "roles": roles, "email": email}
    users_file = root / "users.json"
    users_file.write_text(json.dumps(user_map))
    return Pki(root, authority, ca_dir, users_file, creds)


@pytest.fixture(scope="session")
def service_run(pki) -> Iterator[Tuple[LocalService, Endpoint]]:
    service = LocalService(pki.authority, pki.authority.issue_server(), load_user_map(str(pki.users_file)))
    with run_service(service) as (host, port):
        yield service, Endpoint(host, port, "test")


@pytest.fixture
def service(service_run) -> LocalService:
    return service_run[0]


@pytest.fixture
def endpoint(service_run) -> Endpoint:
    return service_run[1]


def pem_text(path: os.PathLike) -> str:
    return Path(path).read_text()


@pytest.fixture(scope="session")
def write_cred():
    """write_credential(credential, directory, stem="user") -> ClientIdentity."""
    return write_credential


@pytest.fixture(scope="session")
def root():
    """The shared test helpers (run_jenv, clean_env, leaked_key_material)."""
    import jenvtest

    return jenvtest