"""Fetch each CA's CRL into the CA directory, as fetch-crl does; describe the CRLs a store holds.

The IGTF layout names each CA ``<alias>.pem`` with ``<alias>.info`` beside it, whose
``crl_url = <url>[; <url>...]`` line says where its CRL is published (the older
``<alias>.crl_url`` file holds one URL a line).  A CRL may come over plain http: it is signed,
and it is installed only once it verifies against its CA (the same issuer name, and
cryptography's ``is_signature_valid`` with the CA's key).  It is written atomically as
``<hash>.r0`` under the CA's subject hash (what OpenSSL's by_dir reads) and under the old
MD5-based subject hash (``openssl x509 -subject_hash_old``, what OpenSSL before 1.0 read), as
fetch-crl writes it; a CRL that did not change is only touched, and one older than the CRL
installed (an earlier lastUpdate: a replay) is refused.  All downloads share one deadline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from jenv.ca.store import CRL_LINK, MAX_CRL, check_store_file, read_pem_certificates
from jenv.errors import ExitCode, InvalidInputError, JenvError, NetworkError, NotFoundError
from jenv.lite.names import grid_dn, subject_hash
from jenv.locations import CAStore
from jenv.safefile import read_regular_file

__all__ = ["MAX_CRL", "CrlResult", "CrlInfo", "crl_sources", "fetch_crls", "subject_hash_old", "describe_crls"]

_CRL_BLOCK = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)
_CRL_URL = re.compile(r"^\s*crl_url\s*=\s*(.+?)\s*$", re.MULTILINE)

#: replace(path, data, mode): an atomic write (jenv.safefile.replace_file).
Replace = Callable[[str, bytes, int], None]


@dataclass(frozen=True)
class CrlResult:
    """What became of one CA's CRL: ``state`` is "installed", "unchanged" or "failed" (``error``)."""

    alias: str
    url: str
    state: str
    files: Tuple[str, ...] = ()
    next_update: Optional[str] = None
    error: str = ""
    exit_code: int = 0


def subject_hash_old(name_der: bytes) -> str:
    """OpenSSL's X509_NAME_hash_old: the first four bytes of the MD5 of the name's DER, little-endian
    (``openssl x509 -subject_hash_old``; no library exposes it)."""
    digest = hashlib.md5(name_der, usedforsecurity=False).digest()  # a file name, not a security hash
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def crl_sources(directory: str) -> List[Tuple[str, List[str]]]:
    """(alias, [url, ...]) for every ``<alias>.info`` (``crl_url =``) or ``<alias>.crl_url`` in the directory."""
    found: Dict[str, List[str]] = {}
    for entry in sorted(os.listdir(directory)):
        alias, ext = os.path.splitext(entry)
        if ext not in (".info", ".crl_url") or alias in found and ext == ".crl_url":
            continue
        try:
            text = read_regular_file(os.path.join(directory, entry), 1 << 16).decode("utf-8", "replace")
        except OSError:
            continue
        if ext == ".info":
            urls = [url.strip() for match in _CRL_URL.findall(text) for url in match.split(";")]
        else:
            urls = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        urls = [url for url in urls if url.lower().startswith(("http://", "https://"))]
        if urls:
            found[alias] = urls
    return sorted(found.items())


def _load_crl(data: bytes):
    from cryptography import x509

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if b"-----BEGIN X509 CRL-----" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)


def _last_update(crl) -> dt.datetime:
    return crl.last_update_utc if hasattr(crl, "last_update_utc") else crl.last_update.replace(tzinfo=dt.timezone.utc)


def _next_update(crl) -> Optional[dt.datetime]:
    value = crl.next_update_utc if hasattr(crl, "next_update_utc") else crl.next_update
    return value if value is None or value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _checked(data: bytes, ca, alias: str, url: str):
    """The CRL in ``data`` when it is ``ca``'s and its signature verifies; else InvalidInputError."""
    from cryptography.hazmat.primitives import serialization

    try:
        crl = _load_crl(data)
    except ValueError:
        raise InvalidInputError(f"{url} did not send a CRL (neither PEM nor DER)") from None
    if crl.issuer != ca.subject:
        raise InvalidInputError(f"{url} sent the CRL of {grid_dn(crl.issuer.public_bytes())}, not of "
                                f"{grid_dn(ca.subject.public_bytes())}")
    try:
        valid = crl.is_signature_valid(ca.public_key())
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise InvalidInputError(f"the CRL from {url} is not signed by the CA {alias}")
    return crl, crl.public_bytes(serialization.Encoding.PEM)


def _install(directory: str, ca, crl, pem: bytes, replace: Replace) -> Tuple[str, Tuple[str, ...]]:
    """Write ``pem`` as ``<hash>.r0`` and ``<old hash>.r0``: ("installed" or "unchanged", names)."""
    name_der = ca.subject.public_bytes()
    names = tuple(dict.fromkeys((f"{subject_hash(name_der)}.r0", f"{subject_hash_old(name_der)}.r0")))
    olds = {}
    for name in names:
        try:
            olds[name] = read_regular_file(os.path.join(directory, name), MAX_CRL)
        except OSError:
            continue
        try:
            if olds[name] != pem and _last_update(_load_crl(olds[name])) > _last_update(crl):
                raise InvalidInputError(f"the CRL offered is older than the one installed ({name}): a replay, "
                                        "or a mirror lagging behind; kept the installed one")
        except ValueError:
            continue  # not a CRL: replaced below
    state = "unchanged"
    for name in names:
        path = os.path.join(directory, name)
        if olds.get(name) == pem:
            os.utime(path)  # as fetch-crl: the file's age says when the CRL was last confirmed
        else:
            replace(path, pem, 0o644)  # CRLs are public
            state = "installed"
    return state, names


def _fetch_one(directory: str, alias: str, urls: Sequence[str], deadline: float, replace: Replace) -> CrlResult:
    from jenv.ca.fetch import download_tarball

    certs = read_pem_certificates(os.path.join(directory, f"{alias}.pem"))
    if not certs:
        return CrlResult(alias, urls[0], "failed", error=f"{alias}.pem is missing or not a certificate: "
                         "run 'jenv ca-fetch' to reinstall the CAs", exit_code=int(ExitCode.NOT_FOUND))
    problem: Optional[JenvError] = None
    for url in urls:  # mirrors, in order
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            problem = NetworkError(f"no time left for {url} (JENV_TIMEOUT bounds all the downloads)")
            break
        try:
            body = download_tarball(url, remaining, limit=MAX_CRL, deadline=deadline, what="a CRL",
                                    https_only=False).read()
            crl, pem = _checked(body, certs[0], alias, url)
            state, names = _install(directory, certs[0], crl, pem, replace)
        except JenvError as exc:
            problem = exc
            continue
        except OSError as exc:
            problem = NotFoundError(f"cannot write the CRL into {directory}: {exc.strerror or exc}")
            break
        nxt = _next_update(crl)
        return CrlResult(alias, url, state, names, nxt.isoformat() if nxt else None)
    assert problem is not None
    return CrlResult(alias, urls[-1], "failed", error=str(problem), exit_code=int(problem.exit_code))


def fetch_crls(directory: str, timeout: float, replace: Replace) -> List[CrlResult]:
    """Fetch, check and install the CRL of every CA of ``directory`` that names one, within ``timeout``
    seconds in all; each CA's outcome (a failure leaves that CA's installed CRL as it was)."""
    deadline = time.monotonic() + timeout
    return [_fetch_one(directory, alias, urls, deadline, replace) for alias, urls in crl_sources(directory)]


@dataclass(frozen=True)
class CrlInfo:
    """One CRL of a store, for ca-info and status: whose, how old, when the next one is due."""

    issuer: str
    last_update: str
    next_update: Optional[str]
    age_hours: float
    stale: bool


def describe_crls(store: CAStore, now: dt.datetime) -> List[CrlInfo]:
    """The CRLs of a CA store (``<hash>.rN`` files of a directory, X509 CRL blocks of a bundle), each
    once (fetch-crl writes one under two names), oldest first; unreadable ones are left out."""
    if store.kind == "dir":
        datas = []
        for entry in sorted(os.listdir(store.path)):
            if CRL_LINK.match(entry):
                with contextlib.suppress(OSError):
                    datas.append(read_regular_file(os.path.join(store.path, entry), MAX_CRL))
    else:
        datas = _CRL_BLOCK.findall(check_store_file(store))
    found = {}
    for data in datas:
        try:
            crl = _load_crl(data)
        except ValueError:
            continue
        last, nxt = _last_update(crl), _next_update(crl)
        found[(crl.issuer, last)] = CrlInfo(grid_dn(crl.issuer.public_bytes()), last.isoformat(),
                                            nxt.isoformat() if nxt else None,
                                            round((now - last).total_seconds() / 3600, 1), nxt is not None and nxt < now)
    return sorted(found.values(), key=lambda info: info.last_update)
