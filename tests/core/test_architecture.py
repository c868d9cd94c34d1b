"""The layout is the architecture: imports flow one way, the service is a leaf, the fast path stays light.

Read from the source with ``ast`` (issue 10.2).  The layers, lowest first; a
module may import from its own layer and the ones below it, never above:

    lite -> base (errors, locations, context, safefile, credentials, pem, durations) -> shells -> ca -> jcentral
         -> tokens -> report -> service -> commands -> cli (cli.py, __main__.py)

``service`` (the local JCentral-compatible service) is a leaf: only
``commands`` may import it.  No import cycle between modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Set

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "jenv"
LAYERS = ["lite", "base", "shells", "ca", "jcentral", "tokens", "report", "service", "commands", "cli"]
BASE = {"jenv", "jenv.errors", "jenv.locations", "jenv.context", "jenv.safefile", "jenv.credentials", "jenv.pem",
        "jenv.durations"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: Dict[str, Path] = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.AST):
    """Every node, except those under ``if TYPE_CHECKING:`` (annotations only, never imported)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path) -> Set[str]:
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("jenv"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in MODULES)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("jenv"))
    return {name for name in found if name in MODULES}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def layer(module: str) -> str:
    if module in BASE or module.startswith("jenv.safefile."):
        return "base"
    if module in ("jenv.cli", "jenv.login", "jenv.__main__"):
        return "cli"
    return module.split(".")[1]


def test_every_module_has_a_layer():
    assert {layer(m) for m in MODULES} <= set(LAYERS), sorted(m for m in MODULES if layer(m) not in LAYERS)


def test_imports_only_point_down():
    upward = [(m, d) for m, deps in GRAPH.items() for d in deps
              if LAYERS.index(layer(d)) > LAYERS.index(layer(m))
              and not (layer(m) == "shells" and d == "jenv.shells")]
    assert upward == []


def test_the_service_is_a_leaf():
    users = sorted(m for m, deps in GRAPH.items() for d in deps
                   if layer(d) == "service" and layer(m) not in ("service", "commands"))
    assert users == []


def test_no_import_cycles():
    state: Dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for dep in sorted(GRAPH[node]):
            if dep == "jenv" or node == "jenv":
                continue
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_checker_sees_a_violation():
    """The negative twin: an upward import is found (so the tests above can fail)."""
    fake = dict(GRAPH, **{"jenv.lite.validity": GRAPH["jenv.lite.validity"] | {"jenv.ca.verify"}})
    assert [(m, d) for m, deps in fake.items() for d in deps
            if LAYERS.index(layer(d)) > LAYERS.index(layer(m))] == [("jenv.lite.validity", "jenv.ca.verify")]


#: What the login forms may import, and what never (issue 19.8): declared once, in jenv/login.py.
from jenv.login import LOGIN_BLOCKED as BLOCKED, LOGIN_MODULES as FAST_PATH  # noqa: E402

#: What the offline commands beyond the login forms (whoami, on the fast path too) must not load either.
NO_CRYPTO = ("cryptography", "ssl", "_ssl", "websockets", "requests", "OpenSSL", "docopt")

_BLOCKER = textwrap.dedent(f"""
    import sys
    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name in {BLOCKED!r} or name.split(".")[0] in {BLOCKED!r}:
                raise ImportError("blocked on the fast path: " + name)
            return None
    sys.meta_path.insert(0, Blocked())
""")


def _blocked_run(code: str, env=None, cwd=REPO):
    """``code`` in a fresh interpreter without site (so nothing is imported before the blocker; the
    editable install's finder alone would load re and pathlib), jenv from this checkout."""
    import os

    env = dict(os.environ if env is None else env, PYTHONPATH=str(REPO))
    code = _BLOCKER + code + "\nleft = [m for m in sys.modules if m in BLOCKED or m.split('.')[0] in BLOCKED]" \
        "\nassert not left, left"
    return subprocess.run([sys.executable, "-S", "-c", f"BLOCKED = {BLOCKED!r}\n" + code], capture_output=True,
                          text=True, env=env, cwd=str(cwd), timeout=60)


@pytest.mark.parametrize("module", FAST_PATH)
@pytest.mark.slow
def test_fast_path_modules_import_without_the_heavy_libraries(module):
    proc = _blocked_run(f"import {module}")
    assert proc.returncode == 0, proc.stderr


def _valid_token_env(tmp_path, root_ca, dn: str = "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe"):
    """A clean environment whose default token files hold a valid token with subject ``dn``."""
    import os

    from support.launcher import clean_env

    env = clean_env(tmp_path / "home")
    leaf = root_ca.issue(dn)
    tmp = Path(env["TMPDIR"])
    cert, key = tmp / f"tokencert_{os.getuid()}.pem", tmp / f"tokenkey_{os.getuid()}.pem"
    cert.write_bytes(leaf.cert_pem)
    key.write_bytes(leaf.key_pem(fmt="traditional"))
    cert.chmod(0o400)
    key.chmod(0o400)
    return env, cert


@pytest.mark.parametrize("argv, expected_code, expected_out", [
    (["token", "--shell", "bash"], 0, "export JALIEN_TOKEN_CERT={cert};"),
    (["token", "--shell=fish"], 0, "set -gx JALIEN_TOKEN_CERT '{cert}';"),
    (["-shell", "tcsh", "token"], 0, "setenv JALIEN_TOKEN_CERT '{cert}';"),
    (["token", "--check", "--min-valid", "1h"], 0, ""),
    (["token", "--check", "--min-valid=400d"], 5, ""),
    (["prompt"], 0, "d"),
    (["hook", "bash"], 0, "export JALIEN_TOKEN_CERT={cert};"),
    (["hook", "zsh"], 0, "autoload -Uz _jenv"),
    (["alien-token-info"], 0, "DN >>> C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe\nISSUER >>> "),  # O2's token check
])
@pytest.mark.slow
def test_the_login_forms_run_with_the_heavy_modules_blocked(tmp_path, root_ca, argv, expected_code, expected_out):
    """Once the token was judged (the first run, which loads the libraries), jenv.login answers these
    without docopt, typing, enum, re, subprocess, ctypes or cryptography: it compares what stat says."""
    env, cert = _valid_token_env(tmp_path, root_ca)
    first = subprocess.run([sys.executable, "-m", "jenv", "token", "--check"], env=env, cwd=str(tmp_path),
                           capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    proc = _blocked_run(f"from jenv.login import main\ncode = main({argv!r})\nsys.stdout.flush()\n"
                        "assert code == " + str(expected_code) + ", code", env, tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert expected_out.format(cert=cert) in proc.stdout


@pytest.mark.slow
def test_the_full_front_end_is_what_the_blocker_stops(tmp_path, root_ca):
    """The negative twins: a token not judged yet, one changed since (touch), a command that needs
    cryptography, and a spelling only docopt knows, all fail under the same blocker (so the test above
    can fail)."""
    import os

    env, cert = _valid_token_env(tmp_path, root_ca)
    check = f"from jenv.login import main\nraise SystemExit(main({['token', '--check']!r}))"
    proc = _blocked_run(check, env, tmp_path)
    assert proc.returncode != 0 and "blocked on the fast path" in proc.stderr, proc.stderr
    assert subprocess.run([sys.executable, "-m", "jenv", "token", "--check"], env=env, cwd=str(tmp_path),
                          timeout=60).returncode == 0
    assert _blocked_run(check, env, tmp_path).returncode == 0
    os.utime(cert)  # the same bytes, a new mtime and ctime: judged again
    proc = _blocked_run(check, env, tmp_path)
    assert proc.returncode != 0 and "blocked on the fast path" in proc.stderr, proc.stderr
    for argv in (["token-info"], ["token", "--shell", "bash", "--min-valid", "1h", "--json", "--json"]):
        proc = _blocked_run(f"from jenv.login import main\nraise SystemExit(main({argv!r}))", env, tmp_path)
        assert proc.returncode != 0 and "blocked on the fast path" in proc.stderr, (argv, proc.stderr)


def test_the_readme_maps_every_module():
    """CONTRIBUTING.md's Architecture section lists every module of the package (issue 10.6)."""
    contributing = (REPO / "CONTRIBUTING.md").read_text()
    section = contributing[contributing.index("## Architecture"):]
    missing = [str(path.relative_to(REPO)) for path in sorted(PACKAGE.rglob("*.py"))
               if path.name != "__init__.py" and f"`{path.relative_to(REPO)}`" not in section]
    assert missing == []


@pytest.mark.slow
def test_the_expiry_notice_and_whoami_run_with_the_heavy_libraries_blocked(tmp_path, root_ca):
    """Issue 14: once judged (a first run), the notice takes the user certificate's dates and whoami the
    token's subject from the remembered verdicts; neither loads cryptography, ssl or the network stack."""
    import datetime as dt

    from support.pki import now

    env, cert = _valid_token_env(tmp_path, root_ca, "/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=alicepr")
    root_ca.issue("/C=ch/O=jenv-test/OU=Users/CN=Jane Doe", not_after=now() + dt.timedelta(days=5)).write(
        tmp_path / "home" / ".globus")
    for argv, out, err in ((["token", "--shell", "bash"], f"export JALIEN_TOKEN_CERT={cert};", "expires in 4d 23h"),
                           (["whoami", "-q"], "jdoe", "")):
        run = _BLOCKER.replace(repr(BLOCKED), repr(NO_CRYPTO)) + \
            f"from jenv.login import main; raise SystemExit(main({argv!r}))"
        assert subprocess.run([sys.executable, "-m", "jenv", *argv], env=env, cwd=str(tmp_path), capture_output=True,
                              timeout=60).returncode == 0
        proc = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, env=env,
                              cwd=str(tmp_path), timeout=60)
        assert proc.returncode == 0 and out in proc.stdout, proc.stderr
        assert (err in proc.stderr) if err else proc.stderr == "", proc.stderr


def test_test_files_have_names_of_their_own():
    """pytest imports test modules by basename (rootdir conftest layout): two files with one name in two
    directories make the second fail to collect."""
    from collections import Counter

    names = Counter(path.name for path in (REPO / "tests").rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []


def _command_to_command(graph):
    return sorted((m, d) for m, deps in graph.items() for d in deps
                  if layer(m) == layer(d) == "commands" and "jenv.commands" not in (m, d))


def test_no_command_module_imports_another():
    """Each command is one screen (issue 23.1): what two commands share lives in the packages below
    (workflows in tokens/, rendering in report/ and shells/), never in a command module the other imports."""
    assert _command_to_command(GRAPH) == []


def test_the_command_rule_sees_a_violation():
    """The negative twin: a command module importing another one is found."""
    fake = dict(GRAPH, **{"jenv.commands.carry": GRAPH["jenv.commands.carry"] | {"jenv.commands.tokens"}})
    assert ("jenv.commands.carry", "jenv.commands.tokens") in _command_to_command(fake)
