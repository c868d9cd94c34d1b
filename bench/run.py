"""Benchmark: whole-process times of jenv's commands next to the Python start-up floor.

Usage:
  python bench/run.py [--runs N] [--warmup N] [--json] [--group commands|token-init|login line|in-shell]
                      [--in-shell-against DIR]

Each group's rows take turns round by round; the groups run one after another (token-init's rows replace
the token that the other groups read).  Everything happens in a fresh temporary directory: a throwaway CA, user and
local JCentral-compatible service (jenv.service.sandbox, jenv.service.server in a thread),
HOME, TMPDIR, X509_* and ALIENPY_JCENTRAL* pointing there.  The real user's
files and environment are never read or touched.  Each figure is the median
wall-clock time of N complete processes (after warm-up runs); all rows are
timed in the same rounds, one run of each in turn, so the ratios compare like
with like.

Group "commands" (ratios to the floor): every row is started by ``sh -c '<command>; exit $?'``,
the floor too, because the login line runs jenv from a shell and jenv reads its parent to know
the shell's syntax:

  python -c pass            the floor: the interpreter that runs jenv, starting and exiting
  jenv token                valid token files present and judged before (the login path compares what
                            stat says with the remembered verdict), stdout to /dev/null
  touch, then jenv token    the first login after the token changed: the libraries judge it once
                            (next to the same touch before python -c pass, its own floor)
  jenv token --check        the same files, nothing printed
  jenv prompt               the prompt segment
  jenv token-info, status   the inspection commands
  openssl x509 -checkend    openssl's own "still valid for 600 s?" on the token
  jenv token-init           a new token from the local service (network, key generation)
  jenv alien-token-info     O2's token check, as jenv answers it
  alien-token-info          the same check by alienpy's own command (when alienpy is installed)

Group "token-init" (ratio to alien.py's): a new token from the local service, by jenv and by the
official client (alienpy's alien.py, when installed), against the same service.

Group "login line" (ratio to ``eval "$(jenv token)"`` in the same shell): the documented line of
each shell (``eval "$(jenv hook bash)"``, ``jenv hook fish | source``, ...) in a non-interactive
shell that reads no startup file.

Group "in-shell" (issue 22): in bash, zsh, ksh and fish, with a valid token jenv has found fresh once, the
login line ``[ -O ~/.cache/jenv/login.bash ] && . ~/.cache/jenv/login.bash || eval "$(jenv hook bash)"``
(zsh, ksh alike; fish's ``test -O ~/.cache/jenv/login.fish; and source ...``) run LOOPS times in one
shell against ``true`` run as often in the same shell, and the prompt function ``jenv_prompt_update``
against ``true`` after the same login line, all in the same rounds; the per-call cost in microseconds
is the difference divided by LOOPS, and the processes each started are counted with ``strace -f``
(0 is the goal: the shell decides by itself).  ``--in-shell-against DIR`` adds the same rows for another
version's login.sh and login.fish (say, main's jenv/data/shell) in the same rounds, so the two compare like with
like.

jenv runs as the installed ``jenv`` command when it is on PATH, else as
``python -m jenv`` with this interpreter; the output says which, and whether
the install is editable (an editable install's start-up hook loads pathlib and
re into every Python, the floor included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
HEAVY = ("cryptography", "websockets", "requests", "ssl", "urllib3", "docopt", "shellingham", "json", "typing",
         "enum", "re", "subprocess", "ctypes")


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
    group: str = "commands"


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


def _imported(argv: Sequence[str], env: Dict[str, str]) -> List[tuple]:
    """(depth, module, cumulative microseconds) of each import ``-X importtime`` reports for ``argv``."""
    proc = subprocess.run(list(argv), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    found = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        module = parts[2].rstrip()
        found.append(((len(module) - len(module.lstrip(" "))) // 2, module.strip(), int(parts[1])))
    return found


def fast_path_imports(interpreter: str, env: Dict[str, str]) -> Dict[str, object]:
    """What ``jenv token`` imports beyond ``python -c pass`` (``-X importtime``): the heavy modules,
    and the slowest top-level imports.  What the floor imports too (``site`` with its .pth files,
    an editable install's finder) is left out: it is part of the floor."""
    floor = {name for _depth, name, _us in _imported(["sh", "-c", SH_RUN, "sh", interpreter, "-X", "importtime",
                                                      "-c", "pass"], env)}
    heavy, top = set(), {}
    for depth, name, micros in _imported(["sh", "-c", SH_RUN, "sh", interpreter, "-X", "importtime", "-m", "jenv",
                                          "token"], env):
        if name in floor:
            continue
        if name in HEAVY or name.split(".")[0] in HEAVY:
            heavy.add(name)
        if depth == 0:
            top[name] = round(micros / 1000.0, 1)
    slowest = dict(sorted(top.items(), key=lambda item: -item[1])[:6])
    return {"heavy": sorted(heavy), "slowest_top_level_ms": slowest, "top_level_total_ms": round(sum(top.values()), 1)}


SH_RUN = "\"$@\"; exit $?"  # sh -c SH_RUN sh <argv>: the shell stays jenv's parent (no exec)
TOUCH_RUN = "touch -c \"$0\"; \"$@\"; exit $?"  # sh -c TOUCH_RUN <file> <argv>: a new mtime and ctime first
LOGIN_SHELLS = {  # shell -> (argv prefix, the token line, the login line)
    "bash": (["bash", "--norc", "--noprofile", "-c"], 'eval "$(jenv token)"', 'eval "$(jenv hook bash)"'),
    "zsh": (["zsh", "-f", "-c"], 'eval "$(jenv token)"', 'eval "$(jenv hook zsh)"'),
    "ksh": (["ksh", "-c"], 'eval "$(jenv token)"', 'eval "$(jenv hook ksh)"'),
    "sh": (["sh", "-c"], 'eval "$(jenv token)"', 'eval "$(jenv hook sh)"'),
    "fish": (["fish", "--no-config", "-c"], "jenv token | source", "jenv hook fish | source"),
    "tcsh": (["tcsh", "-f", "-c"], 'eval "`jenv token`"', 'eval "`jenv hook tcsh`"'),
}


IN_SHELL = {"bash": ["bash", "--norc", "--noprofile", "-c"], "zsh": ["zsh", "-f", "-c"], "ksh": ["ksh", "-c"],
            "fish": ["fish", "--no-config", "-c"]}
IN_SHELL_LOOPS = 2000
IN_SHELL_LINE = '[ -O ~/.cache/jenv/login.{shell} ] && . ~/.cache/jenv/login.{shell} || eval "$(jenv hook {shell})"'
IN_FISH_LINE = "test -O ~/.cache/jenv/login.fish; and source ~/.cache/jenv/login.fish; or jenv hook fish | source"


def _loop(shell: str, body: str, loops: int) -> str:
    if shell == "fish":
        return f"set i 0; while test $i -lt {loops}; {body}; set i (math $i + 1); end"
    return f"i=0; while [ $i -lt {loops} ]; do {body}; i=$((i + 1)); done"


def in_shell_cases(loops: int, against: Optional[str] = None) -> List[tuple]:
    """(shell, what, argv, the name of its empty case, argv of the empty case); with ``against`` (a directory
    holding another version's login.sh and login.fish, installed as ~/.cache/jenv/against-login.<shell>)
    also that version's login line and prompt function, timed against the same empty cases."""
    cases = []
    for shell, argv in IN_SHELL.items():
        if not shutil.which(argv[0]):
            continue
        lines = [("", IN_FISH_LINE if shell == "fish" else IN_SHELL_LINE.format(shell=shell))]
        if against:
            lines.append((" [against]", lines[0][1].replace("login.", "against-login.")))
        for tag, line in lines:
            empty = f"{shell}: login line, empty"
            cases.append((shell, "login line" + tag, argv + [_loop(shell, line, loops)], empty,
                          argv + [_loop(shell, "true", loops)]))
            if shell != "ksh":
                empty = f"{shell}: prompt function, empty"
                cases.append((shell, "prompt function" + tag,
                              argv + [line + "; " + _loop(shell, "jenv_prompt_update", loops)], empty,
                              argv + [lines[0][1] + "; " + _loop(shell, "true", loops)]))
    return cases


def install_against(directory: str, home: Path) -> None:
    """Another version's login files (``--in-shell-against``) beside the installed ones, with the same
    completion loaders, as ~/.cache/jenv/against-login.<shell>."""
    from jenv.shells.hook import LOADER_MARK, completion_loader

    for shell in IN_SHELL:
        source = os.path.join(directory, "login.fish" if shell == "fish" else "login.sh")
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        loaders = completion_loader(shell, os.path.join(CHECKOUT, "jenv", "data", "completions"))
        target = home / ".cache" / "jenv" / f"against-login.{shell}"
        target.write_text(text.replace(LOADER_MARK, LOADER_MARK + loaders, 1), encoding="utf-8")
        target.chmod(0o600)


def count_processes(argv: Sequence[str], env: Dict[str, str]) -> Optional[int]:
    """Processes ``argv`` starts beyond itself (strace -f: execve, clone, fork), None without strace."""
    if not shutil.which("strace"):
        return None
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        subprocess.run(["strace", "-f", "-qq", "-o", log.name, "-e", "trace=execve,clone,clone3,fork,vfork",
                        *argv], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        calls = [row for row in log.read().splitlines()  # processes, not the shell's own threads (fish)
                 if any(f"{call}(" in row for call in ("execve", "clone", "clone3", "fork", "vfork"))
                 and "CLONE_THREAD" not in row]
    return len(calls) - 1  # the shell's own execve


def _editable(prefix: Sequence[str]) -> bool:
    """Whether the jenv that runs is an editable install (its finder hook loads pathlib and re)."""
    probe = [prefix[0] if prefix[0] != sys.executable else sys.executable]
    interpreter = probe[0]
    if not interpreter.endswith(("python", "python3")) and os.path.isfile(interpreter):
        with open(interpreter, "rb") as handle:
            first = handle.readline()
        interpreter = first[2:].decode().strip().split()[0] if first.startswith(b"#!") else sys.executable
    code = "import jenv, os; print(os.path.dirname(jenv.__file__))"
    where = subprocess.run([interpreter, "-c", code], capture_output=True, text=True, cwd="/").stdout.strip()
    return bool(where) and not where.startswith(sys.prefix) and "site-packages" not in where


def _shell_row(name: str, argv: Sequence[str]) -> tuple:
    return name, ["sh", "-c", SH_RUN, "sh", *argv]


def _is_jenv_shim(path: str) -> bool:
    with open(path, "rb") as handle:
        return b"jenv shim" in handle.read(4096)


def measure(runs: int, warmup: int, workdir: Path, only: Optional[str] = None, against: Optional[str] = None) -> dict:
    """Set up the sandbox and service in ``workdir``, time every command, return the report."""
    prefix, interpreter, how = jenv_command()
    paths = create_sandbox(str(workdir / "sandbox"))
    home = workdir / "home"
    home.mkdir(mode=0o700)
    authority, server_credential = load_service_files(paths)
    service = LocalService(authority, server_credential, load_user_map(paths.users))
    token_cert = os.path.join(paths.tmp, f"tokencert_{os.getuid()}.pem")
    alien = shutil.which("alien.py", path=os.path.dirname(interpreter)) or shutil.which("alien.py")
    groups = {
        "commands": [
            _shell_row("python -c pass (floor)", [interpreter, "-c", "pass"]),
            _shell_row("jenv token (valid token)", prefix + ["token"]),
            ("touch, then python -c pass", ["sh", "-c", TOUCH_RUN, token_cert, interpreter, "-c", "pass"]),
            ("touch, then jenv token (first login after a token change)",
             ["sh", "-c", TOUCH_RUN, token_cert, *prefix, "token"]),
            _shell_row("jenv token --check", prefix + ["token", "--check"]),
            _shell_row("jenv prompt", prefix + ["prompt"]),
            _shell_row("jenv token-info", prefix + ["token-info"]),
            _shell_row("jenv status", prefix + ["status"]),
            _shell_row("openssl x509 -checkend 600", ["openssl", "x509", "-noout", "-checkend", "600", "-in",
                                                       token_cert]),
        ],
        "token-init": [("alien.py token-init", [alien, "token-init"])] if alien else [],
        "login line": [],
        "in-shell": [],
    }
    in_shell = in_shell_cases(IN_SHELL_LOOPS, against)
    for shell, what, argv, empty_name, empty in in_shell:
        groups["in-shell"].append((f"{shell}: {what}", argv))
        if (empty_name, empty) not in groups["in-shell"]:
            groups["in-shell"].append((empty_name, empty))
    if in_shell:  # what one Python start costs in the same rounds: the login line's cost without this file
        groups["in-shell"].append(_shell_row("in-shell: python -c pass", [interpreter, "-c", "pass"]))
    groups["token-init"].append(("jenv token-init", prefix + ["token-init"]))
    for shell, (argv, token_line, login_line) in LOGIN_SHELLS.items():
        if shutil.which(argv[0]):
            groups["login line"] += [(f"{shell}: {token_line}", argv + [token_line]),
                                     (f"{shell}: {login_line}", argv + [login_line])]
    groups["commands"].append(_shell_row("jenv alien-token-info (O2's check)", prefix + ["alien-token-info"]))
    alienpy = shutil.which("alien-token-info", path=os.path.dirname(interpreter)) or shutil.which("alien-token-info")
    if alienpy and not _is_jenv_shim(alienpy):
        groups["commands"].append(_shell_row("alien-token-info (alienpy)", [alienpy]))
    if only is not None:
        groups = {name: rows for name, rows in groups.items() if name == only}
    rows: List[Row] = []
    with run_service(service) as (host, port):
        env = bench_environment(paths, home, host, port, script=prefix[0] != sys.executable)
        env["PATH"] = os.path.dirname(prefix[0]) + os.pathsep + env["PATH"] if prefix[0] != sys.executable \
            else env["PATH"]
        run_once(prefix + ["token-init"], env)  # the valid token every other row reads
        results: Dict[str, object] = {}
        for members in groups.values():  # group by group: token-init's rows replace the token the others read
            run_once(prefix + ["token"], env)  # judged and remembered, as the first login leaves it
            for shell in IN_SHELL:  # the login files and the fresh-token line
                if shutil.which(shell):
                    run_once(prefix + ["hook", shell], env)
            if against and in_shell:
                install_against(against, home)
            results.update(time_interleaved(members, env, runs, warmup))
        shell_report = []
        for shell, what, argv, empty_name, _empty in (in_shell if "in-shell" in groups else []):
            line, empty = results[f"{shell}: {what}"], results[empty_name]
            if isinstance(line, str) or isinstance(empty, str):
                shell_report.append({"shell": shell, "what": what, "note": line if isinstance(line, str) else empty})
                continue
            line_ms, empty_ms = statistics.median(line), statistics.median(empty)
            one = argv[:-1] + [argv[-1].replace(f"-lt {IN_SHELL_LOOPS}", "-lt 1")]
            shell_report.append({"shell": shell, "what": what, "loops": IN_SHELL_LOOPS, "median_ms": round(line_ms, 1),
                                 "empty_ms": round(empty_ms, 1),
                                 "per_call_us": round((line_ms - empty_ms) * 1000.0 / IN_SHELL_LOOPS, 1),
                                 "processes": count_processes(one, env)})
        floor = results.get("in-shell: python -c pass")
        if shell_report and isinstance(floor, list):
            shell_report.append({"shell": "python -c pass", "what": "one start, for comparison",
                                 "per_call_us": round(statistics.median(floor) * 1000.0, 1), "processes": 1})
        groups.pop("in-shell", None)
        for group, members in groups.items():
            base = None
            for index, (name, argv) in enumerate(members):
                shown = " ".join(os.path.basename(a) if a in (interpreter, *prefix[:1], alien, token_cert) else a
                                 for a in argv if a not in ("sh", "-c", SH_RUN, TOUCH_RUN))
                samples = results[name]
                if isinstance(samples, str):
                    rows.append(Row(name, shown, 0, None, None, None, None, samples, group))
                    continue
                median = statistics.median(samples)
                if group == "login line":
                    base = median if index % 2 == 0 else base
                else:
                    base = base if base is not None else median
                rows.append(Row(name, shown, runs, round(median, 1), round(min(samples), 1), round(max(samples), 1),
                                round(median / base, 2) if base else None, "", group))
        imports = fast_path_imports(interpreter, env)
    return {"jenv": how, "editable": _editable(prefix), "python": sys.version.split()[0],
            "interpreter": interpreter, "runs": runs, "warmup": warmup, "cpus": os.cpu_count(),
            "machine": f"{platform.system()} {platform.machine()}, {platform.node()}",
            "token_requests_served": service.token_requests, "token_inits": 1 + (warmup + runs) * len(groups.get("token-init", [])),
            "fast_path_imports": imports, "rows": [asdict(row) for row in rows], "in_shell": shell_report}


#: (row, the row it is compared with, the ceiling of the ratio): the issue's targets.
TARGETS = [("jenv token (valid token)", "python -c pass (floor)", 1.3),
           ("jenv token-init", "alien.py token-init", 0.6)]


def render_markdown(report: dict) -> str:
    """The report as markdown tables plus the facts needed to reproduce it."""
    lines = [f"jenv run as: {report['jenv']}{' (editable install)' if report['editable'] else ''}; "
             f"Python {report['python']}; {report['machine']}; {report['cpus']} CPUs; median of {report['runs']} "
             f"runs after {report['warmup']} warm-up rounds, all rows interleaved round by round"]
    titles = {"commands": "x floor", "token-init": "x alien.py", "login line": "x token line"}
    for group, title in titles.items():
        members = [row for row in report["rows"] if row["group"] == group]
        if not members:
            continue
        lines += ["", f"| {group} | median ms | min ms | max ms | {title} |", "|---|---:|---:|---:|---:|"]
        for row in members:
            if row["median_ms"] is None:
                lines.append(f"| {row['name']} | {row['note']} | | | |")
                continue
            lines.append(f"| {row['name']} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | {row['max_ms']:.1f} "
                         f"| {row['ratio']:.2f} |")
    if report.get("in_shell"):
        lines += ["", f"| in-shell ({IN_SHELL_LOOPS} calls in one shell) | median ms | empty ms | us per call "
                      "| processes per call |", "|---|---:|---:|---:|---:|"]
        for item in report["in_shell"]:
            if "note" in item:
                lines.append(f"| {item['shell']}: {item['what']} | {item['note']} | | | |")
                continue
            count = "?" if item["processes"] is None else str(item["processes"])
            if "median_ms" not in item:
                lines.append(f"| {item['shell']}: {item['what']} | | | {item['per_call_us']:.1f} | {count} |")
                continue
            lines.append(f"| {item['shell']}: {item['what']} | {item['median_ms']:.1f} | {item['empty_ms']:.1f} "
                         f"| {item['per_call_us']:.1f} | {count} |")
    imports = report["fast_path_imports"]
    slowest = ", ".join(f"{name} {ms:.1f}" for name, ms in imports["slowest_top_level_ms"].items())
    lines += ["", f"`jenv token` fast path: {imports['top_level_total_ms']:.1f} ms of imports beyond the floor "
              f"(slowest, ms: {slowest}); of {', '.join(HEAVY)} it imports: {', '.join(imports['heavy']) or 'none'}"]
    lines.append(f"Token requests the service answered: {report['token_requests_served']} (token-init ran "
                 f"{report['token_inits']} times, so the other rows made "
                 f"{report['token_requests_served'] - report['token_inits']} requests)")
    by_name = {row["name"]: row for row in report["rows"]}
    for name, against, ceiling in TARGETS:
        row, base = by_name.get(name), by_name.get(against)
        if row and base and row["median_ms"] and base["median_ms"]:
            ratio = row["median_ms"] / base["median_ms"]
            lines.append(f"Target {name} <= {ceiling}x {against}: {'within' if ratio <= ceiling else 'MISSES'} "
                         f"({ratio:.2f}x)")
    logins = [row for row in report["rows"] if row["group"] == "login line" and "hook" in row["name"]]
    if logins:
        worst = max(logins, key=lambda row: row["ratio"] or 0)
        lines.append(f"Target login line <= 1.2x the token line in every shell: "
                     f"{'within' if (worst['ratio'] or 9) <= 1.2 else 'MISSES'} (worst {worst['name']}, "
                     f"{worst['ratio']:.2f}x)")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs per command (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs first (default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    parser.add_argument("--in-shell-against", metavar="DIR",
                        help="also time another version's login.sh and login.fish (e.g. main's jenv/data/shell) "
                             "in the in-shell group, against the same empty rows")
    parser.add_argument("--group", choices=("commands", "token-init", "login line", "in-shell"),
                        help="time only this group (its rows still interleaved)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be >= 1 and --warmup >= 0")
    workdir = Path(tempfile.mkdtemp(prefix="jenv-bench-"))
    try:
        os.chmod(workdir, 0o700)
        report = measure(args.runs, args.warmup, workdir, args.group, args.in_shell_against)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=2) if args.json else render_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
