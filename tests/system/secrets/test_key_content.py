"""No byte of a private key is printed, whatever shape the variable's content has (issue 11.3).

Key content as users paste it (``openssl pkcs12`` output with its "Bag Attributes" and "Key
Attributes" lines, a UTF-8 byte-order mark, leading blank lines) is recognised as content and
works; key bytes that are not PEM at all are refused by variable name and length only.  The
launcher's scan looks for key armour and for any base64 run as long as a PEM body line.
"""

from __future__ import annotations

import pytest

from support.launcher import clean_env, leaked_key_bytes, run_jenv


def _key_text(leaf) -> str:
    return leaf.key_pem(fmt="traditional").decode()


PREAMBLES = {
    "pkcs12 attributes": "Bag Attributes\n    localKeyID: 01 00 00 00\n    friendlyName: jdoe\n"
                         "Key Attributes: <No Attributes>\n",
    "byte-order mark": "\ufeff",
    "blank lines": "\n\n  \n",
}


@pytest.mark.parametrize("preamble", sorted(PREAMBLES))
def test_pasted_key_content_is_content(preamble, tmp_path, root_ca):
    leaf = root_ca.issue("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe")
    env = clean_env(tmp_path / "home", JALIEN_TOKEN_CERT=leaf.cert_pem.decode(),
                    JALIEN_TOKEN_KEY=PREAMBLES[preamble] + _key_text(leaf))
    result = run_jenv(["tokenkey-match"], env)
    assert result.returncode == 0, result.stderr
    status = run_jenv(["status"], env)
    assert "PEM content of JALIEN_TOKEN_KEY" in status.stdout


def _body_only(leaf) -> str:
    """The base64 lines of the key without the armour (what a broken copy-and-paste leaves)."""
    return "\n".join(line for line in _key_text(leaf).splitlines() if not line.startswith("-----"))


@pytest.mark.parametrize("variable, command", [("JALIEN_TOKEN_KEY", ["token"]), ("JALIEN_TOKEN_KEY", ["status"]),
                                               ("JALIEN_TOKEN_KEY", ["tokenkey-match"]),
                                               ("X509_USER_KEY", ["certkey-match"]), ("X509_USER_KEY", ["status"]),
                                               ("X509_USER_KEY", ["token-init"])])
def test_key_bytes_that_are_not_pem_are_refused_unseen(variable, command, tmp_path, root_ca):
    leaf = root_ca.issue()
    value = _body_only(leaf)
    cert = tmp_path / "cert.pem"
    cert.write_bytes(leaf.cert_pem)
    partner = {"JALIEN_TOKEN_KEY": {"JALIEN_TOKEN_CERT": leaf.cert_pem.decode()},
               "X509_USER_KEY": {"X509_USER_CERT": str(cert)}}[variable]
    env = clean_env(tmp_path / "home", X509_CERT_DIR=str(root_ca.write_dir(tmp_path / "ca")),
                    ALIENPY_JCENTRAL="127.0.0.1", ALIENPY_JCENTRAL_PORT="9", **partner, **{variable: value})
    result = run_jenv(command, env)  # the scan fails the test if any base64 line is printed
    assert f"{variable} holds {len(value)} characters" in result.stdout + result.stderr
    if command != ["status"]:
        assert result.returncode == 4 and result.stdout == ""


def test_the_scan_sees_a_base64_body_line(root_ca):
    """The scan itself: a key's body line without armour counts as a leak (so the test above can fail)."""
    assert leaked_key_bytes(_body_only(root_ca.issue()).splitlines()[1])
