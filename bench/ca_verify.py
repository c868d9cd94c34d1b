#!/usr/bin/env python3
"""Benchmark: `jenv cert-verify` against a real-sized CA store, beside `openssl verify -CApath`.

    python bench/ca_verify.py [--cas 800] [--runs 21] [--keep DIR]

Generates an IGTF-layout CA directory (``<alias>.pem``, ``.info``,
``.namespaces``, ``.signing_policy``, ``.crl_url``, and ``<hash>.0`` /
``<hash>.namespaces`` / ``<hash>.signing_policy`` symbolic links) holding
``--cas`` CA certificates, among them the root and intermediate of a user
certificate.  Both commands then verify that certificate as whole processes;
the table shows the median wall time of each, as ratios to ``openssl verify``
and to ``python -c 'import OpenSSL.crypto'`` (the floor of any verifier built
on pyOpenSSL; the goal is no work beyond the library's own).  :func:`run_benchmark` returns the numbers for
bench/run.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from jenv.lite.names import subject_hash  # noqa: E402

__all__ = ["make_igtf_store", "time_interleaved", "run_benchmark", "main"]

UTC = dt.timezone.utc


def _name(country: str, org: str, cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: x509.Name, key, issuer_name: x509.Name, signer, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=10)).not_valid_after(now + dt.timedelta(days=3000))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False)
            .sign(signer, hashes.SHA256()))


def _write_ca(store: Path, alias: str, cert: x509.Certificate) -> None:
    """One CA the IGTF way: alias files plus hash-named links to them."""
    digest = subject_hash(cert.subject.public_bytes())
    (store / f"{alias}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (store / f"{alias}.info").write_text(f"alias = {alias}\nversion = 1.0\nsha1fp.0 = 00\n")
    (store / f"{alias}.namespaces").write_text(f'TO Issuer "/C=xx/O=bench/CN={alias}" PERMIT Subject "/C=xx/*"\n')
    (store / f"{alias}.signing_policy").write_text(f"access_id_CA X509 '/C=xx/O=bench/CN={alias}'\n")
    (store / f"{alias}.crl_url").write_text(f"http://crl.example.org/{alias}.crl\n")
    index = 0
    while os.path.lexists(store / f"{digest}.{index}"):
        index += 1
    os.symlink(f"{alias}.pem", store / f"{digest}.{index}")
    for suffix in ("namespaces", "signing_policy"):
        if not os.path.lexists(store / f"{digest}.{suffix}"):
            os.symlink(f"{alias}.{suffix}", store / f"{digest}.{suffix}")


def make_igtf_store(directory: Path, count: int = 800) -> Path:
    """Write an IGTF-layout store of ``count`` CAs into ``directory``; returns the user cert path.

    The filler CAs share one EC key (key generation and RSA signing would
    dominate the setup and do not change lookup cost); the user's chain is
    RSA with its own keys, like most grid chains.
    """
    store = directory / "certificates"
    store.mkdir(parents=True)
    shared = ec.generate_private_key(ec.SECP256R1())
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    user_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name, inter_name = _name("ch", "CERN", "Bench Root CA"), _name("ch", "CERN", "Bench Grid CA")
    root = _cert(root_name, root_key, root_name, root_key, True)
    inter = _cert(inter_name, inter_key, root_name, root_key, True)
    user = _cert(_name("ch", "CERN", "Bench User"), user_key, inter_name, inter_key, False)
    middle = count // 2
    for index in range(count - 2):
        country = chr(97 + index % 26) + chr(97 + index // 26 % 26)
        subject = _name(country, f"Bench Org {index}", f"Bench CA {index}")
        _write_ca(store, f"BenchCA-{index:04d}", _cert(subject, shared, subject, shared, True))
        if index == middle:
            _write_ca(store, "Bench-Root", root)
            _write_ca(store, "Bench-Grid", inter)
    user_path = directory / "usercert.pem"
    user_path.write_bytes(user.public_bytes(serialization.Encoding.PEM))
    return user_path


def time_interleaved(commands: Dict[str, Sequence[str]], env: Dict[str, str], runs: int) -> Dict[str, List[float]]:
    """Wall times in seconds of whole-process runs, the commands taking turns round by round
    (after one warm-up round), so machine load hits every row alike; each run must exit 0."""
    samples: Dict[str, List[float]] = {label: [] for label in commands}
    for attempt in range(runs + 1):
        for label, argv in commands.items():
            start = time.perf_counter()
            proc = subprocess.run(list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
            if attempt:
                samples[label].append(elapsed)
    return samples


def run_benchmark(count: int = 800, runs: int = 21, keep: str = "") -> Dict[str, float]:
    """Generate the store, time both verifiers; returns median seconds and the ratio."""
    work = Path(keep or tempfile.mkdtemp(prefix="jenv-bench-"))
    try:
        if keep and work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        user = make_igtf_store(work, count)
        setup = time.perf_counter() - started
        store = work / "certificates"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "LANG": "C.UTF-8",
               "PYTHONPATH": str(ROOT), "X509_USER_CERT": str(user), "X509_CERT_DIR": str(store)}
        samples = time_interleaved({
            "openssl_s": ["openssl", "verify", "-CApath", str(store), str(user)],
            "jenv_s": [sys.executable, "-m", "jenv", "cert-verify"],
            "python_startup_s": [sys.executable, "-c", "pass"],
            # The floor of a verifier built on pyOpenSSL: start the interpreter, import the library, exit.
            "import_floor_s": [sys.executable, "-c", "import OpenSSL.crypto"],
        }, env, runs)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    result = {"cas": float(count), "setup_s": setup}
    result.update({label: statistics.median(values) for label, values in samples.items()})
    result["ratio"] = result["jenv_s"] / result["openssl_s"]
    result["ratio_to_import"] = result["jenv_s"] / result["import_floor_s"]
    return result


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cas", type=int, default=800, help="CA certificates in the store (default 800)")
    parser.add_argument("--runs", type=int, default=21, help="timed runs per command (default 21)")
    parser.add_argument("--keep", default="", help="build the store in this directory and keep it")
    args = parser.parse_args(list(argv) or None)
    r = run_benchmark(args.cas, args.runs, args.keep)
    print(f"CA store: {int(r['cas'])} CAs in IGTF layout (generated in {r['setup_s']:.1f} s); "
          f"median of {args.runs} whole-process runs")
    print(f"{'command':<42}{'median ms':>10}{'x openssl':>11}{'x import':>10}")
    rows = [("openssl verify -CApath", r["openssl_s"]), ("jenv cert-verify", r["jenv_s"]),
            ("python -c pass (interpreter start)", r["python_startup_s"]),
            ("python -c 'import OpenSSL.crypto'", r["import_floor_s"])]
    for label, seconds in rows:
        print(f"{label:<42}{seconds * 1000:>10.1f}{seconds / r['openssl_s']:>10.2f}x"
              f"{seconds / r['import_floor_s']:>9.2f}x")
    print(f"jenv cert-verify = {r['ratio']:.2f}x openssl verify, {r['ratio_to_import']:.2f}x importing pyOpenSSL "
          f"(the work beyond the library's own: "
          f"{(r['jenv_s'] - r['import_floor_s']) * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
