"""The command blocks of the documentation a user reads, and the reviewed list of lines that cannot run here.

A fenced block whose language is a shell (``COMMAND_LANGUAGES``) is a command block: each of its lines
is a command a reader may copy. tests/system/docs/test_doc_blocks.py runs every such line inside a
``jenv sandbox``, except those in ``CANNOT_RUN_HERE``, each with the reason; tests/core/test_docs.py
checks that the documents are written so (every block has a language, no entry of the list is stale).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple

REPO = Path(__file__).resolve().parents[2]

#: The documents a user (or contributor) reads. docs/reference.md is generated from the usage texts
#: (its bare ``` blocks are usages, not commands) and is checked by tests/core/test_reference.py.
GENERATED = {"docs/reference.md"}

#: Languages whose blocks are commands, and the shell that runs them.
COMMAND_LANGUAGES = {"sh": "sh", "console": "sh", "shell": "sh", "bash": "bash", "zsh": "zsh",
                     "ksh": "ksh", "fish": "fish", "tcsh": "tcsh"}
#: Languages of blocks that are not commands: synopses with [options], file contents, code.
OTHER_LANGUAGES = {"text", "json", "toml", "python", "ini", "yaml"}

#: Lines of command blocks that cannot run here, each with why. (document, line) -> reason.
CANNOT_RUN_HERE: Dict[Tuple[str, str], str] = {
    ("README.md", "sudo apt install pipx"): "needs root and Debian's package archive (no network here)",
    ("README.md", "pipx ensurepath"): "edits the reader's login files; pipx is not installed here",
    ("README.md", "pipx install ./jenv"): "pipx builds jenv with packages from PyPI (no network here)",
    ("README.md", "python3 -m pip install --user pipx"): "lxplus only: pipx from PyPI (no network here)",
    ("README.md", "python3 -m pipx ensurepath"): "lxplus only: edits the reader's login files",
    ("README.md", "python3 -m pipx install ./jenv"): "lxplus only: builds jenv with packages from PyPI",
    ("README.md", "brew install pipx"): "macOS only (Homebrew)",
    ("README.md", "python3 -m venv ~/.local/share/jenv-venv"):
        "with the next two lines, an install from PyPI's build requirements (no network here)",
    ("README.md", "~/.local/share/jenv-venv/bin/python -m pip install ./jenv"):
        "pip builds jenv with setuptools from PyPI (no network here)",
    ("README.md", "mkdir -p ~/.local/bin && ln -s ~/.local/share/jenv-venv/bin/jenv ~/.local/bin/jenv"):
        "needs the environment of the line above",
    ("README.md", "git -C jenv pull && pipx install --force ./jenv"): "needs the repository's remote and PyPI",
    ("README.md", "pipx uninstall jenv"): "pipx is not installed here",
    ("README.md", "sh quickstart.sh"): "makes .venv in the clone and installs from PyPI; the test run itself uses it",
    ("README.md", "bash .ci/run"): "the whole test suite (this test is part of it)",
    ("README.md", "jenv cert-import ~/Downloads/myCertificate.p12"):
        "needs the browser's .p12 and a terminal for its password (tests/offline covers cert-import)",
    ("CONTRIBUTING.md", "bash .ci/run"): "the whole test suite (this test is part of it)",
    ("CONTRIBUTING.md", ".venv/bin/python -m pytest -q -m \"not slow\""): "a test run inside a test run",
    ("CONTRIBUTING.md", "python tools/reference.py"):
        "writes into the clone; tests/core/test_reference.py runs the same generation",
    ("docs/manual.md",
     'apptainer exec --bind "$PWD/grid-token:/grid-token" --env-file token.env image.sif alien.py ls'):
        "needs apptainer, an image and the grid",
    ("docs/manual.md", 'docker run -v "$PWD/grid-token:/grid-token:ro" --env-file token.env image alien.py ls'):
        "needs docker, an image and the grid",
    ("docs/manual.md", "jenv exec --min-valid 2h -- o2-sim ..."): "needs O2 (and its options)",
    ("docs/manual.md", "jenv exec -- python3 my_hyperloop_script.py"): "the reader's own script",
    ("docs/manual.md", "jenv args curl --config | curl -K - https://alice-ccdb.cern.ch/..."):
        "needs CERN's CCDB (tests/commands/test_args.py runs both curl forms against a local server)",
    ("docs/performance.md", ".venv/bin/python bench/run.py"): "a timing run: bench/ runs on a quiet machine",
    ("docs/performance.md", ".venv/bin/python bench/run.py --group in-shell"): "a timing run",
    ("docs/performance.md", ".venv/bin/python bench/ca_verify.py"): "a timing run",
    ("docs/performance.md", ".venv/bin/python bench/versions.py --new .venv/bin --old <another venv>/bin"):
        "a timing run that needs a second installation",
    ("docs/performance.md",
     ".venv/bin/python bench/agent_soak.py"): "an hour-long soak",
}


class Block(NamedTuple):
    document: str  # path relative to the repository
    language: str  # "" when the fence names none
    line: int  # of the opening fence, 1-based
    text: str


_FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>```+|~~~+)(?P<lang>[^\n`]*)\n"
                    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.M | re.S)


def documents() -> List[Path]:
    """README.md, CONTRIBUTING.md and docs/*.md, the generated reference left out."""
    paths = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
    return [path for path in paths if path.exists() and relative(path) not in GENERATED]


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def blocks(path: Path) -> List[Block]:
    text = path.read_text()
    found = []
    for match in _FENCE.finditer(text):
        indent = len(match.group("indent"))
        body = "\n".join(line[indent:] for line in match.group("body").splitlines())
        language = match.group("lang").strip().split(" ")[0]
        found.append(Block(relative(path), language, text.count("\n", 0, match.start()) + 1, body))
    return found


def without_fences(text: str) -> str:
    """The prose of a document: every fenced block cut out."""
    return _FENCE.sub("", text)


def commands(block: Block) -> List[str]:
    """The command lines of a block: comment-only and empty lines left out, and the comment after a
    command (two spaces or more, then ``#``) cut off."""
    lines = [re.split(r"\s{2,}#", line)[0].strip() for line in block.text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def command_blocks() -> List[Block]:
    return [block for path in documents() for block in blocks(path) if block.language in COMMAND_LANGUAGES]


def runnable(block: Block) -> List[str]:
    """The lines of ``block`` the sandbox runs: every command line not listed in CANNOT_RUN_HERE."""
    return [line for line in commands(block) if (block.document, line) not in CANNOT_RUN_HERE]
