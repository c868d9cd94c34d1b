"""jenv.lite.certinfo (status's reader, no cryptography) against jenv.pem.cert_info (cryptography).

Every certificate of the attacker corpus (tests/ca/ca_corpus.py: every target and store certificate,
good and hostile) is read both ways: the light reader must give exactly cryptography's CertInfo, or
say it is not sure (None) so status falls back to cryptography; it must never read a certificate that
cryptography refuses.  And status must make the same report either way.
"""

from __future__ import annotations

import pytest

from jenv.errors import JenvError
from jenv.lite.certinfo import key_summary, summarize
from jenv.pem import cert_info, key_description, parse_certificate, parse_private_key

from ca_corpus import build_cases, make_keys

KEYS = make_keys()
CERTS = {}
for _case in build_cases(KEYS):
    for _cert in (_case.target, *_case.store):
        CERTS.setdefault(_cert.pem, f"{_case.name}")


@pytest.mark.parametrize("pem", list(CERTS), ids=list(CERTS.values()))
def test_the_light_reader_agrees_with_cryptography_or_abstains(pem):
    light = summarize(pem)
    try:
        full = cert_info(parse_certificate(pem, "certificate"))
    except JenvError:
        full = None
    if light is not None:
        assert full is not None, "read a certificate cryptography refuses"
        assert light == full


def test_the_reader_reads_most_of_the_corpus():
    """The negative twin of 'abstains': on ordinary certificates it does answer (else status would
    always load cryptography and the comparison above would compare nothing)."""
    answered = sum(summarize(pem) is not None for pem in CERTS)
    assert answered >= 0.8 * len(CERTS), (answered, len(CERTS))


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_key_sizes_agree(root_ca, kind):
    from cryptography.hazmat.primitives import serialization

    leaf = root_ca.issue(key_kind=kind)
    for fmt in ("pkcs8", "traditional"):
        pem = leaf.key_pem(fmt=fmt)
        light = key_summary(pem)
        key_type, bits = key_description(parse_private_key(pem).public_key())
        if light is not None:
            assert light[1:] == (key_type, bits)
        else:
            assert kind == "ec"  # the curve is not in the bare EC point: cryptography names it
    assert serialization  # (imported for the key formats above)
