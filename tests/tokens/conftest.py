"""Fixtures for the token command tests: the local JCentral service over real TLS on 127.0.0.1."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from pki import alien_like_ca
from tokenkit import clean_env
from jenv.service.authority import Authority, Credential, install_ca_dir
from jenv.service.server import LocalService, load_user_map, run_service

USERS = {
    "jdoe": ("/C=ch/O=jenv test/OU=Users/CN=Jane Doe", ["jdoe", "alicepr"], "jane.doe@example.org"),
    "admin1": ("/C=ch/O=jenv test/OU=Users/CN=Ada Admin", ["admin1", "admin"], None),
    "vobox1": ("/C=ch/O=jenv test/OU=Users/CN=Vic Vobox", ["vobox1", "vobox"], None),
}


@dataclass
class Service:
    """The running local service and what a jenv process needs to reach it."""

    service: LocalService
    host: str
    port: int
    root: Path
    ca_dir: Path

    @property
    def token_requests(self) -> int:
        return self.service.token_requests

    def user_files(self, name: str) -> Tuple[str, str]:
        directory = self.root / "users" / name
        return str(directory / "usercert.pem"), str(directory / "userkey.pem")

    def env(self, home: Path, user: str = "jdoe", **extra: str) -> Dict[str, str]:
        """A clean environment for ``user``: TMPDIR inside ``home``, the service as JCentral."""
        cert, key = self.user_files(user)
        env = clean_env(home, X509_USER_CERT=cert, X509_USER_KEY=key, X509_CERT_DIR=str(self.ca_dir),
                        ALIENPY_JCENTRAL=self.host, ALIENPY_JCENTRAL_PORT=str(self.port))
        env.update(extra)
        return env


CA_DN = "/C=ch/O=jenv test/CN=jenv token test CA"


@pytest.fixture(scope="session", params=["test-ca", "serial-0-ca"])
def svc(request, tmp_path_factory) -> Iterator[Service]:
    """The service, once with the suite's test CA and once with its twin shaped like AliEn2-CA
    (serial number 0, pathlen 0, authority key identifier with issuer and serial), so every
    token test also runs against a CA like the one that signs real tokens."""
    root = tmp_path_factory.mktemp("tokens-pki")
    if request.param == "serial-0-ca":
        authority = Authority(*alien_like_ca(CA_DN, root / "ca"))
    else:
        authority = Authority.create(CA_DN)
    ca_dir = root / "certificates"
    install_ca_dir(str(ca_dir), [authority.cert])
    user_map = {}
    for name, (dn, roles, email) in USERS.items():
        directory = root / "users" / name
        directory.mkdir(parents=True)
        credential: Credential = authority.issue_user(dn, days=200, email=email)
        credential.write(str(directory / "usercert.pem"), str(directory / "userkey.pem"))
        user_map[dn] = {"username": name, "roles": roles, "email": email}
    users_file = root / "users.json"
    users_file.write_text(json.dumps(user_map))
    service = LocalService(authority, authority.issue_server(), load_user_map(str(users_file)))
    with run_service(service) as (host, port):
        yield Service(service, host, port, root, ca_dir)
