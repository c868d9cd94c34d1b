"""jenv.lite.pkcs12mac: the MAC of a PKCS#12 bundle, checked with the standard library only.

cryptography writes the bundles (its MAC is OpenSSL's: PKCS#12 key derivation, HMAC-SHA256); the
verdict must be True for the password that made them, False for any other, and None where no verdict
can be given (no MAC structure, a hostile iteration count)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from jenv.lite.pkcs12mac import mac_verdict, without_mac
from support.pki import TestCA


@pytest.fixture(scope="module")
def leaf():
    return TestCA().issue("/C=ch/O=jenv-test/CN=Jane Doe")


@pytest.mark.parametrize("password", [b"p12 secret", "päss wörd".encode(), b"x" * 100])
def test_the_right_password_verifies_and_another_does_not(leaf, password):
    data = pkcs12.serialize_key_and_certificates(b"jdoe", leaf.key, leaf.cert, None,
                                                 serialization.BestAvailableEncryption(password))
    assert mac_verdict(data, password) is True
    assert mac_verdict(data, password + b"!") is False
    assert mac_verdict(data, None) is False


def test_no_password_is_both_empty_and_none(leaf):
    data = pkcs12.serialize_key_and_certificates(b"jdoe", leaf.key, leaf.cert, None, serialization.NoEncryption())
    assert mac_verdict(data, None) is True and mac_verdict(data, b"") is True
    assert mac_verdict(data, b"x") is False


def test_no_verdict_without_a_mac_structure_or_with_a_hostile_count(leaf):
    data = pkcs12.serialize_key_and_certificates(b"jdoe", leaf.key, leaf.cert, None,
                                                 serialization.BestAvailableEncryption(b"pw"))
    assert mac_verdict(data[:-10], b"pw") is None  # cut short
    assert mac_verdict(b"\x30\x03\x02\x01\x03", b"pw") is None  # a PFX with nothing after its version
    count = data.rfind(b"\x02\x02\x08\x00")  # iterations INTEGER 2048 at the end of macData
    assert count == len(data) - 4
    assert mac_verdict(data[:count] + b"\x02\x02\x00\x00", b"pw") is None  # zero rounds


def test_without_mac_is_the_same_content_with_no_verdict(leaf):
    data = pkcs12.serialize_key_and_certificates(b"jdoe", leaf.key, leaf.cert, None,
                                                 serialization.BestAvailableEncryption(b"pw"))
    stripped = without_mac(data)
    assert stripped is not None and len(stripped) < len(data) and mac_verdict(stripped, b"pw") is None
    key, cert, _ = pkcs12.load_key_and_certificates(stripped, b"pw")  # the content is untouched
    assert cert == leaf.cert
    assert without_mac(stripped) is None and without_mac(data[:-10]) is None
