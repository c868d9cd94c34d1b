"""jenv cert-import: the CA's .p12 becomes ~/.globus/usercert.pem (0644) and userkey.pem (0400, encrypted).

The bundles are made by ``openssl pkcs12 -export`` as a CA or browser makes them: legacy
(``-legacy``: RC2-40 and 3DES, what OpenSSL 3 reads only with -legacy), OpenSSL 3's default (AES-256,
PBKDF2) and explicit ``-certpbe AES-256-CBC -keypbe AES-256-CBC``.  The passwords are typed on a
pseudo-terminal (run_on_pty: cert-import reads /dev/tty, so it runs as a process), and ``openssl``
is the oracle for what was written.
"""

from __future__ import annotations

import os
import stat
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from support.offline_helpers import clean_env, run_detached, run_in_process
from support.launcher import run_on_pty
from support.pki import Leaf, TestCA

pytestmark = pytest.mark.slow

PASSWORD = b"p12 secret"
NEW = b"new key passphrase"
KINDS = {"legacy": ["-legacy"], "default": [], "aes": ["-certpbe", "AES-256-CBC", "-keypbe", "AES-256-CBC"]}


def export_p12(leaf: Leaf, out: Path, extra=(), password: bytes = PASSWORD) -> Path:
    """A .p12 made by openssl pkcs12 -export from the leaf's PEM files."""
    cert, key = leaf.write(out.parent / (out.stem + "-pem"))
    subprocess.run(["openssl", "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-out", str(out),
                    "-passout", "pass:" + password.decode(), *extra], check=True, capture_output=True)
    return out


def cert_import(env, *args: str, answers=(PASSWORD, NEW, NEW)):
    """cert-import on a pseudo-terminal; every prompt ends in ': ', and the next answer is typed there."""
    return run_on_pty([sys.executable, "-m", "jenv", "cert-import", *args], env, list(answers), prompt=b": ",
                      capture=True, timeout=60)


DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe"


@pytest.fixture(scope="module")
def leaf(root_ca: TestCA) -> Leaf:
    return root_ca.issue(DN)


@pytest.fixture
def env(tmp_path):
    return clean_env(tmp_path / "home")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _openssl_key_modulus(path: Path, passphrase: bytes = None) -> str:
    args = ["openssl", "rsa", "-in", str(path), "-noout", "-modulus"]
    args += ["-passin", "pass:" + passphrase.decode()] if passphrase else ["-passin", "pass:"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_of_p12_becomes_the_two_pem_files(kind, leaf, env, tmp_path):
    p12 = export_p12(leaf, tmp_path / f"myCertificate-{kind}.p12", KINDS[kind])
    run = cert_import(env, str(p12))
    assert run.returncode == 0, run.stderr
    globus = Path(env["HOME"]) / ".globus"
    cert, key = globus / "usercert.pem", globus / "userkey.pem"
    assert _mode(cert) == 0o644 and _mode(key) == 0o400 and _mode(globus) == 0o700
    assert cert.read_bytes() == leaf.cert_pem
    text = key.read_text()
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # openssl opens the key with the new passphrase only, and it is the certificate's key
    cert_modulus = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-modulus"], capture_output=True,
                                  text=True, check=True).stdout.strip()
    assert _openssl_key_modulus(key, NEW) == cert_modulus
    wrong = subprocess.run(["openssl", "rsa", "-in", str(key), "-noout", "-passin", "pass:nope"],
                           capture_output=True)
    assert wrong.returncode != 0
    parsed = subprocess.run(["openssl", "asn1parse", "-in", str(key)], capture_output=True, text=True).stdout
    assert "PBES2" in parsed and "aes-256-cbc" in parsed  # the best PEM encryption available
    # the prompts: PKCS#12 password, then the new passphrase twice; nothing typed is shown
    assert run.output.count(": ") == 3 and "PKCS#12 password for" in run.output
    for secret in (PASSWORD, NEW):
        assert secret.decode() not in run.output + run.stdout + run.stderr
    assert f"wrote {cert}" in run.stdout and f"wrote {key}" in run.stdout
    assert "subject  /DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe" in run.stdout
    assert "expires  " in run.stdout and run.stderr == ""  # a year left: no expiry notice
    # and jenv itself now uses the pair: the key belongs to the certificate
    match = run_on_pty([sys.executable, "-m", "jenv", "certkey-match"], env, [NEW], capture=True)
    assert match.returncode == 0 and " matches " in match.stdout, match.stderr
    retyped = run_on_pty([sys.executable, "-m", "jenv", "certkey-match"], env, [b"typo", NEW], capture=True)
    assert retyped.returncode == 0 and " matches " in retyped.stdout and "try again" in retyped.output


def test_wrong_password_is_one_line_and_writes_nothing(leaf, env, tmp_path):
    p12 = export_p12(leaf, tmp_path / "cert.p12", KINDS["legacy"])
    run = cert_import(env, str(p12), answers=[b"not the password", b"", b"still not"])
    assert run.returncode == 11
    assert run.stderr.splitlines() == [f"jenv: wrong password for PKCS#12 file {p12}: nothing was written"]
    assert run.output.count("PKCS#12 password for") == 3 and run.output.count("try again") == 2, run.output
    assert run.stdout == "" and not (Path(env["HOME"]) / ".globus").exists()


@pytest.mark.parametrize("typos", [1, 2])
def test_a_wrong_password_is_asked_again(leaf, env, tmp_path, typos):
    """Issue 20.15: three tries for the PKCS#12 password, as openssl gives."""
    p12 = export_p12(leaf, tmp_path / "cert.p12")
    run = cert_import(env, str(p12), answers=[b"typo"] * typos + [PASSWORD, NEW, NEW])
    assert run.returncode == 0, run.stderr
    assert run.output.count("PKCS#12 password for") == typos + 1 and run.output.count("try again") == typos
    assert (Path(env["HOME"]) / ".globus" / "usercert.pem").read_bytes() == leaf.cert_pem


@pytest.mark.parametrize("typos", [1, 2])
def test_a_confirmation_that_differs_is_the_only_thing_asked_again(leaf, env, tmp_path, typos):
    """Issue 20.15: the new passphrase is asked once; a confirmation that differs asks for the confirmation
    only, three times in all; the key is then encrypted with the passphrase typed first."""
    p12 = export_p12(leaf, tmp_path / "cert.p12")
    run = cert_import(env, str(p12), answers=[PASSWORD, NEW] + [b"new key passfrase"] * typos + [NEW])
    assert run.returncode == 0, run.stderr
    assert run.output.count("PKCS#12 password for") == 1 and run.output.count("New passphrase for") == 1
    assert run.output.count("The same passphrase again") == typos + 1, run.output
    key = Path(env["HOME"]) / ".globus" / "userkey.pem"
    cert_modulus = subprocess.run(["openssl", "x509", "-in", str(key.parent / "usercert.pem"), "-noout", "-modulus"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    assert _openssl_key_modulus(key, NEW) == cert_modulus


def test_three_confirmations_that_differ_write_nothing(leaf, env, tmp_path):
    p12 = export_p12(leaf, tmp_path / "cert.p12")
    run = cert_import(env, str(p12), answers=[PASSWORD, NEW, b"one", b"two", b"three"])
    assert run.returncode == 11 and run.stdout == ""
    assert run.stderr.splitlines() == ["jenv: the two passphrases differ (3 tries): nothing was written; run "
                                       "cert-import again"], run.stderr
    assert run.output.count("The same passphrase again") == 3
    assert not (Path(env["HOME"]) / ".globus").exists()


def test_existing_files_are_kept_unless_force_which_keeps_copies(leaf, root_ca, env, tmp_path):
    globus = Path(env["HOME"]) / ".globus"
    old = root_ca.issue("/C=ch/O=jenv-test/OU=Users/CN=Old Cert")
    old.write(globus)
    old_cert, old_key = (globus / "usercert.pem").read_bytes(), (globus / "userkey.pem").read_bytes()
    p12 = export_p12(leaf, tmp_path / "new.p12")
    refused = cert_import(env, str(p12), answers=[])  # refused before any prompt
    assert refused.returncode == 2 and "already exist" in refused.stderr and "--force" in refused.stderr
    assert refused.output == "" and (globus / "usercert.pem").read_bytes() == old_cert
    run = cert_import(env, str(p12), "--force")
    assert run.returncode == 0, run.stderr
    day = subprocess.run(["date", "-u", "+%Y-%m-%d"], capture_output=True, text=True).stdout.strip()
    assert (globus / f"usercert.pem.{day}").read_bytes() == old_cert
    assert (globus / f"userkey.pem.{day}").read_bytes() == old_key
    assert _mode(globus / f"userkey.pem.{day}") == 0o400
    assert (globus / "usercert.pem").read_bytes() == leaf.cert_pem
    assert f"kept the old file as {globus}/usercert.pem.{day}" in run.stdout
    again = cert_import(env, str(p12), "--force")  # a second copy the same day does not overwrite the first
    assert again.returncode == 0 and (globus / f"usercert.pem.{day}.2").read_bytes() == leaf.cert_pem
    assert (globus / f"usercert.pem.{day}").read_bytes() == old_cert


def test_no_passphrase_only_when_asked_and_with_a_warning(leaf, env, tmp_path):
    p12 = export_p12(leaf, tmp_path / "cert.p12")
    empty = cert_import(env, str(p12), answers=[PASSWORD, b""])  # an empty new passphrase is not "none"
    assert empty.returncode == 11 and "--no-passphrase" in empty.stderr
    assert not (Path(env["HOME"]) / ".globus" / "userkey.pem").exists()
    differ = cert_import(env, str(p12), answers=[PASSWORD, NEW] + [b"something else"] * 3)
    assert differ.returncode == 11 and "differ" in differ.stderr
    run = cert_import(env, str(p12), "--no-passphrase", answers=[PASSWORD])
    assert run.returncode == 0, run.stderr
    key = Path(env["HOME"]) / ".globus" / "userkey.pem"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----") and _mode(key) == 0o400
    assert "without a passphrase" in run.stderr and "NOT encrypted" in run.stdout
    assert run.output.count(": ") == 1  # only the PKCS#12 password was asked


def test_dir_option_and_an_empty_p12_password(leaf, env, tmp_path):
    p12 = export_p12(leaf, tmp_path / "nopass.p12", password=b"")
    target = tmp_path / "elsewhere" / "globus"
    run = cert_import(dict(env, X509_USER_CERT=str(tmp_path / "old.pem")), str(p12), "--dir", str(target),
                      answers=[b"", NEW, NEW])
    assert run.returncode == 0, run.stderr
    assert (target / "usercert.pem").read_bytes() == leaf.cert_pem
    assert "X509_USER_CERT points at" in run.stderr  # the variable would still win over the new file


def test_a_key_that_does_not_fit_its_certificate_is_refused(leaf, root_ca, env, tmp_path):
    """Neither openssl nor cryptography exports such a bundle: an unencrypted one without a MAC has the
    certificate swapped for another of the same size (another key), its key bag left as it was.
    OpenSSL's PKCS12_parse already gives no certificate for the key then (it only pairs a certificate
    with the key it fits), so jenv refuses it as holding none, and writes nothing."""
    p12 = export_p12(leaf, tmp_path / "plain.p12", ["-certpbe", "NONE", "-keypbe", "NONE", "-nomac"])
    own = leaf.cert.public_bytes(serialization.Encoding.DER)
    other = root_ca.issue(DN)
    for _ in range(20):  # the serial's and signature's leading bits may change the length by a byte
        if len(other.cert.public_bytes(serialization.Encoding.DER)) == len(own):
            break
        other = root_ca.issue(DN)
    data = p12.read_bytes()
    assert data.count(own) == 1
    mixed = tmp_path / "mixed.p12"
    mixed.write_bytes(data.replace(own, other.cert.public_bytes(serialization.Encoding.DER)))
    run = cert_import(env, str(mixed), answers=[b""])
    assert run.returncode == 4 and "holds no certificate" in run.stderr, run.stderr
    assert not (Path(env["HOME"]) / ".globus").exists()
    # the positive twin: the untouched bundle imports
    assert cert_import(env, str(p12), "--no-passphrase", answers=[b""]).returncode == 0


def test_a_bundle_without_its_certificate_is_refused(leaf, env, tmp_path):
    cert, key = leaf.write(tmp_path / "pem")
    p12 = tmp_path / "keyonly.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", str(key), "-nocerts", "-out", str(p12),
                    "-passout", "pass:" + PASSWORD.decode()], check=True, capture_output=True)
    run = cert_import(env, str(p12), answers=[PASSWORD])
    assert run.returncode == 4 and "holds no certificate" in run.stderr


def test_bad_files_and_no_terminal(leaf, env, tmp_path):
    p12 = export_p12(leaf, tmp_path / "cert.p12")
    cut = tmp_path / "cut.p12"
    cut.write_bytes(p12.read_bytes()[:-20])
    run = cert_import(env, str(cut), answers=[PASSWORD])
    assert run.returncode == 4 and "truncated or damaged" in run.stderr and "password" not in run.output
    pem = run_in_process(["cert-import", str(tmp_path / "cert-pem" / "usercert.pem")], env)
    assert pem.returncode == 4 and "is not a PKCS#12 bundle" in pem.stderr
    missing = run_in_process(["cert-import", str(tmp_path / "none.p12")], env)
    assert missing.returncode == 3 and "does not exist" in missing.stderr
    detached = run_detached(["cert-import", str(p12)], env)
    assert detached.returncode == 11 and "no terminal" in detached.stderr
    assert not (Path(env["HOME"]) / ".globus").exists()


def test_a_symbolic_link_in_place_of_the_key_is_not_replaced(leaf, env, tmp_path):
    globus = Path(env["HOME"]) / ".globus"
    globus.mkdir(parents=True)
    (globus / "userkey.pem").symlink_to(tmp_path / "somewhere")
    run = cert_import(env, str(export_p12(leaf, tmp_path / "cert.p12")), "--force", answers=[])
    assert run.returncode == 8 and "symbolic link" in run.stderr
    assert os.path.islink(globus / "userkey.pem")


# --- bundles that open but hold what cannot be used: refused whole, before anything is written -------

def _with_certificate(leaf: Leaf, pem: bytes, out: Path, how: str) -> Path:
    """A .p12 with the leaf's key and the certificate ``pem`` (same public key), made by openssl or, for
    what openssl will not pair with the key, by cryptography; password PASSWORD, with a MAC."""
    if how == "openssl":
        source = out.parent / (out.stem + "-pem")
        source.mkdir()
        (source / "cert.pem").write_bytes(pem)
        (source / "key.pem").write_bytes(leaf.key.private_bytes(serialization.Encoding.PEM,
                                                                serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))
        subprocess.run(["openssl", "pkcs12", "-export", "-in", str(source / "cert.pem"), "-inkey",
                        str(source / "key.pem"), "-out", str(out), "-passout", "pass:" + PASSWORD.decode()],
                       check=True, capture_output=True)
    else:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import pkcs12

        cert = x509.load_pem_x509_certificate(pem)  # parsed lazily: the broken part is not read yet
        out.write_bytes(pkcs12.serialize_key_and_certificates(
            b"jdoe", leaf.key, cert, None, serialization.BestAvailableEncryption(PASSWORD)))
    return out


def _version_2(root_ca, leaf):
    from support.pki import edited_certificate

    return edited_certificate(leaf.cert, root_ca.key, b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x01")


def _month_13(root_ca, leaf):
    from support.pki import edited_certificate

    not_after = leaf.cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ").encode()
    return edited_certificate(leaf.cert, root_ca.key, not_after, not_after[:2] + b"13" + not_after[4:])


def _duplicate_extension(root_ca, leaf):
    from cryptography import x509

    from support.pki import edited_certificate

    ski = x509.SubjectKeyIdentifier.from_public_key(leaf.key.public_key())
    cert = (x509.CertificateBuilder(leaf.cert.issuer, leaf.cert.subject, leaf.key.public_key(),
                                    leaf.cert.serial_number, leaf.cert.not_valid_before_utc,
                                    leaf.cert.not_valid_after_utc)
            .add_extension(ski, False)
            .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), ski.public_bytes()), False)
            .sign(root_ca.key, leaf.cert.signature_hash_algorithm))
    return edited_certificate(cert, root_ca.key, b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x0e")


BROKEN_CERTIFICATES = {"version 2": (_version_2, "openssl"), "month 13": (_month_13, "openssl"),
                       "duplicate extension": (_duplicate_extension, "cryptography")}


@pytest.mark.parametrize("kind", sorted(BROKEN_CERTIFICATES))
def test_a_bundle_whose_certificate_cannot_be_parsed_writes_nothing(kind, leaf, root_ca, env, tmp_path):
    """The right password opens it (its MAC says so), so it is a damaged bundle, not a wrong password:
    exit 4, one line, no passphrase asked, nothing written (not even the directory)."""
    build, how = BROKEN_CERTIFICATES[kind]
    p12 = _with_certificate(leaf, build(root_ca, leaf), tmp_path / "broken.p12", how)
    run = cert_import(env, str(p12))
    assert run.returncode == 4, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith(f"jenv: PKCS#12 file {p12} "), run.stderr
    assert "wrong password" not in run.stderr and "export" in run.stderr
    assert run.output.count(": ") == 1 and run.stdout == ""  # only the PKCS#12 password was asked
    assert not (Path(env["HOME"]) / ".globus").exists()
    # and a wrong password for the same bundle is still a wrong password
    wrong = cert_import(env, str(p12), answers=[b"not the password"] * 3)
    assert wrong.returncode == 11 and "wrong password" in wrong.stderr, wrong.stderr
    # the positive twin: the same leaf, built the same way, imports
    good = _with_certificate(leaf, leaf.cert_pem, tmp_path / "good.p12", how)
    assert cert_import(env, str(good)).returncode == 0


def test_without_a_mac_a_failure_says_both_possibilities(leaf, env, tmp_path):
    p12 = export_p12(leaf, tmp_path / "nomac.p12", ["-nomac"])
    run = cert_import(env, str(p12), answers=[b"not the password"] * 3)
    assert run.returncode == 11 and "wrong password" in run.stderr and "damaged" in run.stderr, run.stderr
    assert not (Path(env["HOME"]) / ".globus").exists()


@pytest.mark.parametrize("kind", ["aes", "legacy"])
def test_a_damaged_mac_with_the_right_password_is_damage_not_a_wrong_password(kind, leaf, env, tmp_path):
    """The last bytes of macData are its iteration count; the digest comes before the salt. A byte of the
    digest flipped: the right password still decrypts the content, so the MAC is what was damaged."""
    p12 = export_p12(leaf, tmp_path / "cert.p12", KINDS[kind])
    data = bytearray(p12.read_bytes())
    parsed = subprocess.run(["openssl", "asn1parse", "-inform", "DER", "-in", str(p12)], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    digest = [line for line in parsed if "OCTET STRING" in line][-2]  # macData: digest, then salt
    offset, header = int(digest.split(":")[0]), int(digest.split("hl=")[1].split()[0])
    data[offset + header] ^= 0x01
    damaged = tmp_path / "damaged.p12"
    damaged.write_bytes(bytes(data))
    run = cert_import(env, str(damaged))
    assert run.returncode == 4 and "MAC does not match" in run.stderr and "damaged" in run.stderr, run.stderr
    wrong = cert_import(env, str(damaged), answers=[b"not the password"] * 3)
    assert wrong.returncode == 11 and "wrong password" in wrong.stderr
    assert not (Path(env["HOME"]) / ".globus").exists()


def test_without_openssl_to_ask_a_failure_says_both_possibilities(leaf, env, tmp_path):
    """OpenSSL is what tells a wrong password from damage (the MAC); with no openssl on PATH, jenv does not
    guess: one line says it is either, and nothing is written."""
    p12 = export_p12(leaf, tmp_path / "cert.p12")
    no_openssl = tmp_path / "bin"
    no_openssl.mkdir()
    for tool in ("sh",):
        os.symlink(shutil.which(tool), no_openssl / tool)
    run = cert_import(dict(env, PATH=str(no_openssl)), str(p12), answers=[b"not the password"] * 3)
    assert run.returncode == 11 and "wrong password" in run.stderr and "nothing can tell which" in run.stderr
    assert not (Path(env["HOME"]) / ".globus").exists()


def test_without_encryption_a_wrong_password_stays_a_wrong_password(leaf, env, tmp_path):
    """Content that is not encrypted opens with any password: only the MAC can judge the password then."""
    p12 = export_p12(leaf, tmp_path / "plain.p12", ["-certpbe", "NONE", "-keypbe", "NONE"])
    wrong = cert_import(env, str(p12), answers=[b"not the password"] * 3)
    assert wrong.returncode == 11 and wrong.stderr.splitlines() == \
        [f"jenv: wrong password for PKCS#12 file {p12}: nothing was written"]
    assert cert_import(env, str(p12)).returncode == 0


def test_a_password_with_a_nul_byte_is_a_wrong_password_not_a_crash(leaf, env, tmp_path):
    """Ctrl-@ types a NUL byte, which no PKCS#12 password holds (cryptography would panic on it)."""
    p12 = export_p12(leaf, tmp_path / "cert.p12")
    run = cert_import(env, str(p12), answers=[PASSWORD + b"\x00"] * 3)
    assert run.returncode == 11 and "NUL byte" in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert not (Path(env["HOME"]) / ".globus").exists()
