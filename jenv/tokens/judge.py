"""The one judge of a token: the libraries decide whether a certificate and key can be used.

* The framing (:mod:`jenv.lite.pemtext`): exactly one plain ``CERTIFICATE`` block, and one private key,
  so that no reader can take another block in its place.
* ``cryptography`` parses the whole certificate (names, dates, extensions, public key) and OpenSSL
  (pyOpenSSL) parses it too: both must read the same DER.
* The pair is usable when ``ssl.SSLContext.load_cert_chain`` accepts it, as every TLS client that
  uses the token will load it: OpenSSL reads the key and checks that it belongs to the certificate.

The verdict (:class:`jenv.tokens.memo.Verdict`) carries the dates, the names and what the subject
says (:mod:`jenv.lite.identity`), and is remembered next to the files' identity, so that this
module runs once per token and the login path never imports it.
"""

from __future__ import annotations

import os
import warnings
from typing import Optional, Tuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from jenv.errors import InvalidInputError
from jenv.lite.identity import identity_from_attributes
from jenv.lite.pemtext import certificate_framing, key_framing
from jenv.pem import grid_dn, parse_certificates, validity_bounds
from jenv.tokens.memo import Verdict

__all__ = ["judge_pair", "judge_pair_parsed", "judge_certificate", "pair_usable", "alien_dn", "name_attributes", "load_certificate_once"]


def alien_dn(name: x509.Name) -> str:
    """The official client's form of a name: its RFC 4514 text (``cryptography``'s) with the RDNs back in
    encoded order, joined by ``/`` (``C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe``)."""
    return "/".join(reversed(name.rfc4514_string().split(",")))


def name_attributes(name: x509.Name) -> Tuple[Tuple[Tuple[str, str], ...], ...]:
    return tuple(tuple((attribute.rfc4514_attribute_name, str(attribute.value)) for attribute in rdn)
                 for rdn in name.rdns)


def load_certificate_once(data: bytes, single: bool = True) -> Tuple[Optional[x509.Certificate], str]:
    """(the certificate, '') when the framing is plain and both libraries read the same certificate from
    ``data``, else (None, what is wrong, to follow "the file ...")."""
    problem = certificate_framing(data, single)
    if problem is not None:
        return None, problem
    try:
        cert = parse_certificates(data, "")[0]
    except InvalidInputError as exc:
        return None, str(exc).strip()
    try:
        cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None, "holds a certificate whose public key cannot be read (corrupt or unsupported)"
    from OpenSSL import crypto

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            openssl_der = crypto.dump_certificate(crypto.FILETYPE_ASN1, crypto.load_certificate(crypto.FILETYPE_PEM,
                                                                                              data))
    except (crypto.Error, ValueError):
        return None, "holds a certificate that OpenSSL cannot parse (corrupt or truncated)"
    if openssl_der != cert.public_bytes(Encoding.DER):
        return None, "holds a certificate that OpenSSL and cryptography read differently"
    return cert, ""


def judge_certificate(data: bytes, single: bool = False) -> Verdict:
    """The verdict on one certificate (``pair`` "cert", or "broken-cert" with the reason)."""
    cert, problem = load_certificate_once(data, single)
    if cert is None:
        return Verdict("broken-cert", problem)
    return _facts(cert, "cert")


def _facts(cert: x509.Certificate, pair: str) -> Verdict:
    not_before, not_after = validity_bounds(cert)
    identity = identity_from_attributes(name_attributes(cert.subject))
    fields = ("", "", "", "", "") if identity is None else \
        (identity.token_type, identity.user or "", identity.role or "", identity.hostname or "",
         identity.job_extension or "")
    return Verdict(pair, "", not_before, not_after, grid_dn(cert.subject), grid_dn(cert.issuer),
                   alien_dn(cert.subject), alien_dn(cert.issuer), *fields)


class _AsFiles:
    """``with _AsFiles(cert, key) as (cert_path, key_path)``: the bytes as files only this process can open
    (memfd on Linux, else a private temporary directory), for ``load_cert_chain``, which reads paths."""

    def __init__(self, *contents: bytes):
        self.contents, self.fds, self.directory = contents, [], None

    def __enter__(self):
        if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
            for data in self.contents:
                fd = os.memfd_create("jenv-judge", os.MFD_CLOEXEC)
                self.fds.append(fd)
                os.write(fd, data)
            return [f"/proc/self/fd/{fd}" for fd in self.fds]
        from jenv.safefile import create_new_file, new_private_directory

        self.directory = new_private_directory("jenv-judge-")
        paths = [os.path.join(self.directory, f"{index}.pem") for index in range(len(self.contents))]
        for path, data in zip(paths, self.contents):
            create_new_file(path, data, 0o600)
        return paths

    def __exit__(self, *exc_info) -> None:
        for fd in self.fds:
            os.close(fd)
        if self.directory is not None:
            for name in os.listdir(self.directory):
                os.unlink(os.path.join(self.directory, name))
            os.rmdir(self.directory)


def _load_chain(cert_pem: bytes, key_pem: bytes) -> Optional[str]:
    """None when ``ssl.SSLContext.load_cert_chain`` accepts the pair, else OpenSSL's reason."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with _AsFiles(cert_pem, key_pem) as (cert_path, key_path):
        try:
            context.load_cert_chain(cert_path, key_path, password="")
        except ssl.SSLError as exc:
            return exc.reason or str(exc)
    return None


def judge_pair(cert_pem: bytes, key_pem: bytes) -> Verdict:
    """The verdict on a token pair (see the module doc)."""
    return judge_pair_parsed(cert_pem, key_pem)[1]


def judge_pair_parsed(cert_pem: bytes, key_pem: bytes) -> Tuple[Optional[x509.Certificate], Verdict]:
    """(the certificate as parsed, the verdict on the pair): :func:`judge_pair` for a caller that goes on
    reading the certificate (the vetting of a new token); the certificate is None when it is broken."""
    cert, problem = load_certificate_once(cert_pem)
    if cert is None:
        return None, Verdict("broken-cert", problem)
    problem = key_framing(key_pem)
    if problem == "is encrypted":
        return cert, Verdict("broken-key", "is encrypted, which a token key never is")
    if problem is not None:
        return cert, Verdict("broken-key", problem)
    reason = _load_chain(cert_pem, key_pem)
    if reason == "KEY_VALUES_MISMATCH":
        return cert, _facts(cert, "mismatch")
    if reason is not None:
        what = reason.replace("_", " ").lower()
        return cert, Verdict("broken-key", f"cannot be loaded with its certificate by OpenSSL ({what})")
    return cert, _facts(cert, "usable")


def pair_usable(cert_pem: bytes, key_pem: bytes) -> bool:
    """True when the pair is one a TLS client can load (:func:`judge_pair` says "usable")."""
    return judge_pair(cert_pem, key_pem).pair == "usable"
