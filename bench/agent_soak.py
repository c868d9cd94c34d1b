"""The long soak of ``jenv agent`` (issue 25.6, 25.7): a local service issuing short tokens, one agent
unlocked at a pseudo-terminal, a reader sampling the token files every 100 ms, JCentral stopped for a
while (twice by default), and the agent's memory and CPU measured from /proc.

    .venv/bin/python bench/agent_soak.py                      # 60 minutes of 60-second tokens
    .venv/bin/python bench/agent_soak.py --minutes 10 --outages 10,120 --json

A sample is bad when the pair is missing, does not verify against the CA, has a key that does not
belong to the certificate (after a second read under the token lock, as jenv's own reader does), or
has expired outside an outage.  Prints the figures the README's Performance section quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

CHECKOUT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, CHECKOUT)  # run from a checkout without installing

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from jenv.context import Context  # noqa: E402
from jenv.service.sandbox import create_sandbox, load_service_files, sandbox_environment  # noqa: E402
from jenv.service.server import LocalService, load_user_map, run_service  # noqa: E402
from jenv.tokens.check import token_store  # noqa: E402
from jenv.tokens.store import lock_store  # noqa: E402

PASSPHRASE = b"bench passphrase"
TICKS = os.sysconf("SC_CLK_TCK")


def start_agent(env: Dict[str, str]) -> None:
    """``jenv agent start --stay`` on a fresh pty, the passphrase typed at its prompt."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "jenv", "agent", "start", "--stay", "--min-valid=5s"], env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(slave, termios.TIOCSCTTY, 0))
    seen = b""
    while b"Passphrase for" not in seen:
        seen += os.read(master, 4096)
    os.write(master, PASSPHRASE + b"\n")
    proc.wait(timeout=60)
    os.close(master)
    os.close(slave)
    if proc.returncode != 0:
        raise SystemExit(f"the agent did not start (exit {proc.returncode})")


def agent_status(env: Dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "jenv", "agent", "status", "--json"], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def proc_figures(pid: int) -> Tuple[int, int, float]:
    """(VmRSS KiB, VmLck KiB, CPU seconds: user + system) of ``pid``."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields["VmRSS"].split()[0]), int(fields["VmLck"].split()[0]), (int(stat[11]) + int(stat[12])) / TICKS


class Reader(threading.Thread):
    """Samples the token pair every 100 ms; a mismatch is read again under the token lock."""

    def __init__(self, env: Dict[str, str], ca: x509.Certificate):
        super().__init__(daemon=True)
        tmp = Path(env["TMPDIR"])
        self.cert, self.key = tmp / f"tokencert_{os.getuid()}.pem", tmp / f"tokenkey_{os.getuid()}.pem"
        self.store = token_store(Context(env, os.getuid(), env["HOME"]))[1]
        self.ca = ca
        self.samples: List[Tuple[float, Optional[str]]] = []
        self.stop = threading.Event()

    def judge(self) -> Optional[str]:
        try:
            cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
            key = serialization.load_pem_private_key(self.key.read_bytes(), None,
                                                     unsafe_skip_rsa_key_validation=True)
        except FileNotFoundError:
            return "missing"
        try:
            cert.verify_directly_issued_by(self.ca)
        except Exception:  # noqa: BLE001
            return "does not verify"
        if key.public_key().public_numbers() != cert.public_key().public_numbers():
            return "mismatch"
        return "expired" if cert.not_valid_after_utc <= dt.datetime.now(dt.timezone.utc) else None

    def run(self) -> None:
        tick = time.monotonic()
        while not self.stop.is_set():
            when, problem = time.time(), self.judge()
            if problem == "mismatch":
                with lock_store(self.store, 30):
                    problem = self.judge()
            self.samples.append((when, problem))
            tick += 0.1
            self.stop.wait(max(tick - time.monotonic(), 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--token-seconds", type=int, default=60)
    parser.add_argument("--outages", default="10,120", help="seconds JCentral is away, comma-separated ('' none)")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    outages = [float(x) for x in opts.outages.split(",") if x.strip()]
    work = Path(tempfile.mkdtemp(prefix="jenv-agent-soak-"))
    paths = create_sandbox(str(work / "sandbox"), passphrase=PASSPHRASE)
    authority, server_credential = load_service_files(paths)
    service = LocalService(authority, server_credential, load_user_map(paths.users), token_seconds=opts.token_seconds)
    home = work / "home"
    runtime = work / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    duration = opts.minutes * 60
    rss: List[int] = []
    locked: List[int] = []
    comebacks: List[float] = []
    gaps: List[Tuple[float, float]] = []
    server = contextlib.ExitStack()
    host, port = server.enter_context(run_service(service))
    try:
        env = dict(PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=str(home), LANG="C.UTF-8",
                   XDG_RUNTIME_DIR=str(runtime), JENV_RETRY_AFTER="0", PYTHONPATH=CHECKOUT,
                   **sandbox_environment(paths, host, port))
        start_agent(env)
        pid = agent_status(env)["pid"]
        reader = Reader(env, authority.cert)
        reader.start()
        began = time.time()
        cpu0 = proc_figures(pid)[2]
        plan = [(began + duration * (i + 1) / (len(outages) + 1), away) for i, away in enumerate(outages)]
        while time.time() - began < duration:
            figures = proc_figures(pid)
            rss.append(figures[0])
            locked.append(figures[1])
            if plan and time.time() >= plan[0][0]:
                away = plan.pop(0)[1]
                server.close()  # JCentral goes away ...
                gone = time.time()
                time.sleep(away)
                server = contextlib.ExitStack()
                server.enter_context(run_service(service, host, port))  # ... and comes back on its port
                back = time.time()
                renewed = _first_success_after(env, back, 60 + opts.token_seconds)
                comebacks.append(renewed - back)
                gaps.append((gone, renewed + 1))
            time.sleep(5)
        cpu = proc_figures(pid)[2] - cpu0
        reader.stop.set()
        reader.join(10)
        subprocess.run([sys.executable, "-m", "jenv", "agent", "stop"], env=env, capture_output=True, timeout=60)
    finally:
        server.close()
    bad = [(w, p) for w, p in reader.samples if p and not (p == "expired" and any(a <= w <= b for a, b in gaps))]
    result = {"minutes": opts.minutes, "token_seconds": opts.token_seconds, "tokens": service.token_requests,
              "samples": len(reader.samples), "bad_samples": len(bad), "outages_s": outages,
              "first_renewal_after_comeback_s": [round(c, 1) for c in comebacks],
              "rss_kib": {"min": min(rss), "median": int(statistics.median(rss)), "max": max(rss)},
              "vmlck_kib_max": max(locked), "cpu_s": round(cpu, 2),
              "cpu_percent_of_one_core": round(100 * cpu / duration, 3),
              "cpu_ms_per_token": round(1000 * cpu / max(service.token_requests, 1), 1)}
    print(json.dumps(result, indent=None if opts.json else 2))
    return 0 if not bad else 1


def _first_success_after(env: Dict[str, str], since: float, timeout: float) -> float:
    """When the agent's first successful renewal after ``since`` came (it may have needed none: a token
    still valid after a short outage is renewed at its planned time, so the wait is bounded)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        success = agent_status(env).get("last_success") or {}
        if success.get("time", 0) >= since:
            return success["time"]
        time.sleep(0.2)
    return float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
