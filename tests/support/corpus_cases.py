"""The bad-input corpus: one row per case, across every command.

Each case names the command line, what the lab holds or the environment
says (``env(lab)`` creates files and returns variables; None unsets one), the
documented exit code (jenv/errors.py) and a regex the last stderr line must
match after "jenv: ".  Cases with ``expired=True`` start from an expired
token, so token commands go to the (fault) service; the token files must
still be byte for byte what they were afterwards.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed25519

from support.corpus_lab import Lab
from jenv.service.authority import new_rsa_key

USAGE, NOT_FOUND, INVALID, NOT_VALID, VERIFY, MISMATCH, UNSAFE, NETWORK, REFUSED, PASSPHRASE = \
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11

Env = Callable[[Lab], Dict[str, Optional[str]]]


@dataclass(frozen=True)
class Case:
    name: str
    argv: Tuple[str, ...]
    code: int
    pattern: str
    env: Env = lambda lab: {}
    expired: bool = False  # start from an expired token (token commands then ask the service)
    runner: str = "plain"  # see corpus_lab.run
    lines: int = 1  # stderr lines expected; 0: any number (the last one is checked)
    stdout: bool = False  # the command prints its report on stdout before failing (match, verify, status)
    absent: str = ""  # a lab path that must not exist afterwards (no side effect before the error)
    xfail: str = ""  # why the case fails today (strict: it must start passing when fixed)


def _pem(label: str, body: str = "AAAA") -> bytes:
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


def _der_cert(lab: Lab) -> bytes:
    return lab.world.user.cert.public_bytes(serialization.Encoding.DER)


def _pkcs8(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pkcs7(lab: Lab) -> bytes:
    from cryptography.hazmat.primitives.serialization import pkcs7
    return pkcs7.serialize_certificates([lab.world.user.cert], serialization.Encoding.PEM)


def _csr(lab: Lab) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    builder = x509.CertificateSigningRequestBuilder().subject_name(lab.world.user.cert.subject)
    return builder.sign(lab.world.user.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _public_key(lab: Lab) -> bytes:
    return lab.world.user.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)


def _sparse(lab: Lab, name: str, size: int = 100 << 20) -> str:
    path = lab.file(name, b"")
    os.truncate(path, size)  # 100 MB that take no disk: jenv must refuse it by its size, not by reading it
    return path


def cert(data: Callable[[Lab], bytes], var: str = "X509_USER_CERT") -> Env:
    """The variable ``var`` names a lab file holding ``data(lab)``."""
    return lambda lab: {var: lab.file(var.lower() + ".pem", data(lab))}


def key(data: Callable[[Lab], bytes]) -> Env:
    return cert(data, "X509_USER_KEY")


def one_origin(build: Env) -> Env:
    """``build``'s variables, with the other half of the token pair given the same way (a pair has one
    origin, issue 19.5): a good file beside a path, good PEM content beside content."""
    def env(lab: Lab) -> Dict[str, Optional[str]]:
        values = dict(build(lab))
        for var, other, data in (("JALIEN_TOKEN_CERT", "JALIEN_TOKEN_KEY", lab.world.token_key),
                                 ("JALIEN_TOKEN_KEY", "JALIEN_TOKEN_CERT", lab.world.token_cert)):
            value = values.get(var)
            if value and other not in values:
                values[other] = data.decode() if value.startswith("-----") else \
                    _beside(value, other.lower(), data)
        return values
    return env


def _beside(path: str, name: str, data: bytes) -> str:
    """A private file holding ``data`` in the directory of ``path``."""
    target = Path(os.path.dirname(path)) / f"partner-{name}.pem"
    target.write_bytes(data)
    target.chmod(0o400)
    return str(target)


def setenv(**values: Optional[str]) -> Env:
    """Variables with fixed values (None unsets one)."""
    return lambda lab: dict(values)


def answer(build: Callable[[Lab], object]) -> Env:
    """The fault service answers ``build(lab)`` (a dict is sent as JSON, text as is)."""
    def env(lab: Lab) -> Dict[str, Optional[str]]:
        value = build(lab)
        return lab.fault(value if isinstance(value, str) else json.dumps(value))
    return env


def _token_answer(cert_pem: bytes, key_pem: bytes, exitcode: str = "0") -> dict:
    return {"metadata": {"exitcode": exitcode, "error": "", "user": "ccorpus", "currentdir": "/"},
            "results": [{"tokencert": cert_pem.decode(), "tokenkey": key_pem.decode()}]}


def _meta(**fields) -> dict:
    return {"metadata": {"exitcode": "0", "error": "", "user": "ccorpus", "currentdir": "/", **fields},
            "results": []}


FILE_CASES = [
    Case("cert empty", ("cert-info",), INVALID, r"x509_user_cert.pem \(from X509_USER_CERT\) is empty", cert(lambda lab: b"")),
    Case("cert whitespace", ("cert-info",), INVALID, r"is empty", cert(lambda lab: b" \n\t\n  \n")),
    Case("cert truncated PEM", ("cert-info",), INVALID, r"truncated certificate",
         cert(lambda lab: lab.world.user.cert_pem[:400])),
    Case("cert garbage", ("cert-verify",), INVALID, r"is not a PEM certificate",
         cert(lambda lab: b"this is not a certificate\n")),
    Case("cert base64 garbage in armour", ("cert-info",), INVALID, r"corrupt or truncated certificate",
         cert(lambda lab: _pem("CERTIFICATE", "Zm9vYmFyYmF6" * 8))),
    Case("cert DER", ("cert-info",), INVALID, r"DER \(binary\) form", cert(_der_cert)),
    Case("cert PKCS#7", ("cert-verify",), INVALID, r"'PKCS7' block, not a certificate", cert(_pkcs7)),
    Case("cert CSR", ("cert-info",), INVALID, r"'CERTIFICATE REQUEST' block", cert(_csr)),
    Case("cert public key", ("certkey-match",), INVALID, r"'PUBLIC KEY' block", cert(_public_key)),
    Case("key where cert belongs", ("cert-info",), INVALID, r"holds a private key, not a certificate",
         cert(lambda lab: lab.world.user.key_pem())),
    Case("cert where key belongs", ("certkey-match",), INVALID, r"holds a certificate, not a private key",
         key(lambda lab: lab.world.user.cert_pem)),
    Case("key empty", ("certkey-match",), INVALID, r"x509_user_key.pem \(from X509_USER_KEY\) is empty", key(lambda lab: b"")),
    Case("key truncated", ("certkey-match",), INVALID, r"corrupt or truncated",
         key(lambda lab: lab.world.user.key_pem()[:500] + b"\n-----END RSA PRIVATE KEY-----\n")),
    Case("key base64 garbage in armour", ("token-init",), INVALID, r"key.*corrupt or truncated",
         key(lambda lab: _pem("RSA PRIVATE KEY", "Zm9v" * 30)), expired=True),
    Case("key DER", ("certkey-match",), INVALID, r"DER \(binary\) form",
         key(lambda lab: lab.world.user.key.private_bytes(serialization.Encoding.DER,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))),
    # Issue 11.9: two keys in one file are bad input before anything else (which one would be used?).
    Case("two keys, the first another one", ("certkey-match",), INVALID, r"holds 2 private keys",
         key(lambda lab: _pkcs8(new_rsa_key()) + lab.world.user.key_pem())),
    Case("two keys where the cert belongs", ("cert-info",), INVALID, r"holds a private key",
         cert(lambda lab: lab.world.user.key_pem() * 2)),
    Case("Ed25519 key", ("certkey-match",), INVALID, r"only RSA and EC keys are supported",
         key(lambda lab: _pkcs8(ed25519.Ed25519PrivateKey.generate()))),
    Case("DSA key", ("certkey-match",), INVALID, r"only RSA and EC keys are supported",
         key(lambda lab: _pkcs8(dsa.generate_private_key(1024)))),
    Case("token key of another token", ("tokenkey-match",), MISMATCH, r"does not belong to",
         one_origin(lambda lab: {"JALIEN_TOKEN_KEY": lab.file("other.pem", lab.world.expired_key)}), stdout=True),
    Case("token cert is a CSR", ("token-verify",), INVALID, r"'CERTIFICATE REQUEST' block",
         one_origin(cert(_csr, "JALIEN_TOKEN_CERT"))),
    Case("huge sparse user cert", ("cert-info",), INVALID, r"104857600 bytes, too large",
         lambda lab: {"X509_USER_CERT": _sparse(lab, "huge.pem")}),
    Case("huge sparse token cert", ("token-info",), INVALID, r"too large",
         one_origin(lambda lab: {"JALIEN_TOKEN_CERT": _sparse(lab, "huge-token.pem")})),
    Case("huge sparse user key", ("token-init",), INVALID, r"too large",
         lambda lab: {"X509_USER_KEY": _sparse(lab, "huge-key.pem")}, expired=True),
    Case("cert under a regular file", ("cert-info",), NOT_FOUND, r"cannot be opened: Not a directory",
         lambda lab: {"X509_USER_CERT": lab.file("plain", b"x") + "/usercert.pem"}),
    Case("unreadable user key", ("certkey-match",), NOT_FOUND, r"is not readable",
         lambda lab: {"X509_USER_KEY": lab.file("locked.pem", lab.world.user.key_pem(), 0o000)},
         runner="nocaps"),
    Case("unreadable user cert at token-init", ("token-init",), NOT_FOUND, r"is not readable",
         lambda lab: {"X509_USER_CERT": lab.file("locked-cert.pem", lab.world.user.cert_pem, 0o000)},
         expired=True, runner="nocaps"),
]


def _missing_dir(lab: Lab) -> str:
    return str(lab.root / "no-such-dir")


def _empty_dir(lab: Lab) -> str:
    path = lab.root / "empty-dir"
    path.mkdir()
    return str(path)


def _read_only_dir(lab: Lab) -> str:
    path = lab.root / "read-only"
    path.mkdir(mode=0o500)
    return str(path)


ENV_CASES = [
    Case("X509_USER_CERT control characters", ("cert-info",), NOT_FOUND, r"^[^\x00-\x08\x0b-\x1f]*does not exist",
         setenv(X509_USER_CERT="\x01\x02")),
    Case("X509_USER_CERT terminal escape", ("cert-info",), NOT_FOUND, r"does not exist",
         setenv(X509_USER_CERT="\x1b]0;pwned\x07")),
    # Several lines are not a path but may be key material: refused by name and length, never echoed.
    Case("X509_USER_KEY with a newline", ("certkey-match",), INVALID, r"X509_USER_KEY holds 16 characters",
         setenv(X509_USER_KEY="/no/such\nkey.pem")),
    Case("JALIEN_TOKEN_CERT armour garbage", ("token-info",), INVALID, r"holds a PEM 'garbage' block",
         one_origin(setenv(JALIEN_TOKEN_CERT="-----BEGIN garbage"))),
    Case("JALIEN_TOKEN_KEY armour garbage", ("tokenkey-match",), INVALID, r"holds a PEM 'garbage' block, not a private key",
         one_origin(setenv(JALIEN_TOKEN_KEY="-----BEGIN garbage"))),
    Case("ALIENPY_JCENTRAL_PORT=abc", ("token",), INVALID, r"ALIENPY_JCENTRAL_PORT='abc' is not a port number",
         setenv(ALIENPY_JCENTRAL_PORT="abc"), expired=True),
    Case("ALIENPY_JCENTRAL_PORT=99999", ("token-init",), INVALID, r"is not a port number",
         setenv(ALIENPY_JCENTRAL_PORT="99999")),
    Case("JENV_TIMEOUT=-1", ("token-init",), INVALID, r"JENV_TIMEOUT='-1' is not a number of seconds",
         setenv(JENV_TIMEOUT="-1")),
    Case("JENV_TIMEOUT=nan", ("token",), INVALID, r"JENV_TIMEOUT='nan'",
         setenv(JENV_TIMEOUT="nan"), expired=True),
    Case("JENV_TIMEOUT=nan (ca-fetch)", ("ca-fetch",), INVALID, r"JENV_TIMEOUT='nan'",
         setenv(JENV_TIMEOUT="nan")),
    Case("X509_CERT_DIR is a file (verify)", ("cert-verify",), NOT_FOUND, r"X509_CERT_DIR=.* is not a directory",
         lambda lab: {"X509_CERT_DIR": lab.file("cafile.pem", lab.world.user.cert_pem)}),
    # The same line as ca-info gives (issue 11.8: checked locally, before any connection).
    Case("X509_CERT_DIR is a file (token-init)", ("token-init",), NOT_FOUND, r"X509_CERT_DIR=\S+ is not a directory",
         lambda lab: {"X509_CERT_DIR": lab.file("cafile.pem", lab.world.user.cert_pem)}, expired=True),
    Case("X509_CERT_DIR is a file (ca-info)", ("ca-info",), NOT_FOUND, r"is not a directory",
         lambda lab: {"X509_CERT_DIR": lab.file("cafile.pem", lab.world.user.cert_pem)}),
    Case("X509_CERT_DIR empty directory", ("token-verify",), VERIFY, r"does not verify",
         lambda lab: {"X509_CERT_DIR": _empty_dir(lab)}, stdout=True),
    Case("status with a PKCS#7 user cert, token expired", ("status",), INVALID, r"PKCS7", cert(_pkcs7),
         expired=True, lines=0, stdout=True),
    Case("TMPDIR missing (token)", ("token",), NOT_FOUND, r"no-such-dir.*create it or set TMPDIR",
         lambda lab: {"TMPDIR": _missing_dir(lab)}),
    Case("TMPDIR missing (token-destroy)", ("token-destroy",), NOT_FOUND, r"create it or set TMPDIR",
         lambda lab: {"TMPDIR": _missing_dir(lab)}),
    Case("TMPDIR unwritable (token-init)", ("token-init",), UNSAFE, r"read-only.*set TMPDIR",
         lambda lab: {"TMPDIR": _read_only_dir(lab)}, runner="nocaps"),
    Case("HOME missing, no token", ("token",), NOT_FOUND, r"usercert.pem \(default\) does not exist",
         lambda lab: {"HOME": _missing_dir(lab), "TMPDIR": str(lab.root), "X509_USER_CERT": None,
                      "X509_USER_KEY": None}),
    Case("HOME unwritable, CA dir under it missing", ("token-init",), NOT_FOUND, r"certificates does not exist: correct X509_CERT_DIR .*'jenv ca-fetch",
         lambda lab: {"HOME": _read_only_dir(lab), "X509_CERT_DIR": "~/.globus/certificates",
                      "X509_USER_CERT": str(lab.home / ".globus/usercert.pem"),
                      "X509_USER_KEY": str(lab.home / ".globus/userkey.pem")},
         expired=True, runner="nocaps"),
]

USAGE_CASES = [
    Case("token --min-valid=abc", ("token", "--min-valid=abc"), USAGE, r"--min-valid 'abc'"),
    Case("token-init -v abc", ("token-init", "-v", "abc"), USAGE, r"-v 'abc': the validity must be"),
    Case("alien-token-init -t bogus", ("alien-token-init", "-t", "bogus"), USAGE, r"the token type must be"),
    Case("token -t bogus", ("token", "-t", "bogus"), USAGE, r"-t 'bogus': the token type must be"),
    Case("user with an empty role", ("user", ""), USAGE, r"-u needs a non-empty value"),
    Case("token --shell=bogus", ("token", "--shell=bogus"), USAGE, r"unknown shell 'bogus' given to --shell: use one of sh bash"),
    Case("prompt --format with an unknown field", ("prompt", "--format={host}"), USAGE,
         r"--format '\{host\}': use \{left\} and \{state\} only"),
    Case("prompt --warn=abc", ("prompt", "--warn=abc"), USAGE, r"--warn 'abc': give a duration"),
    Case("hook for an unknown shell", ("hook", "bogus"), USAGE, r"unknown shell 'bogus'"),
    Case("completion for an unknown shell", ("completion", "bogus"), USAGE, r"bogus"),
    Case("ca-fetch from a non-https URL", ("ca-fetch", "--url", "file:///etc/passwd", "cas"), USAGE,
         r"is not an https:// URL"),
    Case("crl-fetch into a directory that does not exist", ("crl-fetch", "no-such-ca-dir"), NOT_FOUND,
         r"no-such-ca-dir is not a CA directory: run 'jenv ca-fetch' first"),
    Case("sandbox user name with spaces", ("sandbox", "--user", "a b!", "--", "true"), USAGE, r"--user 'a b!'"),
    Case("serve --port abc", ("serve", "--dir", "svc", "--port", "abc"), USAGE, r"--port 'abc'",
         absent="svc"),
]

SERVER_CASES = [
    Case("answer not JSON", ("token-init",), NETWORK, r"malformed answer from JCentral: not JSON",
         answer(lambda lab: "<html>502 Bad Gateway</html>"), expired=True),
    Case("answer not JSON (token)", ("token",), NETWORK, r"malformed answer", answer(lambda lab: "{"),
         expired=True),
    Case("answer oversized", ("token-init",), NETWORK, r"JCentral",
         answer(lambda lab: json.dumps(_meta(error="x" * (3 << 20)))), expired=True),
    Case("answer without metadata", ("token-init",), NETWORK, r"no 'metadata' object",
         answer(lambda lab: {"results": []}), expired=True),
    Case("answer exitcode not a number", ("token-init",), NETWORK, r"exitcode 'zero' is not a number",
         answer(lambda lab: _meta(exitcode="zero")), expired=True),
    Case("answer without token fields", ("token-init",), NETWORK, r"no 'tokencert' and 'tokenkey'",
         answer(lambda lab: _meta()), expired=True),
    Case("answer results not a list", ("user", "ccorpus"), NETWORK, r"'results' is not a list",
         answer(lambda lab: {**_meta(), "results": "tokencert"})),
    Case("answer token cert garbage", ("token-init",), INVALID, r"token certificate JCentral sent",
         answer(lambda lab: _token_answer(b"-----BEGIN CERTIFICATE-----\nAAAA", lab.world.token_key)),
         expired=True),
    # Issue 9.3: a token whose key does not match is not a token for what was asked: exit 6.
    Case("answer cert does not match its key", ("token",), VERIFY, r"key does not match its certificate",
         answer(lambda lab: _token_answer(lab.world.token_cert, lab.world.expired_key)), expired=True),
    Case("answer refusal with a token attached", ("token-init",), REFUSED, r"JCentral refused the request",
         answer(lambda lab: _token_answer(lab.world.token_cert, lab.world.token_key, exitcode="1")),
         expired=True),
    Case("answer token from a CA not in the store", ("token-init",), VERIFY,
         r"(not signed|does not verify|not in the CA store|unknown issuer)",
         answer(lambda lab: _token_answer(lab.world.foreign_cert, lab.world.foreign_key)), expired=True),
]

PASSPHRASE_CASES = [
    Case("wrong passphrase (certkey-match)", ("certkey-match",), PASSPHRASE, r"wrong passphrase",
         lambda lab: {"X509_USER_KEY": lab.encrypted_user_key()}, runner="pty"),
    Case("wrong passphrase (token-init)", ("token-init",), PASSPHRASE, r"wrong passphrase",
         lambda lab: {"X509_USER_KEY": lab.encrypted_user_key()}, expired=True, runner="pty"),
    Case("encrypted key, no terminal (token)", ("token",), PASSPHRASE, r"no terminal",
         lambda lab: {"X509_USER_KEY": lab.encrypted_user_key()}, expired=True, runner="detached"),
]

#: The token elsewhere (alien-*, shims, export, exec, args): refused before anything is written or run.
ELSEWHERE_CASES = [
    Case("alien-token-info, token expired", ("alien-token-info",), USAGE, r"no valid token .*has expired", expired=True),
    Case("alien-cert-info, cert garbage", ("alien-cert-info",), USAGE, r"is not a PEM certificate: fix or replace it",
         cert(lambda lab: b"this is not a certificate\n")),
    Case("alien-token-destroy, TMPDIR missing", ("alien-token-destroy",), NOT_FOUND, r"create it or set TMPDIR",
         lambda lab: {"TMPDIR": _missing_dir(lab)}),
    Case("shims beside alienpy on PATH", ("shims", "--dir", "shimdir"), UNSAFE, r"alien-token-info is on PATH.*--force",
         setenv(PATH=f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"), absent="shimdir"),  # alienpy's bin
    Case("export --as not absolute", ("export", "--to", "out", "--as", "grid"), USAGE, r"--as 'grid'", absent="out"),
    Case("export env form of a path with a space", ("export", "--to", "a b", "--shell", "env"), INVALID,
         r"cannot write JALIEN_TOKEN_CERT to an env file", absent="a b"),
    Case("exec of a missing command", ("exec", "--", "no-such-command-jenv"), USAGE, r"cannot run 'no-such-command-jenv'"),
    Case("args without a form", ("args",), USAGE, r"jenv args curl"),
    Case("agent status with no agent", ("agent", "status"), 12, r"no jenv agent runs for you on this host"),
    Case("agent start with a bad --ttl", ("agent", "start", "--ttl", "soon"), USAGE, r"--ttl"),
]

def _p12(lab: Lab) -> bytes:
    """The corpus user's certificate and key as the CA hands them out: one PKCS#12 file."""
    from cryptography.hazmat.primitives.serialization import pkcs12
    return pkcs12.serialize_key_and_certificates(b"corpus", lab.world.user.key, lab.world.user.cert, None,
                                                 serialization.BestAvailableEncryption(b"p12 password"))


def _p12_here(data: Callable[[Lab], bytes], name: str = "bundle.p12") -> Env:
    """``name`` in the lab (the case's working directory) holds ``data(lab)``; no variable changes."""
    def env(lab: Lab) -> Dict[str, Optional[str]]:
        lab.file(name, data(lab))
        return {}
    return env


# Issue 14: a .p12 where PEM belongs is named as such, with 'jenv cert-import <path>' as the fix.
P12_FIX = r"is a PKCS#12 bundle .*run 'jenv cert-import \S*bundle.p12'"
PKCS12_CASES = [
    Case("cert is a PKCS#12 bundle", ("cert-info",), INVALID, P12_FIX + ".*unset X509_USER_CERT",
         lambda lab: {"X509_USER_CERT": lab.file("bundle.p12", _p12(lab))}),
    Case("cert is a PKCS#12 bundle named .pem", ("cert-verify",), INVALID, r"is a PKCS#12 bundle.*cert-import",
         cert(_p12)),
    Case("key is a PKCS#12 bundle", ("certkey-match",), INVALID, P12_FIX,
         lambda lab: {"X509_USER_KEY": lab.file("bundle.p12", _p12(lab))}),
    Case("user cert PKCS#12 at token-init", ("token-init",), INVALID, P12_FIX,
         lambda lab: {"X509_USER_CERT": lab.file("bundle.p12", _p12(lab))}, expired=True),
    Case("token cert is a PKCS#12 bundle", ("token-info",), INVALID, P12_FIX,
         one_origin(lambda lab: {"JALIEN_TOKEN_CERT": lab.file("bundle.p12", _p12(lab))})),
    Case("token cert PKCS#12 is never replaced", ("token",), INVALID, P12_FIX,
         one_origin(lambda lab: {"JALIEN_TOKEN_CERT": lab.file("bundle.p12", _p12(lab))})),
    Case("whoami on a PKCS#12 token", ("whoami",), INVALID, P12_FIX,
         one_origin(lambda lab: {"JALIEN_TOKEN_CERT": lab.file("bundle.p12", _p12(lab))})),
    Case("doctor, user key readable by others", ("doctor",), UNSAFE, r"readable by others.*\(fix: chmod 600 ",
         lambda lab: {"X509_USER_KEY": lab.file("userkey-0644.pem", lab.world.user.key_pem(), 0o644)}, stdout=True),
    Case("whoami with no token", ("whoami",), NOT_FOUND, r"does not exist: run 'jenv token-init'",
         one_origin(lambda lab: {"JALIEN_TOKEN_CERT": str(lab.root / "no-token.pem")})),
    Case("whoami on a user certificate", ("whoami", "-q"), INVALID, r"not one JCentral gives a token",
         one_origin(cert(lambda lab: lab.world.user.cert_pem, "JALIEN_TOKEN_CERT"))),
    Case("cert-import wrong password", ("cert-import", "bundle.p12", "--dir", "new-globus"), PASSPHRASE,
         r"wrong password for PKCS#12 file \S+bundle.p12: nothing was written", _p12_here(_p12), runner="pty-p12",
         absent="new-globus"),
    Case("cert-import with no terminal", ("cert-import", "bundle.p12", "--dir", "new-globus"), PASSPHRASE,
         r"no terminal", _p12_here(_p12), runner="detached", absent="new-globus"),
    Case("cert-import of a PEM certificate", ("cert-import", "bundle.p12", "--dir", "new-globus"), INVALID,
         r"is not a PKCS#12 bundle", _p12_here(lambda lab: lab.world.user.cert_pem), absent="new-globus"),
    Case("cert-import of a truncated bundle", ("cert-import", "bundle.p12", "--dir", "new-globus"), INVALID,
         r"truncated or damaged", _p12_here(lambda lab: _p12(lab)[:-30]), absent="new-globus"),
    Case("cert-import of a missing file", ("cert-import", "none.p12"), NOT_FOUND, r"none.p12 .*does not exist"),
    Case("cert-import over the existing pair", ("cert-import", "bundle.p12"), USAGE,
         r"usercert.pem and \S+userkey.pem already exist: give --force", _p12_here(_p12)),
]

CASES = FILE_CASES + ENV_CASES + USAGE_CASES + SERVER_CASES + PASSPHRASE_CASES + ELSEWHERE_CASES + PKCS12_CASES
