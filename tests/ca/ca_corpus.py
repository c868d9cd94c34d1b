"""Generated certificate chains, good and bad, for the openssl differential test.

Keys are made once per session and shared between certificates wherever a
case allows it, so the whole corpus costs a few RSA key generations.  Each
case is a certificate to verify, the CA certificates of the store (in
``<hash>.N`` order), and the reason jenv and ``openssl verify`` must agree on.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


@functools.lru_cache(maxsize=None)
def make_keys() -> Dict[str, object]:
    """The session's keys (made once, shared by every test module): four RSA, four EC."""
    keys: Dict[str, object] = {}
    for index in range(4):
        keys[f"rsa{index}"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        keys[f"ec{index}"] = ec.generate_private_key(ec.SECP256R1())
    return keys


def name(cn: str, org: str = "jenv-diff", string_type: Optional[_ASN1Type] = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "ch"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    common = x509.NameAttribute(NameOID.COMMON_NAME, cn) if string_type is None else \
        x509.NameAttribute(NameOID.COMMON_NAME, cn, _type=string_type)
    return x509.Name(attrs + [common])


@dataclass
class Cert:
    """A certificate with the key it certifies (so it can sign others)."""

    cert: x509.Certificate
    key: object

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def issue(subject: x509.Name, key, issuer: Optional[Cert] = None, *, ca: bool = True,
          not_before: dt.datetime = NOW - 30 * DAY, not_after: dt.datetime = NOW + 365 * DAY,
          signer_key=None, issuer_name: Optional[x509.Name] = None, akid: bool = True,
          path_length: Optional[int] = None, key_cert_sign: bool = True, bc: bool = True, pss: bool = False,
          unknown_critical: bool = False) -> Cert:
    """Build a certificate; ``signer_key`` signs with another key than the issuer's (a forgery)."""
    parent_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_name or (issuer.cert.subject if issuer else subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
    if bc:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), True)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=True, encipher_only=False,
            decipher_only=False), True)
    if akid and issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent_key.public_key()), False)
    if unknown_critical:  # an extension no verifier knows, marked critical: must be refused
        builder = builder.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"), critical=True)
    signer = signer_key or parent_key
    if pss:
        return Cert(builder.sign(signer, hashes.SHA256(), rsa_padding=padding.PSS(
            mgf=padding.MGF1(hashes.SHA256()), salt_length=32)), key)
    return Cert(builder.sign(signer, hashes.SHA256()), key)


@dataclass
class Case:
    name: str
    target: Cert
    store: Sequence[Cert]
    expect: str  # jenv's reason value
    depth: int = 0
    bundle_too: bool = True  # also compare with -CAfile / X509_CERT_FILE
    notes: str = field(default="")


def build_cases(k: Dict[str, object]) -> List[Case]:
    """The corpus: >= 20 chains, each a case both verifiers must judge alike."""
    root = issue(name("Diff Root"), k["rsa0"])
    inter = issue(name("Diff Inter"), k["rsa1"], root)
    leaf = issue(name("Jane Doe"), k["ec0"], inter, ca=False)
    direct = issue(name("John Roe"), k["ec1"], root, ca=False)
    ec_root = issue(name("Diff EC Root"), k["ec2"])
    ec_inter = issue(name("Diff EC Inter"), k["ec3"], ec_root)
    old = NOW - 400 * DAY
    expired_root = issue(name("Diff Old Root"), k["rsa2"], not_before=old, not_after=NOW - DAY)
    expired_inter = issue(name("Diff Old Inter"), k["rsa1"], root, not_before=old, not_after=NOW - DAY)
    future_inter = issue(name("Diff Future Inter"), k["rsa1"], root, not_before=NOW + DAY)
    twin_a = issue(name("Diff Twin Root"), k["rsa2"])
    twin_b = issue(name("Diff Twin Root"), k["rsa3"])
    stranger = issue(name("Diff Stranger Root"), k["rsa3"])
    not_ca = issue(name("Diff Not A CA"), k["ec1"], root, ca=False)
    no_sign = issue(name("Diff No CertSign"), k["ec1"], root, key_cert_sign=False)
    tight_root = issue(name("Diff Tight Root"), k["rsa2"], path_length=0)
    tight_inter = issue(name("Diff Tight Inter"), k["ec2"], tight_root)
    printable_root = issue(name("Diff Printable Root", string_type=_ASN1Type.PrintableString), k["rsa3"])
    renewed_root = issue(name("Diff Old Root"), k["rsa2"])  # same name and key as expired_root, valid
    impostor = issue(name("Diff Inter"), k["rsa3"], root)  # same name as inter, another key, not in the store
    forged_inter = issue(name("Diff Inter"), k["rsa1"], root, signer_key=k["rsa3"])
    strict_inter = issue(name("Diff Strict Inter"), k["rsa1"], root, unknown_critical=True)
    return [
        Case("root itself", root, [root], "ok"),
        Case("leaf from root", direct, [root], "ok"),
        Case("leaf from intermediate", leaf, [root, inter], "ok"),
        Case("EC chain", issue(name("Ec User"), k["ec0"], ec_inter, ca=False), [ec_root, ec_inter], "ok"),
        Case("RSA leaf under EC CA", issue(name("Rsa User"), k["rsa3"], ec_inter, ca=False),
             [ec_root, ec_inter], "ok"),
        Case("RSA-PSS signature", issue(name("Pss User"), k["ec0"], root, ca=False, pss=True), [root], "ok"),
        Case("intermediate missing from store", leaf, [root], "unknown issuer"),
        Case("root missing from store", leaf, [inter], "unknown issuer", 1),
        Case("unknown issuer", issue(name("Lost"), k["ec0"], stranger, ca=False), [root, inter], "unknown issuer"),
        Case("self-signed, not in store", issue(name("Selfie"), k["ec1"]), [root], "unknown issuer"),
        Case("empty store", direct, [], "unknown issuer"),
        Case("expired leaf", issue(name("Late"), k["ec0"], inter, ca=False, not_before=old, not_after=NOW - DAY),
             [root, inter], "expired"),
        Case("not yet valid leaf", issue(name("Early"), k["ec0"], inter, ca=False, not_before=NOW + DAY),
             [root, inter], "not yet valid"),
        Case("expired intermediate", issue(name("Under Old"), k["ec0"], expired_inter, ca=False),
             [root, expired_inter], "expired CA", 1),
        Case("not yet valid intermediate", issue(name("Under New"), k["ec0"], future_inter, ca=False),
             [root, future_inter], "CA not yet valid", 1),
        Case("expired root", issue(name("Under Old Root"), k["ec0"], expired_root, ca=False),
             [expired_root], "expired CA", 1),
        Case("expired root and forged leaf: root reported first",
             issue(name("Under Old Root"), k["ec0"], expired_root, ca=False, signer_key=k["rsa3"]),
             [expired_root], "expired CA", 1),
        Case("expired root, renewed with the same key", issue(name("Renewed"), k["ec0"], expired_root, ca=False),
             [expired_root, renewed_root], "ok"),
        Case("bad signature, right issuer name and key id",
             issue(name("Forged"), k["ec0"], inter, ca=False, signer_key=k["rsa3"]), [root, inter], "bad signature"),
        Case("bad signature, no key id",
             issue(name("Forged"), k["ec0"], inter, ca=False, signer_key=k["rsa3"], akid=False),
             [root, inter], "bad signature"),
        Case("forged intermediate", issue(name("Under Forged"), k["ec0"], forged_inter, ca=False),
             [root, forged_inter], "bad signature", 1),
        Case("issuer name known, key id names another key", issue(name("Wrong Kid"), k["ec0"], impostor, ca=False),
             [root, inter], "unknown issuer"),
        Case("same-subject CAs, issued by the first", issue(name("Twin A"), k["ec0"], twin_a, ca=False),
             [twin_a, twin_b], "ok"),
        Case("same-subject CAs, issued by the second", issue(name("Twin B"), k["ec0"], twin_b, ca=False),
             [twin_a, twin_b], "ok"),
        Case("same-subject CAs, no key id, second signs", issue(name("Twin C"), k["ec0"], twin_b, ca=False,
                                                                akid=False), [twin_a, twin_b], "bad signature",
             bundle_too=False, notes="OpenSSL tries .0 first; bundle order is not defined"),
        Case("issuer is not a CA", issue(name("Under Leaf"), k["ec0"], not_ca, ca=False),
             [root, not_ca], "invalid CA", 1),
        Case("issuer lacks keyCertSign", issue(name("Under NoSign"), k["ec0"], no_sign, ca=False),
             [root, no_sign], "invalid CA", 1),
        Case("path length exceeded", issue(name("Too Deep"), k["ec0"], tight_inter, ca=False),
             [tight_root, tight_inter], "path length exceeded", 2),
        Case("unknown critical extension in the certificate",
             issue(name("Critical User"), k["ec0"], inter, ca=False, unknown_critical=True), [root, inter],
             "unhandled critical extension"),
        Case("unknown critical extension in an intermediate", issue(name("Under Strict"), k["ec0"], strict_inter,
                                                                   ca=False), [root, strict_inter],
             "unhandled critical extension", 1),
        Case("issuer name in another string type and case",
             issue(name("Case User"), k["ec0"], printable_root, ca=False,
                   issuer_name=name("diff   PRINTABLE root")), [printable_root], "ok"),
    ]


def subject_hash_openssl(pem_path: Path) -> str:
    return subprocess.run(["openssl", "x509", "-noout", "-subject_hash", "-in", str(pem_path)],
                          capture_output=True, text=True, check=True).stdout.strip()


def write_store(directory: Path, certs: Sequence[Cert]) -> Tuple[Path, Path]:
    """A CA directory (``caN.pem`` plus ``<hash>.N`` links, in list order) and a bundle beside it."""
    store = directory / "certificates"
    store.mkdir(parents=True)
    for index, item in enumerate(certs):
        pem = store / f"ca{index}.pem"
        pem.write_bytes(item.pem)
        digest = subject_hash_openssl(pem)
        n = 0
        while (store / f"{digest}.{n}").exists():
            n += 1
        os.symlink(pem.name, store / f"{digest}.{n}")
    bundle = directory / "bundle.pem"
    bundle.write_bytes(b"".join(item.pem for item in certs))
    return store, bundle
