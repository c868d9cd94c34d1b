"""Fuzzing the two parsers that take untrusted bytes: JCentral's answers and PEM files.

The property is the contract of jenv's error handling: whatever the input,
only a :class:`~jenv.errors.JenvError` may escape (which ``cli.main`` turns
into one stderr line and a documented exit code), never a ValueError,
TypeError, KeyError, UnicodeError or anything else that would end in
"internal error".  Runs derandomized (the same examples in every CI run).
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jenv.errors import InvalidInputError, JenvError
from jenv.pem import cert_info, parse_certificate, parse_certificates, parse_private_key
from jenv.jcentral.protocol import Reply, encode_reply, parse_reply, token_pair_from_reply
from jenv.tokens.vet import read_sent_token

FUZZ = settings(max_examples=600, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=300)


def _deterministic_pems():
    """A token-shaped certificate and its EC key that are the same bytes in every run.

    Fixed keys (an EC scalar, an Ed25519 seed for the deterministic CA
    signature), serial and dates: derandomized examples then mutate the same
    input every time, so a CI failure reproduces anywhere.
    """
    ca_key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    key = ec.derive_private_key(0x1E5F00D, ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jenv-fuzz"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "Fuzz CA")])
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "ch"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AliEn2"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Users"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "jdoe")])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(0x5EED).not_valid_before(start).not_valid_after(start + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, None))
    return cert.public_bytes(serialization.Encoding.PEM), key


@lru_cache(maxsize=None)
def _material():
    """A valid token answer and valid PEMs: certificate, key (PKCS#8, traditional, encrypted)."""
    cert_pem, key = _deterministic_pems()
    fmt, plain = serialization.PrivateFormat, serialization.NoEncryption()
    traditional = key.private_bytes(serialization.Encoding.PEM, fmt.TraditionalOpenSSL, plain)
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, fmt.PKCS8, plain)
    encrypted = key.private_bytes(serialization.Encoding.PEM, fmt.PKCS8,
                                  serialization.BestAvailableEncryption(b"secret"))
    answer = encode_reply(Reply(0, "", "jdoe", "/alice/cern.ch/user/j/jdoe/",
                                [{"tokencert": cert_pem.decode(), "tokenkey": traditional.decode()}]))
    return answer, (cert_pem, pkcs8, traditional, cert_pem + cert_pem, traditional + pkcs8, encrypted)


def _answer_then_token(text) -> None:
    """The client's path for one frame: parse, take the token out (exactly what fetch_token does), then read
    it as the vetting does before anything else."""
    try:
        reply = parse_reply(text)
        read_sent_token(token_pair_from_reply(reply, notice=lambda message: None))
    except JenvError:
        pass


def _mutate(data: bytes, edits) -> bytes:
    """Apply (position, action, byte) edits: replace, insert or delete one byte."""
    buf = bytearray(data)
    for position, action, value in edits:
        if not buf:
            break
        index = position % len(buf)
        if action == 0:
            buf[index] = value
        elif action == 1:
            buf.insert(index, value)
        else:
            del buf[index]
    return bytes(buf)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 2), st.integers(0, 255)), min_size=1,
                 max_size=8)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)

#: Values that land in the places the parser reads (metadata fields, results, token fields).
FIELD = JSON | st.sampled_from(["0", "1", " 0 ", "-1", "1e3", "0x10", "", "\x00", "٣", "00"])


def _shaped_answer(draw_metadata, draw_results):
    return json.dumps({"metadata": draw_metadata, "results": draw_results})


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_arbitrary_text_or_bytes_as_an_answer(text):
    _answer_then_token(text)


@FUZZ
@given(JSON)
def test_arbitrary_json_as_an_answer(value):
    _answer_then_token(json.dumps(value))


@FUZZ
@given(st.dictionaries(st.sampled_from(["exitcode", "error", "user", "currentdir", "x"]), FIELD, max_size=5),
       st.none() | st.lists(st.dictionaries(st.sampled_from(["tokencert", "tokenkey", "message"]), FIELD,
                                            max_size=3), max_size=2) | FIELD)
def test_answers_shaped_like_jcentral_with_arbitrary_fields(metadata, results):
    _answer_then_token(_shaped_answer(metadata, results))


@FUZZ
@given(EDITS)
def test_mutated_valid_answer(edits):
    answer, _ = _material()
    _answer_then_token(_mutate(answer.encode(), edits))


@FEW
@given(st.sampled_from(["tokencert", "tokenkey"]), EDITS)
def test_valid_answer_with_a_mutated_certificate_or_key(name, edits):
    answer, _ = _material()
    data = json.loads(answer)
    field = data["results"][0]
    field[name] = _mutate(field[name].encode(), edits).decode("latin-1")
    _answer_then_token(json.dumps(data))


def test_the_valid_answer_itself_yields_the_token():
    """The mutation tests start from an answer that really parses (else they would prove nothing)."""
    answer, _ = _material()
    pair = read_sent_token(token_pair_from_reply(parse_reply(answer)))
    assert pair.cert_pem.startswith("-----BEGIN CERTIFICATE-----") and pair.cert is not None


def _load_all(data: bytes) -> None:
    """Every PEM entry point on the same bytes; cert_info on whatever parsed (it reads every field)."""
    for parse in (parse_certificates, parse_certificate):
        try:
            result = parse(data, "fuzzed certificate")
        except JenvError:
            continue
        for cert in result if isinstance(result, list) else [result]:
            cert_info(cert)
    try:
        parse_private_key(data, "fuzzed key", passphrase=lambda: b"wrong")
    except JenvError:
        pass
    try:
        parse_private_key(data, "fuzzed key")
    except JenvError:
        pass


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_pem(data):
    _load_all(data)


ARMOUR = st.sampled_from([b"CERTIFICATE", b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY",
                          b"ENCRYPTED PRIVATE KEY", b"PUBLIC KEY", b"X"])


@FUZZ
@given(ARMOUR, st.binary(max_size=200) | st.text(alphabet="ABCDEFGHIJKLMNOPabcdef0123456789+/=\n", max_size=300))
def test_garbage_inside_valid_armour(label, body):
    body = body if isinstance(body, bytes) else body.encode()
    _load_all(b"-----BEGIN " + label + b"-----\n" + body + b"\n-----END " + label + b"-----\n")


@FUZZ
@given(st.integers(0, 5), EDITS)
def test_mutated_valid_pem(index, edits):
    _, pems = _material()
    _load_all(_mutate(pems[index], edits))


@FEW
@given(st.integers(0, 5), st.integers(0, 5000))
def test_truncated_valid_pem(index, length):
    _, pems = _material()
    _load_all(pems[index][:length])


@pytest.mark.parametrize("index", range(6))
def test_the_valid_pems_themselves_load(index):
    """Sanity for the mutation tests: each starting PEM really is a certificate or a key."""
    _, pems = _material()
    data = pems[index]
    if b"CERTIFICATE" in data:
        parse_certificate(data)
    elif data.count(b"PRIVATE KEY-----") > 2:  # two keys in one file: refused by design (issue 11.9)
        with pytest.raises(InvalidInputError, match="holds 2 private keys"):
            parse_private_key(data, passphrase=lambda: b"secret")
    else:
        parse_private_key(data, passphrase=lambda: b"secret")
