"""Benchmark: whole-process times of jenv's commands next to the Python start-up floor.

Usage:
  python bench/run.py [--runs N] [--warmup N] [--json]

Everything happens in a fresh temporary directory: a throwaway CA, user and
local JCentral-compatible service (jenv.service.sandbox, jenv.service.server in a thread),
HOME, TMPDIR, X509_* and ALIENPY_JCENTRAL* pointing there.  The real user's
files and environment are never read or touched.  Each figure is the median
wall-clock time of N complete processes (after warm-up runs), all measured
in the same run so that the ratios compare like with like:

  python -c pass            the floor: the same interpreter starting and exiting
  jenv token                valid token files present (the login fast path), stdout to /dev/null
  jenv token-info           details of the token certificate
  jenv status               every credential, the CA store, endpoint and shell
  openssl x509 -checkend    openssl's own "still valid for 600 s?" on the token
  jenv token-init           a new token from the local service (network, key generation)
  jenv alien-token-info     O2's token check, as jenv answers it
  alien-token-info          the same check by alienpy's own command (when alienpy is installed)

jenv runs as the installed console script when ``jenv`` is on PATH, else as
``python -m jenv`` with this interpreter; the output says which.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

CHECKOUT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, CHECKOUT)  # run from a checkout without installing

from jenv.service.sandbox import SandboxPaths, create_sandbox, load_service_files, sandbox_environment  # noqa: E402
from jenv.service.server import LocalService, load_user_map, run_service  # noqa: E402

#: Modules whose presence on the fast path would mean work it should not do.
HEAVY = ("cryptography", "websockets", "requests", "ssl", "urllib3", "docopt", "shellingham", "json")


@dataclass(frozen=True)
class Row:
    name: str
    command: str
    runs: int
    median_ms: Optional[float]
    min_ms: Optional[float]
    max_ms: Optional[float]
    ratio: Optional[float]
    note: str = ""


def jenv_command() -> tuple:
    """(argv prefix, interpreter, description): the console script if on PATH, else python -m jenv."""
    script = shutil.which("jenv")
    if script:
        with open(script, "rb") as handle:
            first = handle.readline()
        interpreter = first[2:].decode().strip().split()[0] if first.startswith(b"#!") else sys.executable
        return [script], interpreter, f"console script {script} (interpreter {interpreter})"
    return [sys.executable, "-m", "jenv"], sys.executable, \
        f"{sys.executable} -m jenv (no 'jenv' on PATH; PYTHONPATH={CHECKOUT} for every row)"


def bench_environment(paths: SandboxPaths, home: Path, host: str, port: int, script: bool) -> Dict[str, str]:
    """A closed environment: nothing of the caller's X509_*, JALIEN_*, ALIENPY_* or JENV_* leaks in.

    Without a console script, PYTHONPATH names this checkout (for the floor too, so rows stay comparable).
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "SHELL": "/bin/bash", "JENV_TIMEOUT": "10"}
    if not script:
        env["PYTHONPATH"] = CHECKOUT
    env.update(sandbox_environment(paths, host, port))
    return env


def run_once(argv: Sequence[str], env: Dict[str, str]) -> float:
    """Wall-clock milliseconds of one complete process; raises RuntimeError when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(list(argv), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - start) * 1000.0
    if proc.returncode != 0:
        last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"exit {proc.returncode}: {last[0]}")
    return elapsed


def time_interleaved(cases: Sequence[tuple], env: Dict[str, str], runs: int, warmup: int) -> Dict[str, object]:
    """name -> list of milliseconds, or the error text of the first failed run.

    Rounds run every command once in turn, so a burst of load elsewhere on
    the machine slows all rows alike instead of one row.
    """
    results: Dict[str, object] = {name: [] for name, _argv in cases}
    for index in range(warmup + runs):
        for name, argv in cases:
            if isinstance(results[name], str):
                continue
            try:
                elapsed = run_once(argv, env)
            except (RuntimeError, OSError) as exc:
                results[name] = f"failed: {exc}"
                continue
            if index >= warmup:
                results[name].append(elapsed)
    return results


def fast_path_imports(interpreter: str, env: Dict[str, str]) -> Dict[str, object]:
    """What ``jenv token`` imports (``-X importtime``): the heavy packages, and the slowest top-level imports.

    Start-up imports every Python run pays (``site`` with its .pth files,
    ``encodings``) are left out: they are part of the floor.
    """
    argv = [interpreter, "-X", "importtime", "-m", "jenv", "token"]
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    heavy, top = set(), {}
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        module = parts[2].rstrip()
        name = module.strip()
        if name.split(".")[0] in HEAVY:
            heavy.add(name.split(".")[0])
        depth = (len(module) - len(module.lstrip(" "))) // 2
        if depth == 0 and name.split(".")[0] not in ("site", "encodings", "codecs") and not name.startswith("_"):
            top[name] = round(int(parts[1]) / 1000.0, 1)
    slowest = dict(sorted(top.items(), key=lambda item: -item[1])[:6])
    return {"heavy": sorted(heavy), "slowest_top_level_ms": slowest, "top_level_total_ms": round(sum(top.values()), 1)}


def _is_jenv_shim(path: str) -> bool:
    with open(path, "rb") as handle:
        return b"jenv shim" in handle.read(4096)


def measure(runs: int, warmup: int, workdir: Path) -> dict:
    """Set up the sandbox and service in ``workdir``, time every command, return the report."""
    prefix, interpreter, how = jenv_command()
    paths = create_sandbox(str(workdir / "sandbox"))
    home = workdir / "home"
    home.mkdir(mode=0o700)
    authority, server_credential = load_service_files(paths)
    service = LocalService(authority, server_credential, load_user_map(paths.users))
    token_cert = os.path.join(paths.tmp, f"tokencert_{os.getuid()}.pem")
    cases = [
        ("python -c pass (floor)", [interpreter, "-c", "pass"]),
        ("jenv token (valid token, files)", prefix + ["token"]),
        ("jenv token-info", prefix + ["token-info"]),
        ("jenv status", prefix + ["status"]),
        ("openssl x509 -checkend 600", ["openssl", "x509", "-noout", "-checkend", "600", "-in", token_cert]),
        ("jenv token-init (local service)", prefix + ["token-init"]),
        ("jenv alien-token-info", prefix + ["alien-token-info"]),
    ]
    alienpy = shutil.which("alien-token-info", path=os.path.dirname(interpreter)) or shutil.which("alien-token-info")
    if alienpy and not _is_jenv_shim(alienpy):
        cases.append(("alien-token-info (alienpy)", [alienpy]))
    rows: List[Row] = []
    with run_service(service) as (host, port):
        env = bench_environment(paths, home, host, port, script=prefix[0] != sys.executable)
        run_once(prefix + ["token-init"], env)  # the valid token every other row reads
        results = time_interleaved(cases, env, runs, warmup)
        floor = None
        for name, argv in cases:
            shown = " ".join(os.path.basename(a) if a in (interpreter, *prefix[:1]) else a for a in argv)
            samples = results[name]
            if isinstance(samples, str):
                rows.append(Row(name, shown, 0, None, None, None, None, samples))
                continue
            median = statistics.median(samples)
            floor = floor if floor is not None else median
            rows.append(Row(name, shown, runs, round(median, 1), round(min(samples), 1), round(max(samples), 1),
                            round(median / floor, 2)))
        imports = fast_path_imports(interpreter, env)
    return {"jenv": how, "python": sys.version.split()[0], "interpreter": interpreter, "runs": runs,
            "warmup": warmup, "cpus": os.cpu_count(), "token_requests_served": service.token_requests,
            "fast_path_imports": imports, "rows": [asdict(row) for row in rows]}


def render_markdown(report: dict) -> str:
    """The report as a markdown table plus the facts needed to reproduce it."""
    lines = [f"jenv run as: {report['jenv']}; Python {report['python']}; {report['cpus']} CPUs; "
             f"median of {report['runs']} runs after {report['warmup']} warm-up rounds, "
             "commands interleaved round by round", "",
             "| command | median ms | min ms | max ms | x floor |", "|---|---:|---:|---:|---:|"]
    for row in report["rows"]:
        if row["median_ms"] is None:
            lines.append(f"| {row['name']} | {row['note']} | | | |")
            continue
        lines.append(f"| {row['name']} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | {row['max_ms']:.1f} "
                     f"| {row['ratio']:.2f} |")
    imports = report["fast_path_imports"]
    slowest = ", ".join(f"{name} {ms:.1f}" for name, ms in imports["slowest_top_level_ms"].items())
    lines += ["", f"`jenv token` fast path: {imports['top_level_total_ms']:.1f} ms of imports beyond the floor "
              f"(slowest, ms: {slowest}); of {', '.join(HEAVY)} it imports: {', '.join(imports['heavy']) or 'none'}"]
    expected = 1 + report["warmup"] + report["runs"]
    lines.append(f"Token requests the service answered: {report['token_requests_served']} (token-init ran "
                 f"{expected} times, so `jenv token` made {report['token_requests_served'] - expected} requests)")
    token = next((r for r in report["rows"] if r["name"].startswith("jenv token (")), None)
    if token and token["ratio"] is not None:
        verdict = "within" if token["ratio"] <= 2.0 else "MISSES"
        lines.append(f"Target `jenv token` <= 2x floor: {verdict} ({token['ratio']:.2f}x)")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs per command (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs first (default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be >= 1 and --warmup >= 0")
    workdir = Path(tempfile.mkdtemp(prefix="jenv-bench-"))
    try:
        os.chmod(workdir, 0o700)
        report = measure(args.runs, args.warmup, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2) if args.json else render_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
