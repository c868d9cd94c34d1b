"""Two installed versions of jenv, timed in the same rounds on the same valid token.

    python bench/versions.py --new /path/to/venv-a/bin --old /path/to/venv-b/bin --runs 41

Each version gets its own HOME (its own remembered verdicts and fresh-token line) in one sandbox whose
local service issues the token once; then ``python -c pass`` (the floor, with the new version's
interpreter), ``jenv token``, ``jenv prompt`` and ``jenv token --check`` of each version take turns round
by round, each started by ``sh -c`` as a login line starts jenv (bench/run.py).  Prints the median of each row and its ratio to the floor: a change that makes the login's
Python start slower shows here, without the noise between two separate runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import run as bench  # noqa: E402
from jenv.service.sandbox import create_sandbox, load_service_files  # noqa: E402
from jenv.service.server import LocalService, load_user_map, run_service  # noqa: E402

COMMANDS = (["token"], ["prompt"], ["token", "--check"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new", required=True, help="the bin directory of one installation (its jenv and python3)")
    parser.add_argument("--old", required=True, help="the bin directory of the other")
    parser.add_argument("--runs", type=int, default=41)
    args = parser.parse_args()
    versions = {"new": args.new, "old": args.old}
    work = Path(tempfile.mkdtemp(prefix="jenv-versions-"))
    paths = create_sandbox(str(work / "sandbox"))
    authority, credential = load_service_files(paths)
    service = LocalService(authority, credential, load_user_map(paths.users))
    samples: Dict[str, List[float]] = {"python -c pass (floor)": []}
    with run_service(service) as (host, port):
        envs = {}
        for name, bindir in versions.items():
            home = work / f"home-{name}"
            home.mkdir(mode=0o700)
            env = bench.bench_environment(paths, home, host, port, script=True)
            env.pop("XDG_RUNTIME_DIR", None)  # each version's state in its own HOME
            env["PATH"] = bindir + os.pathsep + env["PATH"]
            envs[name] = env
        bench.run_once([os.path.join(args.new, "jenv"), "token-init"], envs["new"])
        for name, bindir in versions.items():
            bench.run_once([os.path.join(bindir, "jenv"), "token"], envs[name])  # judged and remembered
        for _ in range(args.runs):
            samples["python -c pass (floor)"].append(bench.run_once(
                bench._shell_row("floor", [os.path.join(args.new, "python3"), "-c", "pass"])[1], envs["new"]))
            for name, bindir in versions.items():
                for words in COMMANDS:
                    row = f"{name}: jenv {' '.join(words)}"
                    argv = bench._shell_row(row, [os.path.join(bindir, "jenv"), *words])[1]
                    samples.setdefault(row, []).append(bench.run_once(argv, envs[name]))
    floor = statistics.median(samples["python -c pass (floor)"])
    print(f"median of {args.runs} rounds, all rows interleaved; new = {args.new}, old = {args.old}\n")
    print("| row | median ms | x floor |\n|---|---:|---:|")
    for row, values in samples.items():
        median = statistics.median(values)
        print(f"| {row} | {median:.1f} | {median / floor:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
