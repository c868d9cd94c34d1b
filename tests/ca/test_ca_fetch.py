"""jenv ca-fetch against a local HTTP(S) server, and jenv ca-info on the result.

The served tarball has the alien-cas layout: a top folder, several bundle
folders, the IGTF companion files, hash names stored as symbolic links, the
same CA in two bundles, and two CAs with the same subject (so the same
hash: .0 and .1).  After a fetch both jenv and ``openssl verify -CApath``
verify chains against the result.  Every broken download leaves the previous
store byte-for-byte as it was, with one clear line on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support.ca_server import (GOOD, INTER, ROOT, TWIN_A, TWIN_USER, USER, Route, Tarball, alien_cas, connect_proxy,
                               fetch_env, openssl_hash, openssl_ok, serve)
from support.launcher import run_jenv
from support.snapshot import snapshot

pytestmark = pytest.mark.slow

def jenv_verify(home: Path, store: Path, cert_pem: bytes) -> dict:
    cert = home / "usercert.pem"
    cert.write_bytes(cert_pem)
    result = run_jenv(["cert-verify", "--json"], fetch_env(home, X509_USER_CERT=str(cert), X509_CERT_DIR=str(store)))
    return json.loads(result.stdout)


def test_fetch_over_https_installs_a_flat_store_that_verifies(home: Path, old_store: Path, root_ca, tmp_path) -> None:
    server = root_ca.issue("/C=ch/O=jenv-test/CN=127.0.0.1", sans=["127.0.0.1"])
    cert_file, key_file = server.write(tmp_path / "tls", "server")
    bundle = root_ca.write_bundle(tmp_path / "tls" / "ca.pem")
    with serve({"/alien-cas.tar.gz": Route(GOOD)}, tls=(cert_file, key_file)) as url:
        env = fetch_env(home, JENV_CA_URL=f"{url}/alien-cas.tar.gz", REQUESTS_CA_BUNDLE=str(bundle))
        result = run_jenv(["ca-fetch"], env)
    assert result.returncode == 0, result.stderr
    assert "installed 6 CA certificates (6 hash links)" in result.stderr
    assert "export X509_CERT_DIR" not in result.stderr  # the default directory needs no variable
    assert "\r" not in result.stderr and result.stdout == ""  # no progress bar without a terminal

    names = set(os.listdir(old_store))
    assert "Previous.pem" not in names  # replaced, not merged
    for alias in ("Fetch-Root", "Fetch-Twin-A", "Fetch-Twin-B", "AliEn-Grid-CA", "Fetch-Soon", "Fetch-Old"):
        assert {f"{alias}.pem", f"{alias}.signing_policy", f"{alias}.namespaces", f"{alias}.crl_url"} <= names
    twin = openssl_hash(TWIN_A.pem)
    assert {f"{twin}.0", f"{twin}.1"} <= names and f"{twin}.2" not in names
    assert os.readlink(old_store / f"{openssl_hash(INTER.pem)}.signing_policy") == "AliEn-Grid-CA.signing_policy"
    assert not [n for n in os.listdir(home / ".globus") if n.startswith(".certificates")]  # no leftovers

    for cert in (USER, TWIN_USER, ROOT):
        assert openssl_ok(old_store, cert.pem, tmp_path)
        verdict = jenv_verify(home, old_store, cert.pem)
        assert verdict["verified"] is True, verdict
    assert jenv_verify(home, old_store, USER.pem)["chain"][1:] == ["/C=ch/O=jenv-diff/CN=Fetch Grid CA",
                                                                   "/C=ch/O=jenv-diff/CN=Fetch Root"]


def test_fetch_into_another_dir_prints_the_export_line(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "my cas"
    with serve({"/t.tgz": Route(GOOD)}) as url:
        result = run_jenv(["ca-fetch", "--url", f"{url}/t.tgz", "--json", str(target)], fetch_env(home))
    assert result.returncode == 0, result.stderr
    assert f"export X509_CERT_DIR='{target}'" in result.stderr
    data = json.loads(result.stdout)
    assert data["path"] == str(target) and data["certificates"] == 6 and data["replaced"] is False
    assert openssl_ok(target, USER.pem, tmp_path)


def test_fetch_goes_through_the_proxy_variable(home: Path, tmp_path: Path) -> None:
    """HTTPS_PROXY is honoured: the host does not resolve, only the proxy (a CONNECT tunnel to our
    server, whose certificate names cas.example.invalid) can reach it; TLS still runs end to end."""
    wanted = "https://cas.example.invalid/t.tgz"
    with serve({"/t.tgz": Route(GOOD)}) as url, connect_proxy(int(url.rsplit(":", 1)[1])) as proxy:
        result = run_jenv(["ca-fetch", "--url", wanted, str(tmp_path / "cas")], fetch_env(home, HTTPS_PROXY=proxy))
    assert result.returncode == 0, result.stderr
    assert connect_proxy.seen == ["cas.example.invalid:443"]
    assert openssl_ok(tmp_path / "cas", USER.pem, tmp_path)


def _evil(*edits) -> bytes:
    tarball = alien_cas()
    for edit in edits:
        edit(tarball)
    return tarball.build()


BROKEN = {
    "corrupt": (Route(b"\x1f\x8b\x08\x00" + os.urandom(3000)), 4, "not a valid gzip tarball"),
    "not gzip": (Route(b"<html>rate limited</html>"), 4, "not a valid gzip tarball"),
    "truncated download": (Route(GOOD, mode="truncate"), 9, "connection broke"),
    "http 500": (Route(b"oops", status=500), 9, "HTTP 500"),
    "http 404": (Route(b"gone", status=404), 9, "HTTP 404"),
    "oversized, announced": (Route(b"x", mode="claim-huge"), 4, "MiB limit"),
    "oversized, streamed": (Route(mode="stream-huge"), 4, "MiB limit"),
    "dotdot path": (Route(_evil(lambda t: t.file("alien-cas-master/../../evil.pem", ROOT.pem))), 4, "'..'"),
    "absolute path": (Route(_evil(lambda t: t.file("/tmp/evil.pem", ROOT.pem))), 4, "absolute path"),
    "symlink outside": (Route(_evil(lambda t: t.link("alien-cas-master/alien-ca/abcdef01.0",
                                                      "../../../etc/passwd"))), 4, "outside the archive"),
    "absolute symlink": (Route(_evil(lambda t: t.link("alien-cas-master/alien-ca/Evil.namespaces",
                                                       "/etc/shadow"))), 4, "outside the archive"),
    "hard link outside": (Route(_evil(lambda t: t.link("alien-cas-master/alien-ca/Evil.info", "../x",
                                                        hard=True))), 4, "outside the archive"),
    "fifo member": (Route(_evil(lambda t: t.special("alien-cas-master/alien-ca/Evil.pem"))), 4, "FIFO"),
    "unparsable certificate": (Route(_evil(lambda t: t.file("alien-cas-master/alien-ca/Bad.pem",
                                                             b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                             b"-----END CERTIFICATE-----\n"))), 4, "Bad.pem"),
    "no certificates": (Route(Tarball().build()), 4, "no CA certificate"),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_broken_download_leaves_the_old_store_untouched(case: str, home: Path, old_store: Path,
                                                         tmp_path: Path) -> None:
    route, code, words = BROKEN[case]
    env = fetch_env(home)
    before = snapshot(home)
    with serve({"/t.tgz": route}) as url:
        result = run_jenv(["ca-fetch", "--url", f"{url}/t.tgz"], env)
    assert result.returncode == code, result.stderr
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("jenv: ")
    assert snapshot(home) == before
    assert openssl_ok(old_store, USER.pem, tmp_path) is False  # still the old one-CA store...
    assert openssl_ok(old_store, ROOT.pem, tmp_path) is True  # ...and still usable
    assert not (tmp_path.parent / "evil.pem").exists() and not Path("/tmp/evil.pem").exists()


def test_connection_refused_is_a_network_error(home: Path, old_store: Path) -> None:
    with serve({}) as url:
        dead = url  # the port is closed once the server is gone
    env = fetch_env(home)
    before = snapshot(home)
    result = run_jenv(["ca-fetch", "--url", f"{dead}/t.tgz"], env)
    assert result.returncode == 9 and "downloading" in result.stderr
    assert "Connection refused; nothing was installed (check the URL" in result.stderr  # the cause, not cut off
    assert snapshot(home) == before


def test_untrusted_https_server_names_requests_ca_bundle(home: Path, old_store: Path, root_ca, tmp_path) -> None:
    server = root_ca.issue("/C=ch/O=jenv-test/CN=127.0.0.1", sans=["127.0.0.1"])
    env = fetch_env(home)
    before = snapshot(home)
    with serve({"/t.tgz": Route(GOOD)}, tls=server.write(tmp_path / "tls", "server")) as url:
        result = run_jenv(["ca-fetch", "--url", f"{url}/t.tgz"], env)
    assert result.returncode == 9 and len(result.stderr.splitlines()) == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr and "REQUESTS_CA_BUNDLE" in result.stderr
    assert snapshot(home) == before


def test_target_that_is_a_file_is_refused(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("keep me")
    with serve({"/t.tgz": Route(GOOD)}) as url:
        result = run_jenv(["ca-fetch", "--url", f"{url}/t.tgz", str(target)], fetch_env(home))
    assert result.returncode == 3 and "not a directory" in result.stderr
    assert target.read_text() == "keep me"


def test_bad_url_is_a_usage_error(home: Path) -> None:
    result = run_jenv(["ca-fetch", "--url", "file:///etc/passwd"], fetch_env(home))
    assert result.returncode == 2 and "not an https:// URL" in result.stderr


def test_plain_http_is_refused_before_any_download(home: Path, old_store: Path) -> None:
    """Issue 11.9: what ca-fetch installs decides whom jenv trusts, so it never comes over plain HTTP."""
    env = fetch_env(home)
    before = snapshot(home)
    with serve({"/t.tgz": Route(GOOD)}, plain=True) as url:
        by_option = run_jenv(["ca-fetch", "--url", f"{url}/t.tgz"], env)
        by_variable = run_jenv(["ca-fetch"], dict(env, JENV_CA_URL=f"{url}/t.tgz"))
    assert by_option.returncode == 2 and "only over HTTPS" in by_option.stderr
    assert by_variable.returncode == 4 and "JENV_CA_URL" in by_variable.stderr and "only over HTTPS" in by_variable.stderr
    assert snapshot(home) == before


def test_a_download_that_drips_ends_within_jenv_timeout(home: Path, old_store: Path) -> None:
    """One overall deadline: a server that sends a byte now and then (never idle long enough for a read
    timeout) is cut off after JENV_TIMEOUT seconds, and the old store stays."""
    import time

    env = fetch_env(home, JENV_TIMEOUT="2")
    before = snapshot(home)
    with serve({"/t.tgz": Route(GOOD, mode="drip")}) as url:
        start = time.monotonic()
        result = run_jenv(["ca-fetch", "--url", f"{url}/t.tgz"], env, timeout=60)
        elapsed = time.monotonic() - start
    assert result.returncode == 9 and "JENV_TIMEOUT" in result.stderr, result.stderr
    assert elapsed < 2 + 5
    assert snapshot(home) == before


def test_bad_url_variable_is_named(home: Path) -> None:
    """A bad JENV_CA_URL is a variable holding something unusable (4), and the message says which variable."""
    result = run_jenv(["ca-fetch"], fetch_env(home, JENV_CA_URL="ftp://cas.example.org/t.tgz"))
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("jenv: JENV_CA_URL='ftp://cas.example.org/t.tgz' is not an https:// URL")


def _leftovers(parent: Path) -> list:
    return [n for n in os.listdir(parent) if n.startswith(".certificates.")]


def test_failed_swap_puts_the_old_store_back(home: Path, old_store: Path, monkeypatch) -> None:
    """rename(old aside) succeeds, rename(new in) fails: the old store is renamed back."""
    from jenv.ca.fetch import install_flat_store
    from jenv.ca.tarball import flatten_ca_tarball
    from jenv.errors import NotFoundError

    flat = flatten_ca_tarball(GOOD)
    before = snapshot(home, directory_times=False)  # the staging directory came and went
    real_rename, calls = os.rename, []

    def flaky_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(dst))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", flaky_rename)
    with pytest.raises(NotFoundError, match="No space left on device"):
        install_flat_store(flat, str(old_store))
    monkeypatch.undo()
    assert len(calls) == 3  # aside, (failed) in, back
    assert snapshot(home, directory_times=False) == before and not _leftovers(home / ".globus")


def test_failure_while_writing_removes_the_half_built_store(home: Path, old_store: Path, monkeypatch) -> None:
    import jenv.ca.fetch as cafetch
    import jenv.safefile.write as home_writer  # where every new file is created
    from jenv.ca.tarball import flatten_ca_tarball
    from jenv.errors import NotFoundError

    flat = flatten_ca_tarball(GOOD)
    before = snapshot(home, directory_times=False)  # the staging directory came and went
    written = []
    real_write = home_writer.create_new_file

    def failing_write(path, data, mode, sync=False):
        written.append(path)
        if len(written) > 3:
            raise OSError(122, "Disk quota exceeded", path)
        real_write(path, data, mode, sync)

    monkeypatch.setattr(home_writer, "create_new_file", failing_write)
    with pytest.raises(NotFoundError, match="Disk quota exceeded"):
        cafetch.install_flat_store(flat, str(old_store))
    assert snapshot(home, directory_times=False) == before and not _leftovers(home / ".globus")


def test_progress_bar_only_on_a_terminal(home: Path, tmp_path: Path) -> None:
    import pty
    import sys

    master, slave = pty.openpty()
    with serve({"/t.tgz": Route(GOOD)}) as url:
        proc = subprocess.Popen([sys.executable, "-m", "jenv", "ca-fetch", "--url", f"{url}/t.tgz",
                                 str(tmp_path / "cas")], env=fetch_env(home), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        stdout, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0, seen
    text = seen.decode()
    assert "downloading [" in text and "installed 6 CA certificates" in text
    assert stdout == b""  # the bar never reaches stdout


def test_a_new_store_keeps_the_crls_of_the_old_one(home: Path, old_store: Path) -> None:
    """crl-fetch's <hash>.r0 files survive a ca-fetch (the store is replaced, its CRLs are carried over)."""
    from support.ca_corpus import make_crl

    crl = make_crl(ROOT)
    name = f"{openssl_hash(ROOT.pem)}.r0"
    (old_store / name).write_bytes(crl)
    with serve({"/t.tgz": Route(GOOD)}) as url:
        result = run_jenv(["ca-fetch", "--url", f"{url}/t.tgz"], fetch_env(home))
    assert result.returncode == 0, result.stderr
    assert "Previous.pem" not in os.listdir(old_store)  # the store was replaced ...
    assert (old_store / name).read_bytes() == crl  # ... and its CRL kept
