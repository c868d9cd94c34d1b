"""``jenv doctor``: walk the chain from the user's files to a token and say which link broke.

The checks follow the order a token is made: the environment jenv runs in, the user certificate and
key, the CA store, the token files and their directory, then the network (name resolution, TCP and
TLS to every address, the server's chain and name, the clock, whether JCentral accepts the user
certificate).  Nothing stops the walk: every check runs and gives :class:`Finding` objects.

As in :mod:`jenv.report.status`, the ``gather_*``/``probe_*`` functions do the I/O (never prompting,
never writing a token, the network bounded by one deadline) and the ``*_findings`` functions are the
pure decisions.  This module imports no third-party library at load time: a ``PYTHONPATH`` that
shadows ``cryptography`` is itself one of the findings.
"""

from __future__ import annotations

import datetime as dt
import glob
import importlib.util
import os
import socket
import stat
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from jenv.errors import ExitCode, JenvError
from jenv.locations import token_dir
from jenv.safefile import MAX_PEM_SIZE, read_regular_file, read_small_file

__all__ = ["Finding", "STATES", "ordered", "exit_code", "render", "LIBRARIES", "Environment", "environment_findings",
           "gather_environment", "local_findings", "CRLInfo", "crl_findings", "gather_crls", "DirectoryFacts",
           "gather_directory", "directory_findings", "network_findings", "probe_endpoint", "AddressResult",
           "EndpointResult", "diagnose", "CLOCK_WARN_SECONDS", "CLOCK_FAIL_SECONDS", "JENV_JCENTRAL_NAME"]

#: The states of a finding, most important first (the report is sorted by them, then by the chain's order).
STATES = ("fail", "warn", "ok", "skip")

#: The libraries jenv imports; one found on PYTHONPATH or in the user's site directory shadows jenv's own.
LIBRARIES = ("cryptography", "OpenSSL", "websockets", "docopt", "shellingham", "requests")

#: A server clock this far from ours (seconds) is worth a warning; beyond the second, a fresh token looks
#: "not yet valid" or too short here.
CLOCK_WARN_SECONDS = 30
CLOCK_FAIL_SECONDS = 120

#: The name the server certificate must carry when it differs from the endpoint's host.
JENV_JCENTRAL_NAME = "JENV_JCENTRAL_NAME"


@dataclass(frozen=True)
class Finding:
    """One line of the report: ``id`` (stable, dotted), ``state`` (one of :data:`STATES`), ``detail``
    (the cause, one line), ``fix`` (the exact command or variable; empty when there is nothing to do),
    and for a failure the exit code ``jenv token`` would end with."""

    id: str
    state: str
    detail: str
    fix: str = ""
    code: int = ExitCode.OK

    def line(self) -> str:
        fix = f" -- fix: {self.fix}" if self.fix and self.state in ("fail", "warn") else ""
        return f"{self.state.upper():<4} {self.detail}{fix} [{self.id}]"

    def as_dict(self) -> dict:
        return {"id": self.id, "state": self.state, "detail": self.detail, "fix": self.fix}


def _fail(id_: str, detail: str, fix: str, code: int) -> Finding:
    return Finding(id_, "fail", detail, fix, code)


def ordered(findings: Iterable[Finding]) -> List[Finding]:
    """Failures first, then warnings, then the rest; the chain's order inside each state."""
    return sorted(findings, key=lambda f: STATES.index(f.state))


def exit_code(findings: Sequence[Finding]) -> int:
    """0 when a token can be made (or a valid one is in place): nothing failed; else the first failure's code."""
    for finding in ordered(findings):
        if finding.state == "fail":
            return int(finding.code) or int(ExitCode.ERROR)
    return int(ExitCode.OK)


def render(findings: Sequence[Finding], as_json: bool) -> str:
    if as_json:
        import json

        from jenv.lite.schema import document

        return json.dumps(document("doctor", {"findings": [f.as_dict() for f in ordered(findings)]}), indent=2)
    return "\n".join(f.line() for f in ordered(findings))


# ---------------------------------------------------------------------------------------------------
# The environment: libraries that shadow jenv's, alien-token-info / alien.py on PATH, LD_PRELOAD


@dataclass(frozen=True)
class Environment:
    origins: Mapping[str, Optional[str]]  # library -> the file Python would import (None: not found)
    python_path: Tuple[str, ...]  # the PYTHONPATH entries, absolute, except the one jenv itself comes from
    user_site: Optional[str]  # the user's site directory, when Python reads it
    tools: Mapping[str, Tuple[Tuple[str, str], ...]]  # tool -> ((path, kind), ...) in PATH order
    ld_preload: str


def _kind_of_tool(path: str) -> str:
    """"jenv" (jenv's shim or bin/jenv), "alienpy" (the official client's), or "other"."""
    try:
        head = read_small_file(path, 4096, whole=False)[0]
    except OSError:
        return "other"
    if b"jenv" in head:
        return "jenv"
    if b"alienpy" in head:
        return "alienpy"
    return "other"


def _on_path(name: str, environ: Mapping[str, str]) -> Tuple[Tuple[str, str], ...]:
    found = []
    for entry in environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(entry or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK) and path not in (p for p, _ in found):
            found.append((path, _kind_of_tool(path)))
    return tuple(found)


def gather_environment(environ: Mapping[str, str]) -> Environment:
    """Where each library would be imported from (``find_spec``: nothing is executed), the tools on PATH."""
    import site
    import sys

    origins: Dict[str, Optional[str]] = {}
    for name in LIBRARIES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origins[name] = getattr(spec, "origin", None) if spec is not None else None
    import jenv

    own = _top_level(jenv.__file__)  # installed with 'pip install --target' there: its libraries are jenv's own
    python_path = tuple(entry for entry in (os.path.abspath(p) for p in environ.get("PYTHONPATH", "").split(os.pathsep)
                                            if p) if entry != own)
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE and not sys.flags.no_user_site else None
    tools = {name: _on_path(name, environ) for name in ("alien-token-info", "alien.py")}
    return Environment(origins, python_path, user_site, tools, environ.get("LD_PRELOAD", ""))


def _top_level(origin: str) -> str:
    """The directory a library is imported from: the parent of its package (or of its module file)."""
    parent = os.path.dirname(os.path.abspath(origin))
    return os.path.dirname(parent) if os.path.basename(origin).startswith("__init__.") else parent


def environment_findings(env: Environment) -> List[Finding]:
    findings = []
    for name, origin in env.origins.items():
        if origin is None:
            findings.append(_fail(f"env.library.{name}", f"the Python library {name} that jenv needs is not "
                                  "installed", "pip install --force-reinstall jenv", ExitCode.ERROR))
            continue
        shadow = next((entry for entry in env.python_path if _top_level(origin) == entry), None)
        if shadow is not None:
            findings.append(_fail(f"env.library.{name}", f"PYTHONPATH entry {shadow} holds a {name} "
                                  f"({origin}) that shadows the one jenv was installed with",
                                  "unset PYTHONPATH for jenv (env -u PYTHONPATH jenv ...)", ExitCode.INVALID))
        elif env.user_site and _top_level(origin) == os.path.abspath(env.user_site):
            findings.append(Finding(f"env.library.{name}", "warn", f"{name} comes from the user site directory "
                                    f"{env.user_site}, not from jenv's installation",
                                    f"PYTHONNOUSERSITE=1, or pip uninstall --user {name}"))
    if not any(f.id.startswith("env.library.") for f in findings):
        findings.append(Finding("env.libraries", "ok", "jenv's libraries come from its own installation"))
    for tool, found in env.tools.items():
        if not found:
            continue
        first, kind = found[0]
        others = ", ".join(path for path, _ in found[1:])
        also = f" (also on PATH, not used: {others})" if others else ""
        if kind == "other":
            findings.append(Finding(f"env.path.{tool}", "warn", f"{tool} on PATH is {first}, neither jenv's "
                                    f"shim nor alienpy's: it decides what '{tool}' says{also}",
                                    f"remove or rename {first}, or 'jenv shims' and put ~/.local/bin first in PATH"))
        else:
            findings.append(Finding(f"env.path.{tool}", "ok", f"{tool} on PATH is {kind}'s ({first}){also}"))
    if env.ld_preload:
        findings.append(Finding("env.ld_preload", "warn", f"LD_PRELOAD={env.ld_preload} is loaded into jenv, "
                                "OpenSSL and every tool", "unset LD_PRELOAD and try again"))
    return findings


# ---------------------------------------------------------------------------------------------------
# The user's files, the CA store, the token (one reader: jenv.report.status, jenv.tokens.check)


def _has_terminal() -> bool:
    """Whether a passphrase could be asked (the controlling terminal opens); nothing is read from it."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _pkcs12_files(home: str) -> List[str]:
    return sorted(glob.glob(os.path.join(home, ".globus", "*.p12")) + glob.glob(os.path.join(home, ".globus", "*.pfx")))


def local_findings(status, pkcs12: Sequence[str], terminal: bool) -> List[Finding]:
    """The user certificate and key, the CA store and the token, from :class:`jenv.report.status.Status`."""
    from jenv.report.render import validity_problem

    findings: List[Finding] = []
    cert, key, now = status.user_cert, status.user_key, status.now
    where = cert.location.describe()
    if cert.error:
        fix = f"jenv cert-import {pkcs12[0]}" if pkcs12 and not cert.exists else \
            "X509_USER_CERT=<path>, or get a certificate from https://ca.cern.ch and run 'jenv cert-import'"
        left = f" ({pkcs12[0]} is there, not converted)" if pkcs12 and not cert.exists else ""
        findings.append(_fail("user-cert.read", f"{cert.error}{left}", fix, cert.error_code))
    elif cert.state != "valid":
        findings.append(_fail("user-cert.dates", validity_problem(cert.info, cert.location, now) or where,
                              "renew it at https://ca.cern.ch, then 'jenv cert-import <file.p12>'",
                              ExitCode.NOT_VALID_NOW))
    elif cert.notice:
        findings.append(Finding("user-cert.dates", "warn", cert.notice,
                                "renew it at https://ca.cern.ch, then 'jenv cert-import <file.p12>'"))
    else:
        findings.append(Finding("user-cert.dates", "ok",
                                f"{where} valid until {cert.info.not_after:%Y-%m-%d %H:%M} UTC"))
    if pkcs12 and cert.exists:
        findings.append(Finding("user-cert.pkcs12", "ok", f"{pkcs12[0]} is there too; {where} is in use"))
    kwhere = key.location.describe()
    if key.unsafe:
        findings.append(_fail("user-key.mode", key.unsafe, f"chmod 600 {key.location.path}", ExitCode.UNSAFE))
    if key.error:
        findings.append(_fail("user-key.read", key.error, "X509_USER_KEY=<path of the key that came with the "
                              "certificate>", key.error_code))
    elif key.encrypted:
        if terminal:
            findings.append(Finding("user-key.encrypted", "ok", f"{kwhere} is encrypted: 'jenv token' asks for "
                                    "its passphrase on the terminal (doctor never does)"))
        else:
            findings.append(_fail("user-key.encrypted", f"{kwhere} is encrypted and there is no terminal to ask "
                                  "for its passphrase", "run 'jenv token' once from a terminal; batch jobs need "
                                  "a token made beforehand (jenv export)", ExitCode.PASSPHRASE))
    elif key.matches is False:
        findings.append(_fail("user-key.match", f"{kwhere} does not belong to {where}",
                              "X509_USER_KEY=<path of the key that came with the certificate>", ExitCode.KEY_MISMATCH))
    elif key.matches:
        findings.append(Finding("user-key.match", "ok", f"{kwhere} ({key.key_type}) belongs to the certificate"))
    ca = status.ca
    if ca.error:
        findings.append(_fail("ca.store", ca.error, "jenv ca-fetch, or X509_CERT_DIR=<grid CA directory>",
                              ca.error_code))
    else:
        findings.append(Finding("ca.store", "ok", f"CA store {ca.store.path} ({ca.store.source}) holds "
                                f"{ca.count} certificates"))
    findings.extend(_token_findings(status))
    return findings


def _token_findings(status) -> List[Finding]:
    from jenv.tokens.check import TokenState

    if status.token_error is not None:
        return [_fail("token.files", status.token_error.message, "remove the file named, or set TMPDIR to a "
                      "private directory (mkdir -m 700 ~/tmp)", status.token_error.exit_code)]
    check, where = status.token, status.token_cert.location.describe()
    if check is None or check.state is TokenState.MISSING:
        found = [Finding("token.files", "ok", f"no token yet at {where}: 'jenv token' makes one")]
    elif check.usable:
        until = dt.datetime.fromtimestamp(check.not_after, dt.timezone.utc)
        found = [Finding("token.files", "ok", f"valid token {where} until {until:%Y-%m-%d %H:%M} UTC")]
    else:
        found = [Finding("token.files", "warn", check.detail or f"{where}: {check.state}",
                         "jenv token-init (replaces it)")]
    for text, variables in ((status.endpoint_error, "ALIENPY_JCENTRAL, ALIENPY_JCENTRAL_PORT"),
                            (status.timeout_error, "JENV_TIMEOUT")):
        if text:
            found.append(_fail("settings", text, f"fix or unset {variables}", ExitCode.INVALID))
    # What 'jenv status' finds beyond what has a finding above: the token directory, the private lock
    # directory (:func:`jenv.report.status.find_problems` words the others the same way).
    known = {status.user_key.unsafe, status.ca.error, status.user_cert.error,
             *(f"{text}: fix or unset it" for text in (status.endpoint_error, status.timeout_error) if text)}
    for problem in status.problems:
        if problem.message in known or problem.message.startswith("no valid token, and the user credentials"):
            continue
        found.append(_fail("token.dir", problem.message, "set TMPDIR to a private directory (mkdir -m 700 ~/tmp)",
                           problem.exit_code))
    return found


# CRLs beside the CA certificates (fetch-crl's <hash>.r0)

@dataclass(frozen=True)
class CRLInfo:
    path: str
    issuer: str
    next_update: Optional[dt.datetime]
    error: Optional[str] = None


def gather_crls(ca_dir: Optional[str]) -> List[CRLInfo]:
    """Every ``<hash>.rN`` file of a CA directory, read with cryptography (PEM or DER)."""
    if not ca_dir or not os.path.isdir(ca_dir):
        return []
    from cryptography import x509

    found = []
    for path in sorted(glob.glob(os.path.join(ca_dir, "*.r[0-9]*"))):
        try:
            data = read_regular_file(path, 64 << 20)
            crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
        except (OSError, ValueError) as exc:
            found.append(CRLInfo(path, "", None, str(exc)))
            continue
        found.append(CRLInfo(path, crl.issuer.rfc4514_string(), crl.next_update_utc))
    return found


def crl_findings(crls: Sequence[CRLInfo], now: dt.datetime, require: bool) -> List[Finding]:
    findings = []
    for crl in crls:
        if crl.error:
            findings.append(Finding("ca.crl", "warn", f"CRL {crl.path} cannot be read: {crl.error}",
                                    "fetch-crl (or remove the file)"))
        elif crl.next_update is not None and crl.next_update < now:
            age = now - crl.next_update
            detail = (f"CRL {crl.path} ({crl.issuer}) is past its next update "
                      f"{crl.next_update:%Y-%m-%d %H:%M} UTC by {age.days}d {age.seconds // 3600}h")
            fix = "fetch-crl (or 'jenv ca-fetch --crl')"
            findings.append(_fail("ca.crl", detail, fix, ExitCode.VERIFY_FAILED) if require
                            else Finding("ca.crl", "warn", detail, fix))
    if crls and not findings:
        findings.append(Finding("ca.crl", "ok", f"{len(crls)} CRLs, none past its next update"))
    return findings


# The token directory: owner, mode, sticky bit, and whether something cleans it

@dataclass(frozen=True)
class DirectoryFacts:
    path: str
    mode: Optional[int]
    owner: Optional[int]
    tmpfiles: Tuple[str, ...]  # systemd-tmpfiles lines that age this directory
    private_node: bool  # /tmp is private to this node (the login hook's rule, jenv.shells.hook)
    host: str
    home: str


def _tmpfiles_rules(directory: str) -> Tuple[str, ...]:
    rules = []
    for base in ("/etc/tmpfiles.d", "/run/tmpfiles.d", "/usr/lib/tmpfiles.d"):
        for conf in sorted(glob.glob(os.path.join(base, "*.conf"))):
            try:
                lines = read_small_file(conf, MAX_PEM_SIZE)[0].decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) >= 7 and fields[0][:1] in "dDeqQvx" and fields[6] not in ("-", "") \
                        and os.path.abspath(fields[1]) in (directory, os.path.dirname(directory)):
                    rules.append(f"{conf}: {line.strip()}")
    return tuple(rules)


def gather_directory(environ: Mapping[str, str], home: str) -> DirectoryFacts:
    path = token_dir(environ)
    try:
        st = os.stat(path)
        mode, owner = stat.S_IMODE(st.st_mode), st.st_uid
    except OSError:
        mode = owner = None
    from jenv.shells.hook import node_private_tmp

    host = socket.gethostname()
    return DirectoryFacts(path, mode, owner, _tmpfiles_rules(path), path == "/tmp" and node_private_tmp(environ, host),
                          host, home)


def directory_findings(facts: DirectoryFacts, uid: int) -> List[Finding]:
    findings = []
    if facts.mode is not None:
        sticky = " sticky" if facts.mode & stat.S_ISVTX else ""
        findings.append(Finding("token.dir", "ok", f"token directory {facts.path}: owner uid {facts.owner}, mode "
                                f"{facts.mode:04o}{sticky}"))
    for rule in facts.tmpfiles:
        findings.append(Finding("token.dir.cleaned", "ok", f"systemd-tmpfiles ages files in {facts.path} "
                                f"({rule}); a token is renewed long before"))
    if facts.private_node:
        findings.append(Finding("token.dir.node", "warn", f"{facts.path} on {facts.host} is private to this "
                                "node: the token made here is gone at the next login on another node",
                                "the jenv login hook (jenv hook <shell>) sets TMPDIR under HOME there; or "
                                "TMPDIR=~/private/jenv-tmp"))
    if facts.home.startswith("/afs/"):
        findings.append(Finding("home.afs", "warn", f"HOME {facts.home} is on AFS: jenv's private state there needs "
                                "an AFS token (kinit; aklog) and AFS ignores file modes",
                                "XDG_RUNTIME_DIR or XDG_CACHE_HOME on a local disk"))
    return findings


# ---------------------------------------------------------------------------------------------------
# The endpoint: every address, side by side, under one deadline


@dataclass
class AddressResult:
    """What connecting to one resolved address showed (filled by its thread until the deadline)."""

    family: int
    sockaddr: tuple
    probe: object = None  # jenv.jcentral.client.Probe of the attempt with the full checks
    name_mismatch: bool = False  # ssl's check of the server name failed (the rest was tried without it)
    names: Tuple[str, ...] = ()  # the names the server certificate carries
    issuer: Optional[str] = None  # the server certificate's issuer, when the chain did not verify
    not_after: Optional[dt.datetime] = None
    error: Optional[str] = None  # the message 'jenv token' would give for the failure
    finished: bool = False

    @property
    def address(self) -> str:
        host = self.sockaddr[0]
        return f"[{host}]:{self.sockaddr[1]}" if self.family == socket.AF_INET6 else f"{host}:{self.sockaddr[1]}"


@dataclass
class EndpointResult:
    endpoint: object
    name: str  # the name the server certificate must carry
    resolve_error: Optional[str] = None
    resolved: bool = False
    addresses: List[AddressResult] = field(default_factory=list)
    identity: str = ""  # "" when the user certificate was presented; else why not
    dn: str = ""
    timeout: float = 0.0


def _cert_facts(der: Optional[bytes]):
    from cryptography import x509

    if not der:
        return (), None, None
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName)) + tuple(
            str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names = ()
    return names, cert.issuer.rfc4514_string(), cert.not_valid_after_utc


def _probe_one(result: AddressResult, endpoint, ca, identity, checked, name: str, deadline: float,
               timeout: float, dn: str) -> None:
    import ssl

    from jenv.jcentral.client import Probe, probe_address, probe_context, probe_error

    result.probe = Probe()  # filled as the attempt goes: the phase of an attempt still hanging at the deadline
    upgrade = checked is not None and checked[2] is not None
    context = probe_context(ca, identity, checked, server_name=True)
    probe = probe_address(context, endpoint, (result.family, result.sockaddr), deadline, upgrade, name, result.probe)
    error = probe.error
    if isinstance(error, ssl.SSLCertVerificationError):
        if error.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME/IP_ADDRESS_MISMATCH: the chain is good, the name not
            result.name_mismatch = True
            context = probe_context(ca, identity, checked)
        else:  # read the certificate the server sends, to name its issuer and dates
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            upgrade = False
        second = probe_address(context, endpoint, (result.family, result.sockaddr), deadline, upgrade, name)
        result.names, result.issuer, result.not_after = _cert_facts(second.peer_der)
        if result.name_mismatch:
            result.probe = probe = second
    elif probe.peer_der:
        result.names, _, result.not_after = _cert_facts(probe.peer_der)
    if probe.error is not None:
        result.error = str(probe_error(probe, endpoint, ca, dn, timeout))
    result.finished = True


def _guarded_probe(result: AddressResult, *args) -> None:
    """:func:`_probe_one` in its thread: whatever goes wrong there is the address's failure, never a
    traceback from the thread."""
    try:
        _probe_one(result, *args)
    except Exception as exc:  # noqa: BLE001
        if result.probe is None:  # failed before the attempt began
            from types import SimpleNamespace

            result.probe = SimpleNamespace(phase="tcp", error=exc, status=None, date=None, peer_der=None)
        elif result.probe.error is None:
            result.probe.error = exc
        result.error = f"{type(exc).__name__}: {exc}"
        result.finished = True


def probe_endpoint(environ: Mapping[str, str], endpoint, ca, identity, timeout: float,
                   deadline: float, now: float) -> EndpointResult:
    """Resolve the endpoint (every A and AAAA record), then probe every address in its own thread; all of
    it bounded by ``deadline`` (time.monotonic).  The user certificate is presented only when its key
    is not encrypted: nothing here asks for a passphrase."""
    from jenv.jcentral.client import check_identity
    from jenv.pem import grid_dn

    name = environ.get(JENV_JCENTRAL_NAME) or endpoint.host
    result = EndpointResult(endpoint, name, timeout=timeout)
    checked = None
    try:
        checked = check_identity(identity, now)
        result.dn = grid_dn(checked[0].subject)
        if checked[2] is None:
            result.identity = "the user key is encrypted and doctor never asks for its passphrase"
    except JenvError as exc:
        result.identity = f"the user certificate cannot be presented ({exc})"
    answer: Dict[str, object] = {}

    def resolve():
        try:
            answer["infos"] = socket.getaddrinfo(endpoint.host, endpoint.port, 0, socket.SOCK_STREAM)
        except OSError as exc:
            answer["error"] = exc

    thread = threading.Thread(target=resolve, daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0))
    if "error" in answer:
        exc = answer["error"]
        result.resolve_error = f"cannot resolve {endpoint.host!r}: {getattr(exc, 'strerror', None) or exc}"
        return result
    if "infos" not in answer:
        result.resolve_error = f"no answer resolving {endpoint.host!r} within {timeout:g}s"
        return result
    result.resolved = True
    seen = set()
    for family, _, _, _, sockaddr in answer["infos"]:  # type: ignore[union-attr]
        if (family, sockaddr[:2]) not in seen:
            seen.add((family, sockaddr[:2]))
            result.addresses.append(AddressResult(family, sockaddr))
    threads = [threading.Thread(target=_guarded_probe, args=(address, endpoint, ca, identity, checked, name, deadline,
                                                         timeout, result.dn), daemon=True)
               for address in result.addresses]
    for each in threads:
        each.start()
    for each in threads:
        each.join(max(deadline + 0.2 - time.monotonic(), 0))
    return result


def _phase_text(phase: str) -> str:
    return {"tcp": "TCP connection", "tls": "TLS handshake", "upgrade": "WebSocket upgrade"}.get(phase, phase)


def _address_finding(res: EndpointResult, addr: AddressResult, fallback: bool) -> Optional[Finding]:
    """The failure of one address, if any (a warning when another address works)."""
    import ssl

    probe = addr.probe
    endpoint = res.endpoint
    where = f"JCentral {endpoint.host}:{endpoint.port}"
    if addr.address != f"{endpoint.host}:{endpoint.port}":
        where += f" at {addr.address}"
    error = getattr(probe, "error", None)
    if not addr.finished or isinstance(error, (TimeoutError, socket.timeout)):
        phase = getattr(probe, "phase", "tcp")
        detail = f"{where}: no answer within {res.timeout:g}s during the {_phase_text(phase)}"
        fix = {"tcp": "a firewall drops the packets, or the address is wrong: check ALIENPY_JCENTRAL",
               "tls": "the service there does not speak TLS, or hangs: check ALIENPY_JCENTRAL_PORT"}.get(
            phase, "the service hangs: try again later, or JENV_TIMEOUT=<seconds> for a slower network")
        return _scaled(f"net.{phase}", detail, fix, ExitCode.NETWORK, fallback)
    if error is None:
        return None
    verify = isinstance(error, ssl.SSLCertVerificationError)
    if verify and error.verify_code == 10:
        return _scaled("tls.server-cert.expired", f"the server certificate of {where} expired "
                       f"{addr.not_after:%Y-%m-%d %H:%M} UTC" if addr.not_after else f"{where}: {addr.error}",
                       "the service must renew it; if it is not expired, set the clock (date -u)",
                       ExitCode.NETWORK, fallback)
    if verify and error.verify_code in (2, 19, 20, 21):
        return _scaled("ca.server-issuer", f"the server certificate of {where} is issued by "
                       f"{addr.issuer or 'a CA'}, which is not in the CA store", "jenv ca-fetch, or "
                       "X509_CERT_DIR=<grid CA directory> (jenv ca-info shows the store)", ExitCode.NETWORK, fallback)
    if verify:
        return _scaled("tls.server-cert", f"{addr.error}", "jenv ca-fetch, or X509_CERT_DIR", ExitCode.NETWORK,
                       fallback)
    phase = probe.phase
    if phase == "tcp":
        fix = ("the service is down or listens elsewhere: check ALIENPY_JCENTRAL and ALIENPY_JCENTRAL_PORT"
               if isinstance(error, ConnectionRefusedError) else "check the network and ALIENPY_JCENTRAL")
        return _scaled("net.tcp", f"{addr.address}: {addr.error}", fix, ExitCode.NETWORK, fallback)
    if phase == "tls":
        if res.identity and "alert" in str(error).lower():
            return None  # the server wants the client certificate that doctor could not present
        return _scaled("net.tls", f"{addr.address}: {addr.error}", "check ALIENPY_JCENTRAL_PORT and the CA store",
                       ExitCode.NETWORK, fallback)
    code = ExitCode.REFUSED if "rejected our client certificate" in (addr.error or "") else ExitCode.NETWORK
    return _scaled("jcentral.accepts" if code == ExitCode.REFUSED else "net.upgrade", f"{addr.address}: {addr.error}",
                   "register the certificate in the ALICE VO (https://alice-account.web.cern.ch)"
                   if code == ExitCode.REFUSED else "try again later; the service answers wrongly", code, fallback)


def _scaled(id_: str, detail: str, fix: str, code: int, fallback: bool) -> Finding:
    if fallback:
        return Finding(id_, "warn", f"{detail} (another address works, and jenv uses it)", fix)
    return _fail(id_, detail, fix, code)


def network_findings(res: EndpointResult, now_of) -> List[Finding]:
    """The endpoint's findings; ``now_of(received)`` is the local clock (as a datetime) at a given answer."""
    from email.utils import parsedate_to_datetime

    endpoint = res.endpoint
    if res.resolve_error:
        return [_fail("net.dns", res.resolve_error, "check ALIENPY_JCENTRAL and the DNS (getent ahosts "
                      f"{endpoint.host})", ExitCode.NETWORK)]
    findings = [Finding("net.dns", "ok", f"{endpoint.host} resolves to "
                        + ", ".join(a.address.rsplit(":", 1)[0] for a in res.addresses))]
    working = [a for a in res.addresses if a.finished and a.probe.error is None and not a.name_mismatch]
    for addr in res.addresses:
        failure = _address_finding(res, addr, fallback=bool(working))
        if failure is not None:
            findings.append(failure)
        elif addr.finished and addr.probe.error is None and not addr.name_mismatch:
            findings.append(Finding("net.tls", "ok", f"{addr.address}: TCP, TLS and the server's chain are good"))
        if addr.name_mismatch:
            findings.append(_fail("tls.server-name", f"the server certificate at {addr.address} is for "
                                  f"{', '.join(addr.names) or 'no name'}, not for {res.name}",
                                  f"ALIENPY_JCENTRAL=<a name it carries>, or {JENV_JCENTRAL_NAME}=<the name> "
                                  "when you trust this server under it", ExitCode.NETWORK))
    answered = [a for a in res.addresses if a.finished and a.probe.status is not None]
    if res.identity:
        findings.append(Finding("jcentral.accepts", "skip", f"whether JCentral accepts the user certificate is not "
                                f"checked: {res.identity}"))
    for addr in answered[:1]:
        probe = addr.probe
        if probe.status == 401:
            findings.append(_fail("jcentral.accepts", f"JCentral does not accept the certificate {res.dn}: it is "
                                  "not registered in the ALICE VO (HTTP 401 on the upgrade)",
                                  "register it in the ALICE VO: https://alice-account.web.cern.ch",
                                  ExitCode.REFUSED))
        elif probe.status == 101:
            findings.append(Finding("jcentral.accepts", "ok", f"JCentral accepts the certificate {res.dn}"))
        else:
            findings.append(_fail("net.upgrade", f"JCentral at {addr.address} answered HTTP {probe.status} instead "
                                  "of opening the WebSocket", "check ALIENPY_JCENTRAL_PORT", ExitCode.NETWORK))
    dated = [a.probe for a in answered if a.probe.date]
    if dated:
        try:
            server = parsedate_to_datetime(dated[0].date)
        except (TypeError, ValueError):
            server = None
        if server is not None:
            skew = (server - now_of(dated[0].received)).total_seconds()
            ahead = "ahead of" if skew > 0 else "behind"
            detail = f"the server's clock is {abs(skew):.0f}s {ahead} this one (HTTP Date {dated[0].date})"
            fix = "set the clock: timedatectl set-ntp true (or ask the administrator); date -u shows it"
            if abs(skew) > CLOCK_FAIL_SECONDS:
                findings.append(_fail("clock", detail, fix, ExitCode.NOT_VALID_NOW))
            elif abs(skew) > CLOCK_WARN_SECONDS:
                findings.append(Finding("clock", "warn", detail, fix))
            else:
                findings.append(Finding("clock", "ok", detail))
    return findings


# ---------------------------------------------------------------------------------------------------


def _guarded(findings: List[Finding], what: str, call) -> None:
    """Run one group of checks; a failure to check is itself a finding (the walk never stops)."""
    try:
        findings.extend(call())
    except JenvError as exc:
        findings.append(_fail(f"doctor.{what}", f"cannot check the {what}: {exc}", "see the line above",
                              exc.exit_code))
    except Exception as exc:  # noqa: BLE001  (a broken installation must be reported, not crash the report)
        findings.append(_fail(f"doctor.{what}", f"cannot check the {what}: {type(exc).__name__}: {exc}",
                              "pip install --force-reinstall jenv, with PYTHONPATH unset", ExitCode.ERROR))


def diagnose(environ: Mapping[str, str], uid: int, home: str, clock) -> List[Finding]:
    """Every check, in the order a token is made; bounded by JENV_TIMEOUT (plus the local work)."""
    findings: List[Finding] = []
    started = time.monotonic()
    _guarded(findings, "environment", lambda: environment_findings(gather_environment(environ)))
    state: Dict[str, object] = {}

    def now() -> dt.datetime:
        return dt.datetime.fromtimestamp(clock(), dt.timezone.utc)

    def files():
        from jenv.report.status import gather_status

        status = state["status"] = gather_status(environ, uid, home, now())
        return local_findings(status, _pkcs12_files(home), _has_terminal())

    def crls():
        store = state["status"].ca.store if "status" in state else None
        if store is None or store.kind != "dir":
            return []
        require = environ.get("JENV_CRL", "").strip().lower() == "require"
        return crl_findings(gather_crls(store.path), now(), require)

    def network():
        from jenv.locations import resolve_endpoint, resolve_locations, resolve_timeout
        from jenv.jcentral.client import ClientIdentity

        status = state.get("status")
        if status is None or status.ca.error or status.endpoint_error or status.timeout_error:
            return [Finding("net", "skip", "the network is not checked: it needs the CA store and the settings "
                                           "named above")]
        timeout = resolve_timeout(environ)[0]
        locs = resolve_locations(environ, uid, home)
        result = probe_endpoint(environ, resolve_endpoint(environ), status.ca.store,
                                ClientIdentity(locs.user_cert, locs.user_key), timeout, started + timeout, clock())
        return network_findings(result, lambda received: dt.datetime.fromtimestamp(
            clock() if received is None else received, dt.timezone.utc))

    _guarded(findings, "credentials", files)
    _guarded(findings, "CRLs", crls)
    _guarded(findings, "token directory", lambda: directory_findings(gather_directory(environ, home), uid))
    _guarded(findings, "network", network)
    return findings
