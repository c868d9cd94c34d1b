"""The short soak (issue 25.6; the long one is bench/agent_soak.py): 15-second tokens, an agent that
renews them while a reader samples the token files every 100 ms, then JCentral away until the token
has expired, and back.

Every sample must verify against the CA, have the key that belongs to the certificate, and be
unexpired, except while JCentral is away after the token ran out.  A reader that finds a pair that
does not match does what jenv's own reader does (:func:`jenv.tokens.store.recover_store`'s rule): it
reads again under the token lock, and only that second read counts.  Once JCentral is back, the
agent's first renewal comes within 5 seconds (it probes every 2 s while no valid token is left).
About 75 seconds.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jenv.context import Context
from jenv.service.server import LocalService, load_user_map, run_service
from jenv.tokens.check import token_store
from jenv.tokens.store import lock_store
from support.agentkit import start, status, token_paths, wait_for
from support.launcher import REPO, clean_env
from support.service import encrypted_user_key

TOKEN_SECONDS = 15


class Sampler(threading.Thread):
    """Reads the token pair every 100 ms and judges it as a consumer would."""

    def __init__(self, env, ca: x509.Certificate):
        super().__init__(daemon=True)
        self.cert_path, self.key_path = token_paths(env)
        self.store = token_store(Context(env, 0, env["HOME"]))[1]
        self.ca = ca
        self.samples: List[Tuple[float, Optional[str]]] = []
        self.locked_rereads = 0
        self.stop = threading.Event()

    def _read(self) -> Optional[str]:
        """None when the pair is good, else what is wrong ("mismatch", "expired", ...)."""
        try:
            cert_pem, key_pem = self.cert_path.read_bytes(), self.key_path.read_bytes()
        except FileNotFoundError as exc:
            return f"missing {exc.filename}"
        cert = x509.load_pem_x509_certificate(cert_pem)
        # the full RSA check is not needed: the public key is compared with the certificate's below
        key = serialization.load_pem_private_key(key_pem, None, unsafe_skip_rsa_key_validation=True)
        try:
            cert.verify_directly_issued_by(self.ca)
        except Exception as exc:  # noqa: BLE001 - any failure is a bad sample, with its reason
            return f"does not verify: {exc!r}"
        if key.public_key().public_numbers() != cert.public_key().public_numbers():
            return "mismatch"
        if cert.not_valid_after_utc <= dt.datetime.now(dt.timezone.utc):
            return "expired"
        return None

    def run(self) -> None:
        tick = time.monotonic()
        while not self.stop.is_set():
            when, problem = time.time(), self._read()
            if problem == "mismatch":  # between the key's rename and the certificate's: read under the lock
                self.locked_rereads += 1
                with lock_store(self.store, 30):
                    problem = self._read()
            self.samples.append((when, problem))
            tick += 0.1  # every 100 ms, however long a sample took
            self.stop.wait(max(tick - time.monotonic(), 0))


def test_the_agent_keeps_the_token_valid_and_comes_back_with_jcentral(world, home):
    service = LocalService(world.authority, world.authority.issue_server(),
                           load_user_map(str(world.users_file)), token_seconds=TOKEN_SECONDS)
    cert, plain_key = world.user_files("jdoe")
    key = encrypted_user_key(plain_key, home / "userkey.pem", b"soak passphrase", 0o400)
    agents: list = []
    sampler = None
    try:
        with run_service(service) as (host, port):
            env = clean_env(home, X509_USER_CERT=cert, X509_USER_KEY=str(key), X509_CERT_DIR=str(world.ca_dir),
                            ALIENPY_JCENTRAL=host, ALIENPY_JCENTRAL_PORT=str(port),
                            PYTHONPATH=str(REPO))
            result, run = start(env, agents, "--min-valid=2s", answer=b"soak passphrase")
            assert result.returncode == 0 and run is not None, result.output
            wait_for(lambda: (status(env) or {}).get("last_success"), 15)
            sampler = Sampler(env, world.authority.cert)
            sampler.start()
            time.sleep(40)
            renewals = service.token_requests
        away = time.time()
        expired = wait_for(lambda: (lambda s: s["token_valid_until"] is None and s["last_failure"]
                                    and s["last_failure"]["time"] > s["last_success"]["valid_until"] and s)(
            status(env)), TOKEN_SECONDS + 10)
        assert "refused the connection" in expired["last_failure"]["cause"]
        time.sleep(3)
        with run_service(service, host, port):
            back = time.time()
            renewed = wait_for(lambda: (lambda s: s["last_success"]["time"] > back and s)(status(env)), 15)
            time.sleep(2)
        sampler.stop.set()
        sampler.join(10)
    except AssertionError as exc:
        logs = list(Path(home.parent.parent).glob(f"{home.parent.name}-{home.name}-run/agent-*.log"))
        raise AssertionError(f"{exc}; the agent's log:\n{logs[0].read_text() if logs else '(none)'}") from None
    finally:
        if sampler is not None:
            sampler.stop.set()
        for agent in agents:
            agent.kill()
    assert renewals >= 4  # the first token and at least three renewals in 40 s of 15-second tokens
    assert renewed["last_success"]["time"] - back <= 5, renewed
    gap = (away, renewed["last_success"]["time"] + 1)
    bad = [(when, problem) for when, problem in sampler.samples
           if problem and not (problem == "expired" and gap[0] <= when <= gap[1])]
    assert len(sampler.samples) > 200 and not bad, bad[:5]
    assert any(problem == "expired" for _when, problem in sampler.samples)  # the outage did bite
    log = next(Path(env["XDG_RUNTIME_DIR"]).glob("agent-*.log")).read_text()
    failures = [line for line in log.splitlines() if "renewal failed" in line]
    assert any("the token stays valid until" in line for line in failures), log
    assert any("no valid token is left" in line for line in failures), log
    assert "JCentral accepts connections again" in log
    print(f"{len(sampler.samples)} samples, {sampler.locked_rereads} read again under the lock, "
          f"{service.token_requests} tokens, first renewal {renewed['last_success']['time'] - back:.1f}s "
          "after JCentral came back")
