"""One judge of a token (issue 19): every reader's verdict is what the libraries say.

Every certificate of the attack corpus (tests/support/ca_corpus.py), the DER surgery classes a hand-written
reader got wrong, and PEM framings that two readers can read differently are given as the token, and
as the user certificate.  The oracle is independent of jenv: ``cryptography`` loads the file,
``openssl x509`` and ``openssl storeutl`` say what OpenSSL reads from it, and
``ssl.SSLContext.load_cert_chain`` says whether a TLS client can use the pair.  ``token --check``,
``status``, ``token-info`` and ``whoami`` must all agree with it and with each other.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from support import ca_corpus as cc
from support.launcher import clean_env, run_in_process

pytestmark = pytest.mark.slow


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _surgery_cases(k):
    """The DER surgery classes of issue 19, each a certificate signed again after the edit."""
    base = cc.issue(cc.name("Surgery Root"), k["rsa0"])
    leaf = cc.issue(cc.name("Surgery Leaf"), k["ec0"], base, ca=False)

    def extra_tbs_element(tbs):
        tbs.tail = tbs.tail + [cc.tlv(0x02, b"\x01")]

    def second_extensions(tbs):
        tbs.tail = tbs.tail + [item for item in tbs.tail if item[0] == 0xA3]

    def bad_key_usage(tbs):
        tbs.extensions = tbs.extensions + [cc.extension_der("2.5.29.15", cc.tlv(0x03, b"\x09\xff"), True)]

    def bad_san(tbs):
        tbs.extensions = tbs.extensions + [cc.extension_der("2.5.29.17", cc.tlv(0x30, cc.tlv(0x82, b"")[:1]))]

    def bc_three(tbs):
        value = cc.tlv(0x30, cc.tlv(0x01, b"\xff") + cc.tlv(0x02, b"\x00") + cc.tlv(0x02, b"\x00"))
        tbs.extensions = [ext for ext in tbs.extensions if cc.extension_oid(ext) != cc.der_oid("2.5.29.19")] + \
            [cc.extension_der("2.5.29.19", value, True)]

    def bad_utf8_name(tbs):
        rdn = cc.tlv(0x31, cc.tlv(0x30, cc.tlv(0x06, bytes.fromhex("550403")) + cc.tlv(0x0C, b"\xff\xfe")))
        tbs.subject = cc.tlv(0x30, rdn)

    def spki_trailing(tbs):
        parts = cc.children(tbs.spki)
        bits = cc.content_of(parts[1])
        tbs.spki = cc.tlv(0x30, parts[0] + cc.tlv(0x03, bits + b"\x00"))

    rsa_leaf = cc.issue(cc.name("Surgery RSA Leaf"), k["rsa1"], base, ca=False)
    edits = [("extra TBS element", leaf, extra_tbs_element), ("second [3]", leaf, second_extensions),
             ("keyUsage not a BIT STRING of DER", leaf, bad_key_usage), ("malformed subjectAltName", leaf, bad_san),
             ("basicConstraints with a third element", leaf, bc_three), ("subject not UTF-8", leaf, bad_utf8_name),
             ("bytes after the RSAPublicKey", rsa_leaf, spki_trailing)]
    made = [(label, cc.resign(template, k["rsa0"], edit)) for label, template, edit in edits]
    made.append(("signature with unused bits", cc.RawCert(
        _replace_signature_bits(leaf.der), leaf.key, leaf.subject)))
    made.append(("non-minimal length", cc.RawCert(_long_form_outer(leaf.der), leaf.key, leaf.subject)))
    return made


def _replace_signature_bits(der: bytes) -> bytes:
    parts = cc.children(der)
    bits = cc.content_of(parts[2])
    return cc.tlv(0x30, parts[0] + parts[1] + cc.tlv(0x03, b"\x03" + bits[1:]))


def _long_form_outer(der: bytes) -> bytes:
    return cc.ber_long_tlv(0x30, cc.content_of(der), width=3)


def _framings(good_pem: bytes, expired_pem: bytes):
    """PEM files that two readers could read differently (issue 19.2), each refused outright."""
    body = good_pem.split(b"-----\n", 1)[1].rsplit(b"\n-----END", 1)[0]
    relabel = lambda pem, label: pem.replace(b"CERTIFICATE-----", label + b"-----")  # noqa: E731
    middle = body[:40] + b"=" + body[41:]
    return [
        ("X509 CERTIFICATE before CERTIFICATE", relabel(expired_pem, b"X509 CERTIFICATE") + good_pem),
        ("TRUSTED CERTIFICATE before CERTIFICATE", relabel(expired_pem, b"TRUSTED CERTIFICATE") + good_pem),
        ("two CERTIFICATE blocks", expired_pem + good_pem),
        ("padding in the middle", b"-----BEGIN CERTIFICATE-----\n" + middle + b"\n-----END CERTIFICATE-----\n"),
        ("header line in the block", good_pem.replace(b"-----\n", b"-----\nProc-Type: 4,ENCRYPTED\n\n", 1)),
        ("X509 CERTIFICATE alone", relabel(good_pem, b"X509 CERTIFICATE")),
        ("no END line", good_pem.rsplit(b"-----END", 1)[0]),
    ]


def _oracle(cert_pem: bytes, key_pem: bytes, tmp: Path) -> str:
    """"usable", "broken" or "mismatch", from cryptography, openssl and ssl alone."""
    cert_file, key_file = tmp / "oracle-cert.pem", tmp / "oracle-key.pem"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
        for cert in certs:
            cert.subject, cert.issuer, cert.not_valid_after_utc, cert.extensions, cert.public_key()
    except Exception:  # noqa: BLE001 - whatever cryptography refuses
        return "broken"
    found = subprocess.run(["openssl", "storeutl", "-noout", str(cert_file)], capture_output=True, text=True)
    total = [line for line in found.stdout.splitlines() if line.startswith("Total found:")]
    openssl_der = subprocess.run(["openssl", "x509", "-in", str(cert_file), "-outform", "DER"], capture_output=True)
    if len(certs) != 1 or total != ["Total found: 1"] or openssl_der.returncode != 0 \
            or openssl_der.stdout != certs[0].public_bytes(serialization.Encoding.DER):
        return "broken"  # OpenSSL reads something else, or more, than cryptography
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(str(cert_file), str(key_file))
    except ssl.SSLError as exc:
        return "mismatch" if exc.reason == "KEY_VALUES_MISMATCH" else "broken"
    return "usable"


def _expected_check(verdict: str, cert_pem: bytes) -> int:
    if verdict == "broken":
        return 4
    if verdict == "mismatch":
        return 7
    cert = x509.load_pem_x509_certificate(cert_pem)
    now = dt.datetime.now(dt.timezone.utc)
    return 0 if cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > dt.timedelta(minutes=10) else 5


@pytest.fixture(scope="module")
def corpus():
    keys = cc.corpus_keys()
    cases = [(case.name, case.target) for case in cc.build_cases()]
    cases += _surgery_cases(keys)
    good = cc.issue(cc.name("Framing Leaf"), keys["ec1"], None, ca=False)
    expired = cc.issue(cc.name("Framing Old"), keys["ec1"], None, ca=False, not_before=cc.OLD,
                       not_after=cc.NOW - cc.DAY)
    framed = [(label, cc.with_file(good, data)) for label, data in _framings(good.pem, expired.pem)]
    seen, unique = set(), []
    for label, target in cases + framed:
        if target.pem not in seen:
            seen.add(target.pem)
            unique.append((label, target, label in dict(framed)))
    return unique


def _token_env(tmp_path: Path, cert_pem: bytes, key_pem: bytes):
    env = clean_env(tmp_path / "home", X509_USER_CERT=str(tmp_path / "none.pem"))
    tmp = Path(env["TMPDIR"])
    for name, data in ((f"tokencert_{os.getuid()}.pem", cert_pem), (f"tokenkey_{os.getuid()}.pem", key_pem)):
        path = tmp / name
        if path.exists():
            path.chmod(0o600)
        path.write_bytes(data)
        path.chmod(0o400)
    return env


def test_every_reader_of_the_token_says_what_the_libraries_say(tmp_path, corpus):
    """token --check, token-info, whoami and status on each case as the token pair: the verdict equals
    the oracle's (usable with its dates, a key that is not the certificate's, or unusable), and the four
    commands agree."""
    disagreements, counts = [], {"usable": 0, "broken": 0, "mismatch": 0}
    keys = cc.corpus_keys()
    for index, (label, target, framed) in enumerate(corpus):
        other = keys["rsa3"] if cc.key_family(target.key) == "rsa" else keys["ec11"]
        if other is target.key:
            other = keys["rsa2"]
        key_pem = _key_pem(target.key) if index % 5 else _key_pem(other)  # every 5th pair mismatched on purpose
        work = tmp_path / str(index)
        work.mkdir()
        verdict = _oracle(target.pem, key_pem, work)
        if framed:
            # Framings are refused outright: where one reader would take another block (or none), and where
            # both libraries happen to agree today (an old label alone, a truncated block they both skip).
            assert verdict == "broken" or label in ("no END line", "X509 CERTIFICATE alone"), (label, verdict)
            verdict = "broken"
        counts[verdict] += 1
        env = _token_env(work, target.pem, key_pem)
        expected = _expected_check(verdict, target.pem)
        check = run_in_process(["token", "--check"], env).returncode
        info = run_in_process(["token-info"], env).returncode
        who = run_in_process(["whoami"], env)
        who_broken = who.returncode == 4 and "which is not one JCentral gives" not in who.stderr
        status = json.loads(run_in_process(["status", "--json"], env).stdout)
        status_broken = status["token_cert"]["error"] is not None or status["token_key"]["error"] is not None
        got = (check, info == 4, who_broken, status_broken, status["token_key"]["matches"])
        want = (expected, verdict == "broken", verdict == "broken", verdict == "broken",
                None if verdict == "broken" else verdict == "usable")
        if got != want:
            disagreements.append((label, verdict, got, want))
    assert disagreements == []
    assert min(counts.values()) >= 20, counts  # the corpus exercises every verdict


def test_every_reader_of_the_user_certificate_says_what_the_libraries_say(tmp_path, corpus):
    """status's verdict on the user certificate is cryptography's and OpenSSL's: a certificate that
    token-init would refuse as corrupt is never "valid" in status."""
    wrong = []
    for index, (label, target, framed) in enumerate(corpus):
        work = tmp_path / str(index)
        work.mkdir()
        (work / "usercert.pem").write_bytes(target.pem)
        env = clean_env(work / "home", X509_USER_CERT=str(work / "usercert.pem"))
        status = json.loads(run_in_process(["status", "--json"], env).stdout)
        try:
            cert = x509.load_pem_x509_certificate(target.pem)
            cert.subject, cert.issuer, cert.extensions, cert.public_key()
            openssl = subprocess.run(["openssl", "x509", "-in", str(work / "usercert.pem"), "-outform", "DER"],
                                     capture_output=True)
            readable = openssl.returncode == 0 and openssl.stdout == cert.public_bytes(serialization.Encoding.DER)
        except Exception:  # noqa: BLE001
            readable = False
        # A user certificate file may carry its chain after it (CERTIFICATE blocks only); the other
        # framings are refused as for a token.
        readable = readable and not (framed and label != "two CERTIFICATE blocks")
        if (status["user_cert"]["certificate"] is not None) != readable:
            wrong.append((label, readable, status["user_cert"]["error"]))
    assert wrong == []


def test_an_x509_certificate_block_never_hides_an_expired_token(tmp_path, corpus):
    """The case of the issue: an expired token in an X509 CERTIFICATE block before a valid CERTIFICATE
    block.  openssl reads the expired one; jenv refuses the file (exit 4, one line saying what it holds)
    and never exports it."""
    label, target, _framed = next(item for item in corpus if item[0] == "X509 CERTIFICATE before CERTIFICATE")
    env = _token_env(tmp_path, target.pem, _key_pem(target.key))
    seen = subprocess.run(["openssl", "x509", "-noout", "-checkend", "0", "-in",
                           str(Path(env["TMPDIR"]) / f"tokencert_{os.getuid()}.pem")], capture_output=True, text=True)
    assert seen.returncode == 1 and "will expire" in seen.stdout  # openssl reads the expired one
    res = run_in_process(["token", "--check"], env)
    assert res.returncode == 4
    for argv in (["token-info"], ["whoami"], ["alien-token-info"]):
        res = run_in_process(argv, env)
        assert res.returncode in (2, 4) and res.stdout == "" and "PEM blocks" in res.stderr, (argv, res.stderr)
    assert run_in_process(["prompt"], env).stdout == "token?"


def test_base64_and_framing_oracles_are_not_blind(tmp_path):
    """The negative twin of the oracle: a plain single block is usable for every reader."""
    keys = cc.corpus_keys()
    good = cc.issue(cc.name("Plain Leaf"), keys["ec2"], None, ca=False)
    assert _oracle(good.pem, _key_pem(good.key), tmp_path) == "usable"
    assert _oracle(good.pem, _key_pem(keys["ec3"]), tmp_path) == "mismatch"
    assert _oracle(good.pem + good.pem, _key_pem(good.key), tmp_path) == "broken"
    assert base64.b64decode(good.pem.split(b"-----\n")[1].split(b"\n-----")[0])  # the armour is real base64
