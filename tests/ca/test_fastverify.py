"""The cryptography-free fast path of cert-verify: it decides only good chains, exactly as the full path.

Differential: on every chain of the openssl corpus (tests/ca/ca_corpus.py)
and on generated extras, whenever :func:`jenv.fastverify.verify_fast`
answers, the case is a good chain, ``openssl verify`` accepts it and the
full path (:func:`jenv.cachain.verify_certificate`) returns the very same
verdict; it must answer for the plain RSA good chains; and no single-byte
change of a good certificate gets an answer the full path does not give.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ca_corpus import DAY, NOW, Cert, issue, make_keys, name, subject_hash_openssl, write_store
from jenvtest import clean_env
from jenv import der
from jenv.authority import subject_hash
from jenv.cachain import verify_certificate
from jenv.castore import name_key
from jenv.cli import main
from jenv.fastverify import rsa_signature_ok, verify_fast
from jenv.locations import CAStore
from jenv.pem import grid_dn
from jenv.rawcert import name_hash, name_key as raw_name_key, name_text, parse_cert_der
from test_verify_differential import CASES, openssl_verdict

KEYS = make_keys()
REPO = Path(__file__).resolve().parents[2]
SHA = {"sha1": None, "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


def _stores(work: Path, cas) -> List[CAStore]:
    """The directory store, and the bundle when there is a CA (an empty bundle is an error of its own)."""
    store, bundle = write_store(work, cas)
    stores = [CAStore(str(store), "dir", "env X509_CERT_DIR", True)]
    return stores + [CAStore(str(bundle), "file", "env X509_CERT_FILE", True)] if cas else stores


def _both(target: Cert, store: CAStore):
    """(fast verdict or None, full verdict) at the same moment."""
    now = dt.datetime.now(dt.timezone.utc)
    fast = verify_fast(target.pem, store, now.timestamp())
    return fast, verify_certificate(target.cert, store, now)


def _sha1_resigned(cert: Cert, issuer: Cert) -> Cert:
    """``cert`` signed again with sha1WithRSAEncryption (cryptography 50 no longer signs with SHA-1)."""
    sha256_alg, sha1_alg = bytes.fromhex("2a864886f70d01010b"), bytes.fromhex("2a864886f70d010105")
    data = cert.cert.public_bytes(serialization.Encoding.DER).replace(sha256_alg, sha1_alg)
    tbs = x509.load_der_x509_certificate(data).tbs_certificate_bytes
    signature = issuer.key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    assert data.count(cert.cert.signature) == 1 and len(signature) == len(cert.cert.signature)
    return Cert(x509.load_der_x509_certificate(data.replace(cert.cert.signature, signature)), cert.key)


def _reissue(cert: Cert, issuer: Cert, algorithm=hashes.SHA256(), extra=(), subject=None) -> Cert:
    """``cert`` again (same key, name, CA flags), signed by ``issuer`` with ``algorithm`` and extra extensions."""
    builder = (x509.CertificateBuilder().subject_name(subject or cert.cert.subject)
               .issuer_name(issuer.cert.subject).public_key(cert.key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - DAY).not_valid_after(NOW + 90 * DAY))
    for ext in cert.cert.extensions:
        if ext.oid != x509.AuthorityKeyIdentifier.oid:
            builder = builder.add_extension(ext.value, ext.critical)
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False)
    for value, critical in extra:
        builder = builder.add_extension(value, critical)
    if algorithm is None:
        return _sha1_resigned(Cert(builder.sign(issuer.key, hashes.SHA256()), cert.key), issuer)
    return Cert(builder.sign(issuer.key, algorithm), cert.key)


# --- the corpus: answers only for good chains, identical to the full path ---------------

#: Plain RSA-signed good chains the fast path must decide itself (in the directory store).
MUST_ANSWER = {"root itself", "leaf from root", "leaf from intermediate", "expired root, renewed with the same key",
               "same-subject CAs, issued by the first", "same-subject CAs, issued by the second",
               "issuer name in another string type and case"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_fast_answers_only_good_chains(case, tmp_path: Path) -> None:
    cert_path = tmp_path / "usercert.pem"
    cert_path.write_bytes(case.target.pem)
    for store in _stores(tmp_path, case.store):
        fast, full = _both(case.target, store)
        if fast is not None:
            assert case.expect == "ok" and full == fast and fast.ok
            option = "-CApath" if store.kind == "dir" else "-CAfile"
            assert openssl_verdict(cert_path, option, Path(store.path)) == ("ok", 0)
        elif store.kind == "dir":
            assert case.name not in MUST_ANSWER, f"fast path fell back on {case.name}"
    assert MUST_ANSWER <= {c.name for c in CASES}


# --- generated extras ------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki():
    root = issue(name("Fast Root"), KEYS["rsa0"])
    inter = issue(name("Fast Inter"), KEYS["rsa1"], root)
    return root, inter


@pytest.mark.parametrize("algorithm", sorted(SHA))
@pytest.mark.parametrize("depth", [1, 2])
def test_answers_for_rsa_chains_of_every_hash(pki, algorithm: str, depth: int, tmp_path: Path) -> None:
    root, inter = pki
    parent = inter if depth == 2 else root
    leaf = _reissue(issue(name(f"User {algorithm}"), KEYS["ec0"], parent, ca=False), parent, SHA[algorithm])
    cert_path = tmp_path / "usercert.pem"
    cert_path.write_bytes(leaf.pem)
    for store in _stores(tmp_path, [root, inter]):
        fast, full = _both(leaf, store)
        assert fast is not None and fast == full and len(fast.chain) == depth + 1
    assert openssl_verdict(cert_path, "-CApath", tmp_path / "certificates") == ("ok", 0)


def test_answers_for_a_real_grid_shaped_leaf(pki, tmp_path: Path) -> None:
    """Key usage, EKU, e-mail SAN, CRL distribution point, AIA, policies: what grid CAs issue."""
    root, inter = pki
    uri = x509.UniformResourceIdentifier
    extra = [(x509.KeyUsage(True, True, True, False, False, False, False, False, False), True),
             (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]), False),
             (x509.SubjectAlternativeName([x509.RFC822Name("jane.doe@cern.ch")]), False),
             (x509.CRLDistributionPoints([x509.DistributionPoint([uri("http://crl.example.org/ca.crl")],
                                                                 None, None, None)]), False),
             (x509.AuthorityInformationAccess([x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP,
                                                                      uri("http://ocsp.example.org"))]), False),
             (x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier("1.2.840.113612.5.2.2.1"),
                                                               ["https://ca.example.org/cps"])]), False)]
    subject = x509.Name([x509.NameAttribute(oid, value) for oid, value in (
        (NameOID.DOMAIN_COMPONENT, "ch"), (NameOID.DOMAIN_COMPONENT, "cern"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Users"), (NameOID.COMMON_NAME, "jdoe"), (NameOID.COMMON_NAME, "Jane Doe"))])
    leaf = _reissue(issue(name("x"), KEYS["rsa2"], inter, ca=False), inter, extra=extra, subject=subject)
    fast, full = _both(leaf, _stores(tmp_path, [root, inter])[0])
    assert fast is not None and fast == full
    assert fast.chain[0] == "/DC=ch/DC=cern/OU=Users/CN=jdoe/CN=Jane Doe"


def _bad_extras(root: Cert, inter: Cert):
    """(what, certificate, store): chains the fast path must leave to the full path."""
    leaf = issue(name("Bad User"), KEYS["ec0"], inter, ca=False)
    unknown = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    sha = SHA["sha256"]
    return [
        ("forged signature", issue(name("Forged"), KEYS["ec0"], inter, ca=False, signer_key=KEYS["rsa3"]),
         [root, inter]),
        ("wrong issuer key", issue(name("Wrong"), KEYS["ec0"], inter, ca=False, signer_key=KEYS["rsa0"]),
         [root, inter]),
        ("expired leaf", issue(name("Old"), KEYS["ec0"], inter, ca=False, not_before=NOW - 9 * DAY,
                               not_after=NOW - DAY), [root, inter]),
        ("not yet valid leaf", issue(name("New"), KEYS["ec0"], inter, ca=False, not_before=NOW + DAY), [root, inter]),
        ("expired intermediate", leaf, [root, issue(name("Fast Inter"), KEYS["rsa1"], root, not_before=NOW - 9 * DAY,
                                                    not_after=NOW - DAY)]),
        ("expired root", leaf, [issue(name("Fast Root"), KEYS["rsa0"], not_before=NOW - 9 * DAY, not_after=NOW - DAY),
                                inter]),
        ("issuer not a CA", leaf, [root, issue(name("Fast Inter"), KEYS["rsa1"], root, ca=False)]),
        ("issuer lacks keyCertSign", leaf, [root, issue(name("Fast Inter"), KEYS["rsa1"], root, key_cert_sign=False)]),
        ("issuer without basicConstraints", leaf, [root, issue(name("Fast Inter"), KEYS["rsa1"], root, bc=False)]),
        ("path length exceeded", leaf, [issue(name("Fast Root"), KEYS["rsa0"], path_length=0), inter]),
        ("unknown critical extension", _reissue(leaf, inter, sha, [(unknown, True)]), [root, inter]),
        ("intermediate missing", leaf, [root]),
        ("RSA-PSS", issue(name("Pss"), KEYS["ec0"], inter, ca=False, pss=True), [root, inter]),
    ]


def test_leaves_every_bad_chain_to_the_full_path(pki, tmp_path: Path) -> None:
    root, inter = pki
    for index, (what, target, cas) in enumerate(_bad_extras(root, inter)):
        for store in _stores(tmp_path / str(index), cas):
            fast, full = _both(target, store)
            assert fast is None, what
            # The last three are good for the full path (keyUsage alone makes a CA for OpenSSL too);
            # the fast path leaves them to it all the same.
            if what not in ("issuer without basicConstraints", "unknown critical extension", "RSA-PSS"):
                assert not full.ok, what  # the case really is bad (the full path says why)


def test_rsa_check_compares_the_whole_block(pki) -> None:
    """Only the exact EMSA-PKCS1-v1_5 block verifies: not type 2, no garbage, no missing NULL."""
    key = KEYS["rsa1"]
    numbers = key.private_numbers()
    n, d, e = numbers.public_numbers.n, numbers.d, numbers.public_numbers.e
    signed = b"to be signed"
    sig_alg = bytes.fromhex("300d06092a864886f70d01010b0500")
    digest = __import__("hashlib").sha256(signed).digest()
    info = bytes.fromhex("3031300d060960864801650304020105000420") + digest

    def sign_block(block: bytes) -> bytes:
        return pow(int.from_bytes(block, "big"), d, n).to_bytes(256, "big")

    good = b"\x00\x01" + b"\xff" * (256 - 3 - len(info)) + b"\x00" + info
    assert rsa_signature_ok((n, e), sig_alg, sign_block(good), signed)
    no_null = bytes.fromhex("302f300b0609608648016503040201" "0420") + digest
    bad_blocks = [
        b"\x00\x02" + good[2:],  # encryption padding
        good[:-1] + bytes([good[-1] ^ 1]),  # another digest
        b"\x00\x01" + b"\xff" * (256 - 4 - len(info)) + b"\x00" + info + b"\x00",  # trailing byte
        b"\x00\x01" + b"\xff" * (256 - 4 - len(info)) + b"\x00\x00" + info,  # DigestInfo shifted
        b"\x00\x01" + b"\xff" * (256 - 3 - len(no_null)) + b"\x00" + no_null,  # parameters left out
        b"\x00\x01" + b"\xfe" + good[3:],  # a padding byte not FF
    ]
    for block in bad_blocks:
        assert len(block) == 256
        assert not rsa_signature_ok((n, e), sig_alg, sign_block(block), signed)
    pss = bytes.fromhex("300d06092a864886f70d01010a0500")
    assert not rsa_signature_ok((n, e), pss, sign_block(good), signed)
    assert not rsa_signature_ok((n, e), sig_alg, sign_block(good)[1:], signed)  # short signature


# --- names: grid DN text, OpenSSL subject hash, comparison -------------------------------

_P, _U, _I = _ASN1Type.PrintableString, _ASN1Type.UTF8String, _ASN1Type.IA5String
NAMES = [
    [("C", "CH", _P), ("O", "CERN", _P), ("CN", "Bench Root CA", _P)],
    [("C", "ch", _U), ("O", "  cern  ", _U), ("CN", "Bench   Root\tCA", _U)],
    [("DC", "ch", _I), ("DC", "cern", _I), ("OU", "Organic Units", _P), ("OU", "Users", _P), ("CN", "jdoe", _U)],
    [("C", "de", _P), ("O", "GermanGrid", _P), ("OU", "DESY", _P), ("CN", "Jürgen Müller", _U)],
    [("CN", "ÉCOLE Polytechnique ÅÄÖ", _U), ("emailAddress", "Jane.Doe@Example.ORG", _I)],
    [("CN", "日本語 CA", _U), ("O", "Grid ", _U)],
    [("O", "MiXeD CaSe", _P), ("CN", "a b\u00a0c", _U)],
    [("UID", "jdoe", _U), ("serialNumber", "12345", _P), ("title", "Dr", _P), ("L", "Genève", _U), ("ST", "GE", _P)],
]
_OIDS = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
         "CN": NameOID.COMMON_NAME, "DC": NameOID.DOMAIN_COMPONENT, "emailAddress": NameOID.EMAIL_ADDRESS,
         "UID": NameOID.USER_ID, "serialNumber": NameOID.SERIAL_NUMBER, "title": NameOID.TITLE,
         "L": NameOID.LOCALITY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME}


def _x509_names() -> List[x509.Name]:
    names = [x509.Name([x509.NameAttribute(_OIDS[k], v, _type=t) for k, v, t in spec]) for spec in NAMES]
    multi = x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "jdoe"),
                                            x509.NameAttribute(NameOID.USER_ID, "12 34"),
                                            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Users")])
    names.append(x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "ch")]), multi]))
    return names


def test_names_hash_render_and_compare_like_openssl_and_cryptography(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    parsed = []
    for index, subject in enumerate(_x509_names()):
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(index + 1).not_valid_before(NOW - DAY).not_valid_after(NOW + DAY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), True).sign(key, hashes.SHA256()))
        path = tmp_path / f"n{index}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        raw = parse_cert_der(cert.public_bytes(serialization.Encoding.DER))
        assert name_hash(raw.subject) == subject_hash_openssl(path) == subject_hash(cert.subject), grid_dn(subject)
        assert name_text(raw.subject) == grid_dn(cert.subject)
        parsed.append((raw.subject, cert.subject))
    for raw_a, name_a in parsed:  # equal exactly when castore.name_key says so
        for raw_b, name_b in parsed:
            assert (raw_name_key(raw_a) == raw_name_key(raw_b)) == (name_key(name_a) == name_key(name_b))
    assert raw_name_key(parsed[0][0]) == raw_name_key(parsed[1][0])  # the spacing/case/type twins


def test_der_reader_is_strict() -> None:
    assert der.elements(bytes.fromhex("0403414243")) == [(4, b"ABC", bytes.fromhex("0403414243"))]
    for bad in ("048103414243", "04820003414243", "0404414243", "1f0100", "0480414243"):
        with pytest.raises(der.DerError):
            der.elements(bytes.fromhex(bad))
    with pytest.raises(der.DerError):
        der.oid_text(bytes.fromhex("2a8001"))  # non-minimal arc


# --- the command: same output, no cryptography import --------------------------------

def _run_main(args, env, monkeypatch, fast: bool):
    if not fast:
        monkeypatch.setattr("jenv.fastverify.verify_fast", lambda *a: None)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args, env)
    monkeypatch.undo()
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["cert-verify", "token-verify"])
@pytest.mark.parametrize("as_json", [False, True])
def test_fast_output_is_the_full_output(pki, command: str, as_json: bool, tmp_path: Path, monkeypatch) -> None:
    root, inter = pki
    leaf = issue(name("Out User"), KEYS["ec0"], inter, ca=False)
    store, _ = write_store(tmp_path, [root, inter])
    (tmp_path / "usercert.pem").write_bytes(leaf.pem)
    var = {"X509_USER_CERT": str(tmp_path / "usercert.pem")} if command == "cert-verify" else \
        {"JALIEN_TOKEN_CERT": leaf.pem.decode()}
    env = clean_env(tmp_path / "home", X509_CERT_DIR=str(store), **var)
    args = [command] + (["--json"] if as_json else [])
    calls = []
    monkeypatch.setattr("jenv.cachain.verify_certificate", lambda *a: calls.append(a))  # must not be reached
    fast = _run_main(args, env, monkeypatch, fast=True)
    assert calls == [] and fast[0] == 0
    assert fast == _run_main(args, env, monkeypatch, fast=False)
    assert "/C=ch/O=jenv-diff/CN=Fast Root" in fast[1]


def _loaded_modules(env) -> List[str]:
    """Modules a real cert-verify process loads: its -X importtime report plus sys.modules at exit.

    (importtime does not report modules loaded through importlib, as cli.py loads command modules.)
    """
    code = ("import sys, runpy; sys.argv = ['jenv', 'cert-verify']\n"
            "try:\n    runpy.run_module('jenv', run_name='__main__')\n"
            "finally:\n    print('MODULES', *sorted(sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True,
                          text=True, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    timed = [line.split("|")[-1].strip() for line in lines if line.startswith("import time:")]
    return timed + [name for line in lines if line.startswith("MODULES ") for name in line.split()[1:]]


def test_good_rsa_chain_imports_no_cryptography(pki, tmp_path: Path) -> None:
    root, inter = pki
    store, _ = write_store(tmp_path, [root, inter])
    for label, target in (("rsa", issue(name("Imp User"), KEYS["ec0"], inter, ca=False)),
                          ("pss", issue(name("Pss User"), KEYS["ec0"], inter, ca=False, pss=True))):
        (tmp_path / f"{label}.pem").write_bytes(target.pem)
        env = clean_env(tmp_path / "home", X509_USER_CERT=str(tmp_path / f"{label}.pem"), X509_CERT_DIR=str(store),
                        PYTHONPATH=str(REPO))
        loaded = _loaded_modules(env)
        assert "jenv.commands.verify" in loaded and "jenv.fastverify" in loaded  # the probe sees modules
        crypto = [m for m in loaded if m.split(".")[0] == "cryptography"]
        if label == "rsa":
            assert crypto == [] and "jenv.pem" not in loaded and "jenv.cachain" not in loaded
        else:  # PSS falls back, and then cryptography is loaded: the probe can tell
            assert crypto and "jenv.cachain" in loaded


# --- one changed byte never gets an answer the full path does not give -------------------

@pytest.fixture(scope="module")
def mutation_setup(pki, tmp_path_factory):
    root, inter = pki
    leaf = _reissue(issue(name("Mutant"), KEYS["rsa2"], inter, ca=False), inter,
                    extra=[(x509.SubjectAlternativeName([x509.RFC822Name("m@example.org")]), False)])
    work = tmp_path_factory.mktemp("mutation")
    stores = _stores(work, [root, inter])
    now = time.time()
    assert verify_fast(leaf.pem, stores[0], now) is not None  # unchanged, it is answered
    return leaf.cert.public_bytes(serialization.Encoding.DER), stores


def _full_verdict(pem: bytes, store: CAStore):
    try:
        cert = x509.load_pem_x509_certificate(pem)
        return verify_certificate(cert, store, dt.datetime.now(dt.timezone.utc))
    except ValueError:
        return None  # the full path reports a corrupt certificate


def _pem(der_bytes: bytes) -> bytes:
    import base64
    body = base64.encodebytes(der_bytes).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255), in_pem=st.booleans())
def test_one_changed_byte_is_never_ok_unless_the_full_path_agrees(mutation_setup, position, value, in_pem) -> None:
    der_bytes, stores = mutation_setup
    data = bytearray(_pem(der_bytes) if in_pem else der_bytes)
    position %= len(data)
    if data[position] == value:
        value ^= 0xFF
    data[position] = value
    pem = bytes(data) if in_pem else _pem(bytes(data))
    for store in stores:
        fast = verify_fast(pem, store, time.time())
        if fast is not None:
            full = _full_verdict(pem, store)
            assert full is not None and full.ok and full == fast, (position, value, in_pem)


def test_pem_framing_variants(mutation_setup) -> None:
    """Text around the block is fine (as for cryptography); a second block or odd base64 falls back."""
    der_bytes, stores = mutation_setup
    pem = _pem(der_bytes)
    now = time.time()
    assert verify_fast(b"Bag Attributes\n  localKeyID: 01\nsubject=/CN=x\n" + pem, stores[0], now) is not None
    assert verify_fast(pem.replace(b"\n", b"\r\n"), stores[0], now) is not None
    assert verify_fast(pem + pem, stores[0], now) is None
    assert verify_fast(pem + b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", stores[0], now) is None
    assert verify_fast(re.sub(rb"(-----\n)(.)", rb"\1=\2", pem, count=1), stores[0], now) is None


def test_every_value_of_every_byte_outside_the_signed_part(mutation_setup) -> None:
    """The bytes the signature does not cover (outer header, algorithm, BIT STRING header): all 256 values."""
    der_bytes, stores = mutation_setup
    tbs_end = 4 + int.from_bytes(der_bytes[6:8], "big") + 4  # 30 82 LL LL | 30 82 LL LL tbs
    assert der_bytes[:2] == der_bytes[4:6] == b"\x30\x82"
    positions = list(range(8)) + list(range(tbs_end, tbs_end + 20))
    answered = 0
    for position in positions:
        for value in range(256):
            data = bytearray(der_bytes)
            data[position] = value
            pem = _pem(bytes(data))
            fast = verify_fast(pem, stores[0], time.time())
            if fast is not None:
                answered += 1
                full = _full_verdict(pem, stores[0])
                assert full is not None and full.ok and full == fast, (position, value)
    assert answered == len(positions)  # only the unchanged byte values
