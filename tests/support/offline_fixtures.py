"""Fixtures for the commands on real files (tests/commands/, tests/report/, tests/system/corpus/): real
credential files in tmp_path, an env dict that points at them; imported by tests/conftest.py."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from support.offline_helpers import UID, TOKEN_DN, clean_env, write_pair
from support.pki import Leaf, TestCA, now


@pytest.fixture(scope="session")
def user_rsa(root_ca: TestCA) -> Leaf:
    return root_ca.issue("/C=ch/O=AliEn2/OU=Users/CN=Jane Doe")


@pytest.fixture(scope="session")
def user_ec(root_ca: TestCA) -> Leaf:
    return root_ca.issue("/DC=ch/DC=cern/OU=Users/CN=jdoe/CN=123456", key_kind="ec")


@pytest.fixture(scope="session")
def token_leaf(inter_ca: TestCA) -> Leaf:
    return inter_ca.issue(TOKEN_DN, key_kind="ec", not_after=now() + dt.timedelta(hours=30))


@pytest.fixture(scope="session")
def expired_leaf(root_ca: TestCA, user_rsa: Leaf) -> Leaf:
    return root_ca.issue("/C=ch/O=AliEn2/CN=Expired", key=user_rsa.key,
                         not_before=now() - dt.timedelta(days=30), not_after=now() - dt.timedelta(days=2))


@pytest.fixture(scope="session")
def future_leaf(root_ca: TestCA, user_rsa: Leaf) -> Leaf:
    return root_ca.issue("/C=ch/O=AliEn2/CN=Future", key=user_rsa.key,
                         not_before=now() + dt.timedelta(days=3), not_after=now() + dt.timedelta(days=30))


@pytest.fixture
def setup(tmp_path: Path, root_ca: TestCA, inter_ca: TestCA, user_rsa: Leaf, token_leaf: Leaf):
    """A home with ~/.globus/user{cert,key}.pem, a default token in $TMPDIR and a CA directory."""
    home = tmp_path / "home"
    env = clean_env(home)
    user = write_pair(user_rsa, home / ".globus", "user")
    tmp = Path(env["TMPDIR"])
    token_leaf.write(tmp, "token")
    token = {"cert": tmp / f"tokencert_{UID}.pem", "key": tmp / f"tokenkey_{UID}.pem"}
    os.rename(tmp / "tokencert.pem", token["cert"])
    os.rename(tmp / "tokenkey.pem", token["key"])
    for path in token.values():  # private, as jenv and alien.py write the default token files
        path.chmod(0o400)
    cadir = root_ca.write_dir(tmp_path / "ca", extra=[inter_ca])
    env["X509_CERT_DIR"] = str(cadir)
    return {"home": home, "env": env, "user": user, "token": token, "ca": cadir, "tmp": tmp_path}
