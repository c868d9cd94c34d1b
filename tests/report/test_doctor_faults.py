"""``jenv doctor`` by fault injection on 127.0.0.1: each fault alone, in an otherwise healthy setup, must be
the first line of the report, with its fix, and the exit code must say whether a token can be made.

Runs jenv as a process: doctor opens sockets and threads and waits, at worst, for its deadline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from support.doctorkit import answering, doctor, http_date, leaf, server_context, switching
from jenv.errors import ExitCode
from jenv.service.authority import Authority
from support.faultservers import pipe, raw_server
from support.users import SETPRIV, give_credentials, run_as, shared_tmp

pytestmark = pytest.mark.slow


def _env(svc, home, **extra):
    return svc.env(home, **{"JENV_TIMEOUT": "3", **extra})


def _first(report, id_: str, state: str, fix_has: str = ""):
    assert report.first["id"] == id_ and report.first["state"] == state, report
    assert fix_has in report.first["fix"], report
    return report.first


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused and the port stays ours
    return sock


def test_healthy_setup_is_all_ok_and_writes_no_token(svc, home):
    env = _env(svc, home)
    report = doctor(env)
    assert report.code == 0, report
    assert report.ids("fail") == [] and report.ids("warn") == [], report
    assert {"net.dns", "net.tls", "jcentral.accepts", "clock", "ca.store", "user-key.match"} <= set(report.ids("ok"))
    assert os.listdir(env["TMPDIR"]) == []  # never writes a token


def test_valid_token_is_left_byte_identical(svc, home):
    env = _env(svc, home)
    assert subprocess.run([os.sys.executable, "-m", "jenv", "token-init"], env=env, capture_output=True).returncode == 0
    before = {name: (Path(env["TMPDIR"]) / name).read_bytes() for name in os.listdir(env["TMPDIR"])}
    report = doctor(env)
    assert report.code == 0 and "token.files" in report.ids("ok"), report
    assert {name: (Path(env["TMPDIR"]) / name).read_bytes() for name in os.listdir(env["TMPDIR"])} == before


def test_closed_port(svc, home):
    sock = _closed_port()
    with contextlib.closing(sock):
        report = doctor(_env(svc, home, ALIENPY_JCENTRAL_PORT=str(sock.getsockname()[1])))
    assert report.code == ExitCode.NETWORK, report
    first = _first(report, "net.tcp", "fail", "ALIENPY_JCENTRAL_PORT")
    assert "refused" in first["detail"]


def test_listener_that_accepts_and_never_speaks(svc, home):
    with raw_server(lambda conn: time.sleep(30)) as port:
        report = doctor(_env(svc, home, ALIENPY_JCENTRAL_PORT=str(port), JENV_TIMEOUT="2"))
    assert report.code == ExitCode.NETWORK, report
    first = _first(report, "net.tls", "fail", "does not speak TLS")
    assert "no answer within 2s during the TLS handshake" in first["detail"]


def test_stalled_tls_handshake(svc, home):
    """The server reads the ClientHello and starts its answer (a TLS record header), then stalls."""
    def serve_one(conn):
        conn.recv(4096)
        conn.sendall(b"\x16\x03\x03\x00\x7a\x02")
        time.sleep(30)

    with raw_server(serve_one) as port:
        report = doctor(_env(svc, home, ALIENPY_JCENTRAL_PORT=str(port), JENV_TIMEOUT="2"))
    assert report.code == ExitCode.NETWORK, report
    assert "during the TLS handshake" in _first(report, "net.tls", "fail")["detail"]


def test_stalled_upgrade_answer(svc, home, tmp_path):
    context = server_context(svc.world.authority.issue_server(), tmp_path)
    with answering(context, None) as port:
        report = doctor(_env(svc, home, ALIENPY_JCENTRAL_PORT=str(port), JENV_TIMEOUT="2"))
    assert report.code == ExitCode.NETWORK, report
    assert "during the WebSocket upgrade" in _first(report, "net.upgrade", "fail")["detail"]


def test_every_address_hanging_ends_by_the_deadline(svc, home, tmp_path):
    """Both the IPv4 and the IPv6 address stall: the run still ends (by JENV_TIMEOUT plus one second; the
    process limit here only keeps a regression from hanging the suite)."""
    hosts = _hosts_file(tmp_path)
    v4 = socket.socket()
    v4.bind(("127.0.0.1", 0))
    v4.listen(8)  # never accepted: the kernel completes TCP, nobody speaks
    port = v4.getsockname()[1]
    v6 = _v6_listener(port)
    with contextlib.closing(v4), contextlib.closing(v6):
        report = _in_namespace(hosts, _env(svc, home, ALIENPY_JCENTRAL="localhost", ALIENPY_JCENTRAL_PORT=str(port),
                                           JENV_TIMEOUT="2"))
    failures = [f for f in report.findings if f["id"] == "net.tls" and f["state"] == "fail"]
    assert report.code == ExitCode.NETWORK and len(failures) == 2, report


def _hosts_file(tmp_path: Path) -> Path:
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 localhost\n127.0.0.1 localhost\n")
    return hosts


def _v6_listener(port: int = 0) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_INET6)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(("::1", port))
        sock.listen(8)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback on this machine ({exc})")
    return sock


UNSHARE = shutil.which("unshare")


def _in_namespace(hosts: Path, env):
    """doctor in a mount namespace of its own where ``localhost`` resolves to both ::1 and 127.0.0.1 (this
    machine's /etc/hosts maps it to 127.0.0.1 only, and is left alone)."""
    probe = subprocess.run([UNSHARE or "unshare", "-m", "true"], capture_output=True) if UNSHARE else None
    if probe is None or probe.returncode != 0:
        pytest.skip("cannot make a mount namespace (unshare -m) to resolve localhost to ::1 and 127.0.0.1")
    return doctor(env, prefix=[UNSHARE, "-m", "sh", "-c", f'mount --bind "{hosts}" /etc/hosts && exec "$@"', "sh"])


def test_ipv6_only_listener_and_an_ipv4_address_that_refuses(svc, home, tmp_path):
    """localhost has an AAAA and an A record; the service is reachable over IPv6 only (a relay on [::1]), the
    IPv4 address refuses.  jenv falls back to the address that works: a warning, not a failure."""
    hosts = _hosts_file(tmp_path)
    v6 = _v6_listener()
    port = v6.getsockname()[1]
    v4 = socket.socket()
    v4.bind(("127.0.0.1", port))  # bound and not listening: refused
    stop = threading.Event()

    def relay():
        with contextlib.suppress(OSError):
            while not stop.is_set():
                conn, _ = v6.accept()
                upstream = socket.create_connection((svc.host, svc.port))
                for a, b in ((conn, upstream), (upstream, conn)):
                    threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    threading.Thread(target=relay, daemon=True).start()
    try:
        report = _in_namespace(hosts, _env(svc, home, ALIENPY_JCENTRAL="localhost", ALIENPY_JCENTRAL_PORT=str(port)))
    finally:
        stop.set()
        v6.close()
        v4.close()
    assert report.code == 0, report
    first = _first(report, "net.tcp", "warn", "ALIENPY_JCENTRAL")
    assert f"127.0.0.1:{port}" in first["detail"] and "refused" in first["detail"]
    assert "jcentral.accepts" in report.ids("ok") and any("[::1]" in f["detail"] for f in report.findings)


def test_server_certificate_from_a_ca_not_in_the_store(svc, home, tmp_path):
    other = Authority.create("/C=ch/O=elsewhere/CN=Another CA")
    with answering(server_context(leaf(other), tmp_path), switching(http_date())) as port:
        report = doctor(_env(svc, home, ALIENPY_JCENTRAL_PORT=str(port)))
    assert report.code == ExitCode.NETWORK, report
    first = _first(report, "ca.server-issuer", "fail", "jenv ca-fetch")
    assert "CN=Another CA" in first["detail"]


def test_expired_server_certificate(svc, home, tmp_path):
    now = dt.datetime.now(dt.timezone.utc)
    expired = leaf(svc.world.authority, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=2))
    with answering(server_context(expired, tmp_path), switching(http_date())) as port:
        report = doctor(_env(svc, home, ALIENPY_JCENTRAL_PORT=str(port)))
    assert report.code == ExitCode.NETWORK, report
    first = _first(report, "tls.server-cert.expired", "fail", "renew")
    assert f"{expired.cert.not_valid_after_utc:%Y-%m-%d %H:%M}" in first["detail"]


def test_server_certificate_for_another_name(svc, home, tmp_path):
    other = leaf(svc.world.authority, names=("other.example.org",))
    context = server_context(other, tmp_path, client_ca=svc.world.authority)
    with answering(context, switching(http_date())) as port:
        report = doctor(_env(svc, home, ALIENPY_JCENTRAL_PORT=str(port)))
    assert report.code == ExitCode.NETWORK, report
    first = _first(report, "tls.server-name", "fail", "JENV_JCENTRAL_NAME")
    assert "other.example.org" in first["detail"] and "not for 127.0.0.1" in first["detail"]
    # the name is the one fault: the rest of the chain was still walked
    assert "jcentral.accepts" in report.ids("ok") and "clock" in report.ids("ok"), report


def test_certificate_not_registered_in_the_vo(svc, home, tmp_path):
    """The real service answers HTTP 401 on the upgrade for a certificate of its CA it does not know."""
    stranger = svc.world.authority.issue_user("/C=ch/O=jenv test/OU=Users/CN=Sam Stranger", days=100)
    stranger.write(str(tmp_path / "usercert.pem"), str(tmp_path / "userkey.pem"))
    report = doctor(_env(svc, home, X509_USER_CERT=str(tmp_path / "usercert.pem"),
                         X509_USER_KEY=str(tmp_path / "userkey.pem")))
    assert report.code == ExitCode.REFUSED, report
    first = _first(report, "jcentral.accepts", "fail", "ALICE VO")
    assert "CN=Sam Stranger" in first["detail"] and "HTTP 401" in first["detail"]


@pytest.mark.parametrize("offset", [600, -600])
def test_server_clock_ten_minutes_off(svc, home, tmp_path, offset):
    context = server_context(svc.world.authority.issue_server(), tmp_path, client_ca=svc.world.authority)
    with answering(context, switching(http_date(offset))) as port:
        report = doctor(_env(svc, home, ALIENPY_JCENTRAL_PORT=str(port)))
    assert report.code == ExitCode.NOT_VALID_NOW, report
    first = _first(report, "clock", "fail", "set-ntp")
    assert ("ahead of" if offset > 0 else "behind") in first["detail"]


def _crl(authority: Authority, last: dt.datetime, next_: dt.datetime) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    builder = (x509.CertificateRevocationListBuilder().issuer_name(authority.cert.subject)
               .last_update(last).next_update(next_))
    return builder.sign(authority.key, hashes.SHA256()).public_bytes(Encoding.PEM)


@pytest.mark.parametrize("require", [False, True])
def test_crl_past_its_next_update(svc, home, tmp_path, require):
    ca_dir = tmp_path / "certificates"
    shutil.copytree(svc.ca_dir, ca_dir, symlinks=True)
    digest = next(name for name in os.listdir(ca_dir) if name.endswith(".0")).split(".")[0]
    now = dt.datetime.now(dt.timezone.utc)
    (ca_dir / f"{digest}.r0").write_bytes(_crl(svc.world.authority, now - dt.timedelta(days=10),
                                               now - dt.timedelta(days=3)))
    extra = {"JENV_CRL": "require"} if require else {}
    report = doctor(_env(svc, home, X509_CERT_DIR=str(ca_dir), **extra))
    first = _first(report, "ca.crl", "fail" if require else "warn", "fetch-crl")
    assert f"{digest}.r0" in first["detail"] and "past its next update" in first["detail"]
    assert report.code == (ExitCode.VERIFY_FAILED if require else 0), report


def test_fresh_crl_is_fine(svc, home, tmp_path):
    ca_dir = tmp_path / "certificates"
    shutil.copytree(svc.ca_dir, ca_dir, symlinks=True)
    digest = next(name for name in os.listdir(ca_dir) if name.endswith(".0")).split(".")[0]
    now = dt.datetime.now(dt.timezone.utc)
    (ca_dir / f"{digest}.r0").write_bytes(_crl(svc.world.authority, now - dt.timedelta(days=1),
                                               now + dt.timedelta(days=6)))
    report = doctor(_env(svc, home, X509_CERT_DIR=str(ca_dir)))
    assert report.code == 0 and "ca.crl" in report.ids("ok"), report


VICTIM, ATTACKER = 4243, 4242


@pytest.mark.skipif(os.getuid() != 0 or SETPRIV is None, reason="needs root and setpriv to become other users")
def test_token_planted_by_another_user(svc):
    """In a shared sticky directory another user made the victim's token file name first."""
    with shared_tmp("jenv-doctor-") as (base, shared):
        home = base / "victim"
        creds = give_credentials(svc, home / "creds", VICTIM)
        os.lchown(home, VICTIM, VICTIM)
        home.chmod(0o700)
        planted = run_as(ATTACKER, ["sh", "-c", f"echo junk > {shared}/tokencert_{VICTIM}.pem"],
                         {"PATH": "/usr/bin:/bin"})
        assert planted.returncode == 0, planted.stderr
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(shared),
               "LANG": "C.UTF-8", "JENV_TIMEOUT": "3", **creds}
        report = doctor(env, prefix=[SETPRIV, f"--reuid={VICTIM}", f"--regid={VICTIM}", "--clear-groups"])
        assert report.code == ExitCode.UNSAFE, report
        first = _first(report, "token.files", "fail", "TMPDIR")
        assert f"tokencert_{VICTIM}.pem" in first["detail"]
        assert (shared / f"tokencert_{VICTIM}.pem").read_text() == "junk\n"  # left alone


def test_shadowing_alien_token_info_on_path(svc, home, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "alien-token-info"
    script.write_text("#!/bin/sh\necho 'Token valid'\n")
    script.chmod(0o755)
    report = doctor(_env(svc, home, PATH=f"{bindir}:{os.environ['PATH']}"))
    assert report.code == 0, report
    first = _first(report, "env.path.alien-token-info", "warn", str(script))
    assert str(script) in first["detail"]


def test_jenv_shim_on_path_is_fine(svc, home):
    """jenv's own shim is no shadow.  The official client's commands (on PATH where the test environment
    installed alienpy, as in .ci/run's virtual environment) are kept out, or shims would rightly refuse."""
    env = _env(svc, home)
    env["PATH"] = os.pathsep.join(entry for entry in env["PATH"].split(os.pathsep)
                                  if not os.path.exists(os.path.join(entry, "alien-token-info")))
    assert subprocess.run([os.sys.executable, "-m", "jenv", "shims"], env=env, capture_output=True).returncode == 0
    report = doctor(dict(env, PATH=f"{home}/.local/bin:{env['PATH']}"))
    assert report.code == 0 and "env.path.alien-token-info" in report.ids("ok"), report


def test_pythonpath_with_a_fake_cryptography(svc, home, tmp_path):
    fake = tmp_path / "site" / "cryptography"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('this is not cryptography')\n")
    report = doctor(_env(svc, home, PYTHONPATH=str(tmp_path / "site")))
    assert report.code == ExitCode.INVALID, report
    first = _first(report, "env.library.cryptography", "fail", "unset PYTHONPATH")
    assert str(tmp_path / "site") in first["detail"]


def test_ld_preload_is_named(svc, home):
    library = "/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.exists(library):
        pytest.skip(f"{library} is not there to preload")
    report = doctor(_env(svc, home, LD_PRELOAD=library))
    assert report.code == 0, report
    _first(report, "env.ld_preload", "warn", "unset LD_PRELOAD")


def test_encrypted_key_without_a_terminal(svc, home, tmp_path):
    """A new session: no controlling terminal, so no passphrase could ever be asked (and doctor asks none)."""
    cred = svc.world.creds["jdoe"]
    cred.write(str(tmp_path / "usercert.pem"), str(tmp_path / "userkey.pem"), passphrase=b"secret words")
    report = doctor(_env(svc, home, X509_USER_CERT=str(tmp_path / "usercert.pem"),
                         X509_USER_KEY=str(tmp_path / "userkey.pem")), start_new_session=True)
    assert report.code == ExitCode.PASSPHRASE, report
    first = _first(report, "user-key.encrypted", "fail", "jenv token")
    assert "encrypted" in first["detail"] and "no terminal" in first["detail"]
    assert "jcentral.accepts" in report.ids("skip"), report


def test_user_certificate_expiring_in_three_days(svc, home, tmp_path):
    short = svc.world.authority.issue_user(svc.world.creds["jdoe"].cert.subject.rfc4514_string(), days=3)
    from support.service import USERS

    short = svc.world.authority.issue_user(USERS["jdoe"][0], days=3)
    short.write(str(tmp_path / "usercert.pem"), str(tmp_path / "userkey.pem"))
    report = doctor(_env(svc, home, X509_USER_CERT=str(tmp_path / "usercert.pem"),
                         X509_USER_KEY=str(tmp_path / "userkey.pem")))
    assert report.code == 0, report
    first = _first(report, "user-cert.dates", "warn", "cert-import")
    assert "2d" in first["detail"] or "3d" in first["detail"], first


def test_unconverted_pkcs12_is_named_with_its_import(svc, home, tmp_path):
    (home / ".globus").mkdir()
    (home / ".globus" / "myCertificate.p12").write_bytes(b"not read by doctor")
    env = _env(svc, home)
    del env["X509_USER_CERT"], env["X509_USER_KEY"]
    report = doctor(env)
    assert report.code == ExitCode.NOT_FOUND, report
    first = _first(report, "user-cert.read", "fail", f"jenv cert-import {home}/.globus/myCertificate.p12")
    assert "not converted" in first["detail"]


@pytest.mark.parametrize("variable, value", [("JENV_TIMEOUT", "soon"), ("ALIENPY_JCENTRAL_PORT", "http")])
def test_a_bad_setting_is_named_and_the_network_left_alone(svc, home, variable, value):
    report = doctor(_env(svc, home, **{variable: value}))
    assert report.code == ExitCode.INVALID, report
    first = _first(report, "settings", "fail", variable)
    assert value in first["detail"]
    assert "net" in report.ids("skip"), report


def test_a_token_directory_others_can_write_is_named(svc, home, tmp_path):
    shared = tmp_path / "open"
    shared.mkdir()
    shared.chmod(0o777)  # world-writable, no sticky bit
    report = doctor(_env(svc, home, TMPDIR=str(shared)))
    assert report.code == ExitCode.UNSAFE, report
    first = _first(report, "token.files", "fail", "TMPDIR")  # the one reader refuses to read there
    assert str(shared) in first["detail"] and "others" in first["detail"]
