"""The token text JCentral sent is judged once, by the vetting (jenv.tokens.vet.read_sent_token, through the
one judge, jenv.tokens.judge); the protocol module only takes it out of the JSON (issue 23 item 3).

In-process, no sockets: the answers are built here, as test_protocol.py builds them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jenv.errors import InvalidInputError, VerifyError
from jenv.jcentral.protocol import TokenPair, parse_reply, token_pair_from_reply
from jenv.service.authority import Authority
from jenv.tokens.vet import read_sent_token

GARBAGE_CERT = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def token(pki):
    return pki.authority.issue_user("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe")


def answer(results) -> str:
    return json.dumps({"metadata": {"exitcode": "0", "error": "", "user": "jdoe",
                                    "currentdir": "/alice/cern.ch/user/j/jdoe/"}, "results": results})


def sent(cert_pem: str, key_pem: str) -> TokenPair:
    """The pair as the protocol hands it over: text, nothing parsed."""
    return token_pair_from_reply(parse_reply(answer([{"tokencert": cert_pem, "tokenkey": key_pem}])))


def test_the_protocol_hands_over_text_only(token):
    """Whatever the PEM text holds, the protocol takes it out of the JSON as it is; it parses nothing."""
    for cert_pem in (GARBAGE_CERT, token.cert_pem.decode()):
        pair = sent(cert_pem, "not a key")
        assert (pair.cert_pem, pair.key_pem, pair.cert) == (cert_pem, "not a key", None)


@pytest.mark.slow  # a fresh interpreter
def test_the_protocol_module_imports_no_certificate_parser():
    code = ("import sys, jenv.jcentral.protocol as p; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cryptography', 'OpenSSL', 'ssl') "
            "or m in ('jenv.pem', 'jenv.tokens.judge')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_good_pair_is_read_once_with_its_certificate(token):
    pair = read_sent_token(sent(token.cert_pem.decode(), token.key_pem().decode()))
    assert isinstance(pair.cert, x509.Certificate)
    assert pair.cert.public_bytes(serialization.Encoding.PEM) == token.cert_pem
    assert pair.key_pem == token.key_pem().decode()  # the key text as sent


def test_key_of_another_token_is_refused(token):
    other = Authority.create().issue_user("/C=ch/O=x/CN=other")
    with pytest.raises(VerifyError, match="key does not match its certificate"):
        read_sent_token(sent(token.cert_pem.decode(), other.key_pem().decode()))


def test_a_key_with_the_right_public_half_that_cannot_sign_is_refused(token):
    """The key JCentral sends is not primality-tested (that costs token-init most of its time), and OpenSSL's
    load of the pair compares the public halves only; a signature checked with the certificate proves it
    instead.  A key whose public half is the certificate's but whose private half is broken (exponents off:
    OpenSSL falls back from a failed CRT step to d, so both are) must still be refused."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    good = serialization.load_pem_private_key(token.key_pem(), None)
    numbers = good.private_numbers()
    broken = rsa.RSAPrivateNumbers(numbers.p, numbers.q, numbers.d + 2, numbers.dmp1 + 2, numbers.dmq1,
                                   numbers.iqmp, numbers.public_numbers).private_key(
                                       unsafe_skip_rsa_key_validation=True)
    pem = broken.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                               serialization.NoEncryption()).decode()
    with pytest.raises(VerifyError, match="key does not match its certificate"):
        read_sent_token(sent(token.cert_pem.decode(), pem))
    # its twin: the same numbers, unbroken, pass
    assert read_sent_token(sent(token.cert_pem.decode(), token.key_pem().decode())).cert is not None


def test_garbage_certificate_is_refused(token):
    with pytest.raises(InvalidInputError, match="the token certificate JCentral sent"):
        read_sent_token(sent(GARBAGE_CERT, token.key_pem().decode()))


def test_an_encrypted_token_key_is_refused(token):
    key = serialization.load_pem_private_key(token.key_pem(), None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"secret")).decode()
    with pytest.raises(InvalidInputError, match="JCentral sent an encrypted token key"):
        read_sent_token(sent(token.cert_pem.decode(), encrypted))


@pytest.mark.parametrize("which", ["two certificates", "two keys"])
def test_more_than_one_block_is_refused(token, which):
    """One certificate and one key, or later readers might each take another block."""
    cert, key = token.cert_pem.decode(), token.key_pem().decode()
    cert, key = (cert + cert, key) if which == "two certificates" else (cert, key + key)
    with pytest.raises(VerifyError, match="PEM blocks, not one of each"):
        read_sent_token(sent(cert, key))


@pytest.mark.parametrize("previous", [True, False])
def test_the_previous_token_is_named_only_when_there_is_one(token, previous):
    other = Authority.create().issue_user("/C=ch/O=x/CN=other")
    for cert_pem, key_pem in ((token.cert_pem.decode(), other.key_pem().decode()),
                              (GARBAGE_CERT, token.key_pem().decode())):
        with pytest.raises((VerifyError, InvalidInputError)) as caught:
            read_sent_token(sent(cert_pem, key_pem), previous=previous)
        assert "nothing was written" in str(caught.value)
        assert ("the previous token is unchanged" in str(caught.value)) is previous
