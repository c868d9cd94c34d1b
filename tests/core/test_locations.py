"""Unit tables for the pure resolvers in jenv.locations (no files are touched)."""

from __future__ import annotations

import os

import pytest

from jenv.locations import (CAStore, Endpoint, Location, is_pem_content, lock_directories, resolve_ca_store,
                            resolve_endpoint, resolve_locations, resolve_timeout, token_dir)

HOME = "/home/jdoe"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


@pytest.mark.parametrize("environ,field,expected", [
    ({}, "user_cert", Location("user certificate", "default", path="/home/jdoe/.globus/usercert.pem")),
    ({}, "user_key", Location("user key", "default", path="/home/jdoe/.globus/userkey.pem")),
    ({}, "token_cert", Location("token certificate", "default", path="/tmp/tokencert_1234.pem")),
    ({}, "token_key", Location("token key", "default", path="/tmp/tokenkey_1234.pem")),
    ({"TMPDIR": ""}, "token_cert", Location("token certificate", "default", path="/tmp/tokencert_1234.pem")),
    ({"TMPDIR": "/scratch/me"}, "token_key", Location("token key", "default", path="/scratch/me/tokenkey_1234.pem")),
    ({"X509_USER_CERT": "/certs/c.pem"}, "user_cert",
     Location("user certificate", "from X509_USER_CERT", path="/certs/c.pem", variable="X509_USER_CERT")),
    ({"X509_USER_KEY": "~/k.pem"}, "user_key", Location("user key", "from X509_USER_KEY", path="/home/jdoe/k.pem", variable="X509_USER_KEY")),
    ({"X509_USER_CERT": ""}, "user_cert", Location("user certificate", "default",
                                                   path="/home/jdoe/.globus/usercert.pem")),
    # user credentials are files only: PEM text in X509_USER_CERT is refused, and never repeated
    ({"X509_USER_CERT": PEM}, "user_cert", Location(
        "user certificate", "from X509_USER_CERT", variable="X509_USER_CERT",
        problem=f"X509_USER_CERT holds {len(PEM)} characters that are not a path to a PEM file (not shown: it "
                "may be key material): set it to a path to a PEM file, or unset it")),
    ({"JALIEN_TOKEN_CERT": "/t/c.pem"}, "token_cert",
     Location("token certificate", "from JALIEN_TOKEN_CERT", path="/t/c.pem", variable="JALIEN_TOKEN_CERT")),
    ({"JALIEN_TOKEN_CERT": PEM}, "token_cert", Location("token certificate", "from JALIEN_TOKEN_CERT", pem=PEM, variable="JALIEN_TOKEN_CERT")),
    ({"JALIEN_TOKEN_KEY": "\n  " + PEM}, "token_key", Location("token key", "from JALIEN_TOKEN_KEY",
                                                                pem="\n  " + PEM, variable="JALIEN_TOKEN_KEY")),
    ({"JALIEN_TOKEN_KEY": "BEGIN"}, "token_key", Location("token key", "from JALIEN_TOKEN_KEY", path=os.path.abspath("BEGIN"),
                                                     variable="JALIEN_TOKEN_KEY")),
])
def test_resolve_locations(environ, field, expected):
    assert getattr(resolve_locations(environ, 1234, HOME), field) == expected


def test_location_describe():
    assert Location("token key", "from JALIEN_TOKEN_KEY", pem=PEM, variable="JALIEN_TOKEN_KEY").describe() == \
        "token key (PEM content of JALIEN_TOKEN_KEY)"
    assert Location("user key", "default", path="/k.pem").describe() == "user key /k.pem"


@pytest.mark.parametrize("value,expected", [(PEM, True), ("  \n" + PEM, True), ("/tmp/x.pem", False),
                                            ("", False), ("-----END CERTIFICATE-----", False)])
def test_is_pem_content(value, expected):
    assert is_pem_content(value) is expected


def test_token_dir():
    assert token_dir({}) == "/tmp" and token_dir({"TMPDIR": ""}) == "/tmp"
    assert token_dir({"TMPDIR": "/afs/x"}) == "/afs/x"


@pytest.mark.parametrize("environ,home,expected", [
    ({}, HOME, ("/home/jdoe/.cache/jenv",)),
    ({"XDG_RUNTIME_DIR": "/run/user/1234"}, HOME, ("/run/user/1234", "/home/jdoe/.cache/jenv")),
    ({"XDG_RUNTIME_DIR": "run"}, HOME, ("/home/jdoe/.cache/jenv",)),  # relative: ignored, as XDG says
    # HOME unset and no passwd entry leaves "~": no place relative to wherever jenv runs
    ({}, "~", ()),
    ({"XDG_RUNTIME_DIR": "/run/user/1234"}, "", ("/run/user/1234",)),
])
def test_lock_directories(environ, home, expected):
    assert lock_directories(environ, home) == expected


@pytest.mark.parametrize("environ,existing,expected", [
    ({"X509_CERT_DIR": "/ca", "X509_CERT_FILE": "/b.pem"}, set(), CAStore("/ca", "dir", "from X509_CERT_DIR", True, "X509_CERT_DIR")),
    ({"X509_CERT_DIR": "~/ca"}, set(), CAStore("/home/jdoe/ca", "dir", "from X509_CERT_DIR", True, "X509_CERT_DIR")),
    ({"X509_CERT_FILE": "/b.pem"}, {"/etc/grid-security/certificates"},
     CAStore("/b.pem", "file", "from X509_CERT_FILE", True, "X509_CERT_FILE")),
    ({"X509_CERT_DIR": ""}, {"/home/jdoe/.globus/certificates", "/etc/grid-security/certificates"},
     CAStore("/home/jdoe/.globus/certificates", "dir", "default")),
    ({}, {"/cvmfs/alice.cern.ch/etc/grid-security/certificates", "/etc/grid-security/certificates"},
     CAStore("/cvmfs/alice.cern.ch/etc/grid-security/certificates", "dir", "default")),
    ({}, {"/etc/grid-security/certificates"}, CAStore("/etc/grid-security/certificates", "dir", "default")),
])
def test_resolve_ca_store(environ, existing, expected):
    assert resolve_ca_store(environ, HOME, isdir=existing.__contains__) == expected


def test_resolve_ca_store_nothing_found_is_not_explicit():
    store = resolve_ca_store({}, HOME, isdir=lambda p: False)
    assert (store.path, store.kind, store.explicit) == (None, "none", False)
    assert "/etc/grid-security/certificates" in store.source


@pytest.mark.parametrize("environ,expected", [
    ({}, Endpoint("alice-jcentral.cern.ch", 8097, "default")),
    ({"ALIENPY_JCENTRAL": "127.0.0.1"}, Endpoint("127.0.0.1", 8097, "from ALIENPY_JCENTRAL")),
    ({"ALIENPY_JCENTRAL_PORT": "443"}, Endpoint("alice-jcentral.cern.ch", 443, "from ALIENPY_JCENTRAL_PORT")),
    ({"ALIENPY_JCENTRAL": "h", "ALIENPY_JCENTRAL_PORT": "1"},
     Endpoint("h", 1, "from ALIENPY_JCENTRAL and ALIENPY_JCENTRAL_PORT")),
    ({"ALIENPY_JCENTRAL": "", "ALIENPY_JCENTRAL_PORT": ""}, Endpoint("alice-jcentral.cern.ch", 8097, "default")),
])
def test_resolve_endpoint(environ, expected):
    assert resolve_endpoint(environ) == expected


@pytest.mark.parametrize("environ, tls_name", [
    ({}, "alice-jcentral.cern.ch"),
    ({"ALIENPY_JCENTRAL": "127.0.0.1"}, "127.0.0.1"),
    ({"ALIENPY_JCENTRAL": "127.0.0.1", "JENV_JCENTRAL_NAME": "alice-jcentral.cern.ch"}, "alice-jcentral.cern.ch"),
    ({"JENV_JCENTRAL_NAME": ""}, "alice-jcentral.cern.ch"),
])
def test_the_name_jcentral_s_certificate_must_carry(environ, tls_name):
    """Issue 21.1: the endpoint's host, unless JENV_JCENTRAL_NAME names another; the address is unchanged."""
    endpoint = resolve_endpoint(environ)
    assert endpoint.tls_name == tls_name
    assert endpoint.host == (environ.get("ALIENPY_JCENTRAL") or "alice-jcentral.cern.ch")


def test_endpoint_uri_brackets_ipv6():
    assert Endpoint("::1", 8097, "x").uri == "wss://[::1]:8097/websocket/json"
    assert Endpoint("h.cern.ch", 8097, "x").uri == "wss://h.cern.ch:8097/websocket/json"


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http", "80a", " 80", "1e3"])
def test_resolve_endpoint_bad_port(port):
    with pytest.raises(ValueError, match="ALIENPY_JCENTRAL_PORT"):
        resolve_endpoint({"ALIENPY_JCENTRAL_PORT": port})


@pytest.mark.parametrize("text,expected", [("", (10.0, "default")), ("2.5", (2.5, "from JENV_TIMEOUT")),
                                           ("3600", (3600.0, "from JENV_TIMEOUT"))])
def test_resolve_timeout(text, expected):
    assert resolve_timeout({"JENV_TIMEOUT": text} if text else {}) == expected


@pytest.mark.parametrize("text", ["0", "-1", "3601", "soon", "nan", "inf"])
def test_resolve_timeout_rejects(text):
    with pytest.raises(ValueError, match="JENV_TIMEOUT"):
        resolve_timeout({"JENV_TIMEOUT": text})


def test_relative_paths_are_exported_absolute(tmp_path, monkeypatch):
    """Issue 11.9: TMPDIR=tmp or JALIEN_TOKEN_CERT=cert.pem mean files in today's directory; the exports
    must name them so in every directory the shell goes to later."""
    monkeypatch.chdir(tmp_path)
    locs = resolve_locations({"TMPDIR": "rel", "JALIEN_TOKEN_KEY": "k.pem"}, 1234, HOME)
    assert locs.token_cert.path == str(tmp_path / "rel" / "tokencert_1234.pem")
    assert locs.token_key.path == str(tmp_path / "k.pem")
