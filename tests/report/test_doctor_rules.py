"""The pure decisions of ``jenv doctor`` (jenv.report.doctor), in process: order, exit code, thresholds, and the
command's wiring (help, JSON, completions)."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from support.doctorkit import validate
from jenv.errors import ExitCode
from jenv.report import doctor as d
from support.launcher import run_in_process

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)


def test_failures_come_first_then_warnings_in_the_order_of_the_chain():
    findings = [d.Finding("a", "ok", "fine"), d.Finding("b", "warn", "meh", "x"), d.Finding("c", "skip", "not checked"),
                d.Finding("d", "fail", "broken", "fix d", ExitCode.NETWORK), d.Finding("e", "warn", "meh 2", "y"),
                d.Finding("f", "fail", "broken too", "fix f", ExitCode.REFUSED)]
    assert [f.id for f in d.ordered(findings)] == ["d", "f", "b", "e", "a", "c"]
    assert d.exit_code(findings) == ExitCode.NETWORK
    assert d.exit_code([f for f in findings if f.state != "fail"]) == 0


def test_every_rendering_is_one_line_per_finding_and_the_json_fits_the_schema():
    findings = [d.Finding("net.tcp", "fail", "127.0.0.1:1: refused", "check ALIENPY_JCENTRAL_PORT", ExitCode.NETWORK),
                d.Finding("clock", "ok", "0s")]
    import json

    validate(json.loads(d.render(findings, True)))
    assert d.render(findings, False).splitlines() == [
        "FAIL 127.0.0.1:1: refused -- fix: check ALIENPY_JCENTRAL_PORT [net.tcp]", "OK   0s [clock]"]


@pytest.mark.parametrize("skew, state", [(0, "ok"), (d.CLOCK_WARN_SECONDS + 5, "warn"),
                                         (-(d.CLOCK_WARN_SECONDS + 5), "warn"), (d.CLOCK_FAIL_SECONDS + 5, "fail"),
                                         (-600, "fail")])
def test_clock_thresholds(skew, state):
    import email.utils

    from jenv.jcentral.client import Probe
    from jenv.locations import Endpoint

    received = NOW.timestamp()
    date = email.utils.formatdate(received + skew, usegmt=True)
    probe = Probe(phase="done", status=101, date=date, received=received)
    res = d.EndpointResult(Endpoint("jc.example", 8097, "test"), "jc.example", resolved=True, timeout=3,
                           addresses=[d.AddressResult(socket.AF_INET, ("192.0.2.1", 8097), probe, finished=True)])
    clock = [f for f in d.network_findings(res, lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc))
             if f.id == "clock"]
    assert [f.state for f in clock] == [state]


def test_a_failing_address_is_a_warning_while_another_works_and_a_failure_when_none_does():
    from jenv.jcentral.client import Probe
    from jenv.locations import Endpoint

    good = d.AddressResult(socket.AF_INET6, ("::1", 8097, 0, 0), Probe(phase="done", status=101), finished=True)
    bad = d.AddressResult(socket.AF_INET, ("127.0.0.1", 8097), Probe(phase="tcp", error=ConnectionRefusedError()),
                          error="refused", finished=True)
    endpoint = Endpoint("localhost", 8097, "test")
    both = d.network_findings(d.EndpointResult(endpoint, "localhost", resolved=True, addresses=[good, bad]), None)
    assert [(f.id, f.state) for f in both if f.id == "net.tcp"] == [("net.tcp", "warn")]
    alone = d.network_findings(d.EndpointResult(endpoint, "localhost", resolved=True, addresses=[bad]), None)
    assert [(f.id, f.state) for f in alone if f.id == "net.tcp"] == [("net.tcp", "fail")]


def test_crl_rules():
    old = d.CRLInfo("/ca/abcd1234.r0", "CN=Old", NOW - dt.timedelta(days=1))
    fresh = d.CRLInfo("/ca/ef012345.r0", "CN=Fresh", NOW + dt.timedelta(days=1))
    assert [f.state for f in d.crl_findings([old, fresh], NOW, require=False)] == ["warn"]
    assert [f.code for f in d.crl_findings([old], NOW, require=True)] == [ExitCode.VERIFY_FAILED]
    assert [f.state for f in d.crl_findings([fresh], NOW, require=False)] == ["ok"]
    assert d.crl_findings([], NOW, require=True) == []


def test_environment_rules(tmp_path):
    site = str(tmp_path / "site")
    env = d.Environment({"cryptography": f"{site}/cryptography/__init__.py", "websockets": None,
                         "docopt": f"{site}/.venv/lib/python3/site-packages/docopt.py",  # below the entry: not from it
                         "requests": f"{tmp_path}/user/requests/__init__.py"},
                        (site,), str(tmp_path / "user"), {"alien-token-info": (("/x/alien-token-info", "other"),),
                                                          "alien.py": (("/y/alien.py", "alienpy"),)}, "")
    found = {f.id: f for f in d.environment_findings(env)}
    assert found["env.library.cryptography"].code == ExitCode.INVALID
    assert found["env.library.websockets"].state == "fail"
    assert found["env.library.requests"].state == "warn"
    assert "env.library.docopt" not in found
    assert found["env.path.alien-token-info"].state == "warn" and found["env.path.alien.py"].state == "ok"


@pytest.mark.parametrize("host, env, warned", [("lxplus912.cern.ch", {}, True),
                                               ("lxplus912.cern.ch", {"JENV_PRIVATE_TMP": "0"}, False),
                                               ("laptop", {"JENV_PRIVATE_TMP": "1"}, True), ("laptop", {}, False)])
def test_node_private_tmp_follows_the_login_hooks_rule(host, env, warned):
    from jenv.shells.hook import node_private_tmp

    facts = d.DirectoryFacts("/tmp", 0o1777, 0, (), node_private_tmp(env, host), host, "/home/u")
    assert any(f.id == "token.dir.node" for f in d.directory_findings(facts, 1000)) is warned


def test_afs_home_is_named():
    facts = d.DirectoryFacts("/tmp", 0o1777, 0, (), False, "node", "/afs/cern.ch/user/j/jdoe")
    assert [f.state for f in d.directory_findings(facts, 1000) if f.id == "home.afs"] == ["warn"]


def test_help_and_the_completions_know_the_command():
    from pathlib import Path

    for args in (["doctor", "-h"], ["help", "doctor"]):
        result = run_in_process(args, {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}, front="docopt")
        assert result.returncode == 0 and "jenv doctor [--json]" in result.stdout
    assert "doctor" in run_in_process(["--help"], {"PATH": "/usr/bin:/bin"}, front="docopt").stdout
    data = Path(d.__file__).resolve().parents[1] / "data"
    for name in ("jenv.bash", "_jenv", "jenv.fish"):
        assert "doctor" in (data / "completions" / name).read_text(), name
    assert (data / "schemas" / "jenv.doctor.v1.json").is_file()


def test_the_pythonpath_entry_jenv_itself_comes_from_is_not_a_shadow(tmp_path):
    """``pip install --target DIR jenv`` with PYTHONPATH=DIR: its libraries there are jenv's own."""
    import os

    import jenv

    own = os.path.dirname(os.path.dirname(os.path.abspath(jenv.__file__)))
    env = d.gather_environment({"PYTHONPATH": os.pathsep.join([own, str(tmp_path)]), "PATH": ""})
    assert env.python_path == (str(tmp_path),)


def test_an_attempt_that_breaks_in_its_thread_is_that_address_failure(monkeypatch):
    """Whatever goes wrong inside an address's thread becomes its finding, never a thread traceback."""
    from jenv.locations import Endpoint

    def broken(*args):
        raise RuntimeError("the TLS library is broken")

    monkeypatch.setattr(d, "_probe_one", broken)
    addr = d.AddressResult(socket.AF_INET, ("127.0.0.1", 1))
    d._guarded_probe(addr)
    found = d.network_findings(d.EndpointResult(Endpoint("127.0.0.1", 1, "test"), "127.0.0.1", resolved=True,
                                                addresses=[addr]), None)
    assert [(f.state, "the TLS library is broken" in f.detail) for f in found if f.id == "net.tcp"] == [("fail", True)]
