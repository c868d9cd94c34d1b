"""The fast-path DER reader agrees with cryptography on many generated certificates and keys."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from jenv.lite import der

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def keys():
    rsa_keys = [rsa.generate_private_key(public_exponent=65537, key_size=size) for size in (1024, 2048)]
    ec_keys = [ec.generate_private_key(curve) for curve in (ec.SECP256R1(), ec.SECP384R1())]
    return rsa_keys + ec_keys


def _cert(key, not_before, not_after, units=1):
    # a varying number of OUs moves the certificate across DER short/long length forms
    name = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "u" * 60)] * units
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name(name + [x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _random_date(rng: random.Random) -> dt.datetime:
    # 1950..2049 is UTCTime, later years GeneralizedTime (RFC 5280 4.1.2.5)
    year = rng.choice([rng.randint(1950, 2049), rng.randint(2050, 9999)])
    return dt.datetime(year, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                       rng.randint(0, 59), rng.randint(0, 59), tzinfo=UTC)


def test_dates_match_cryptography_for_utc_and_generalized_time(keys):
    rng = random.Random(5)
    seen_tags = set()
    for index in range(120):
        start, end = sorted([_random_date(rng), _random_date(rng)])
        if index % 4 == 0:  # boundaries of the two encodings
            start, end = dt.datetime(1950, 1, 1, tzinfo=UTC), dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)
        if index % 4 == 1:
            start, end = dt.datetime(2050, 1, 1, tzinfo=UTC), dt.datetime(2000, 2, 29, 12, tzinfo=UTC)
            start, end = end, start
        pem = _cert(keys[index % len(keys)], start, end, units=rng.randint(0, 12))
        cert = x509.load_pem_x509_certificate(pem)
        got = der.cert_validity(pem)
        assert got == (int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp()))
        seen_tags.add(pem_time_tags(pem))
    assert {(0x17, 0x17), (0x18, 0x18), (0x17, 0x18)} <= seen_tags


def pem_time_tags(pem: bytes):
    """Which ASN.1 time types the certificate uses (found independently with cryptography's DER)."""
    cert = x509.load_pem_x509_certificate(pem)
    tbs = cert.tbs_certificate_bytes
    nb = cert.not_valid_before_utc.strftime("%y%m%d%H%M%SZ").encode()
    tag_nb = 0x17 if (b"\x17\x0d" + nb) in tbs else 0x18
    na = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ").encode()
    tag_na = 0x17 if (b"\x17\x0d" + na) in tbs else 0x18
    return tag_nb, tag_na


@pytest.mark.parametrize("fmt", ["traditional", "pkcs8"])
def test_public_keys_match_only_their_own_certificate(keys, fmt):
    now = dt.datetime.now(UTC)
    private_format = (serialization.PrivateFormat.TraditionalOpenSSL if fmt == "traditional"
                      else serialization.PrivateFormat.PKCS8)
    certs = [_cert(key, now, now + dt.timedelta(days=1)) for key in keys]
    for index, key in enumerate(keys):
        key_pem = key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())
        mine = der.key_public_key(key_pem)
        assert mine is not None and mine[0] == ("rsa" if isinstance(key, rsa.RSAPrivateKey) else "ec")
        for other, cert_pem in enumerate(certs):
            assert (der.cert_public_key(cert_pem) == mine) == (other == index)


def test_unsure_inputs_answer_none(keys):
    now = dt.datetime.now(UTC)
    good = _cert(keys[0], now, now + dt.timedelta(days=1))
    encrypted = keys[0].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.BestAvailableEncryption(b"secret"))
    cases = [b"", b"garbage", good[:200], good.replace(b"-----END", b"-----XND"), good[:40] + b"!!" + good[40:],
             good.replace(b"MII", b"AAA", 1)]
    for data in cases:
        assert der.cert_validity(data) is None or data == good
        assert der.cert_public_key(data) is None
    assert der.key_public_key(encrypted) is None
    assert der.key_public_key(good) is None


def test_random_bytes_never_raise():
    rng = random.Random(7)
    for _ in range(3000):
        blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        wrapped = b"-----BEGIN CERTIFICATE-----\n" + __import__("base64").b64encode(b"\x30" + blob) \
            + b"\n-----END CERTIFICATE-----\n"
        assert der.cert_validity(wrapped) is None or isinstance(der.cert_validity(wrapped), tuple)
        der.cert_public_key(wrapped)
        der.key_public_key(wrapped.replace(b"CERTIFICATE", b"RSA PRIVATE KEY"))
