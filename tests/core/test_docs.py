"""What a user reads is written so that it can be checked (issue 26, items 2 and 7).

- Every fenced block of README.md, CONTRIBUTING.md and docs/*.md names its language, and a command
  block (a shell's language) holds only lines that tests/system/docs/test_doc_blocks.py runs in a sandbox
  or that support/docblocks.py lists as unable to run here, with the reason.
- Exit codes are stated in one table only, the generated one in docs/reference.md: prose links a code
  to its row (``[exit 8](reference.md#exit-8)``) and never states one by number on its own.
"""

from __future__ import annotations

import re

import pytest

from jenv.errors import ExitCode
from support.docblocks import (CANNOT_RUN_HERE, COMMAND_LANGUAGES, OTHER_LANGUAGES, REPO, blocks, command_blocks,
                               commands, documents, relative, without_fences)

DOCUMENTS = documents()

#: A link to a row of the exit-code table, from README.md and CONTRIBUTING.md or from docs/.
EXIT_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?:docs/)?reference\.md#exit-(?P<code>\d+)\)")

#: Ways prose states an exit code: "exit 4", "exits 7", "exit code 12", "exits with 10", "Exit codes: 0 ...",
#: "status 0", and the doctor table's "FAIL (4)".
PROSE_EXIT_CODE = [re.compile(pattern, re.I) for pattern in (
    r"\bexit(?:s|ed|ing)?\b(?:\s+(?:code|status)(?:es|s)?)?(?:\s+(?:is|of|with|was|are|at|then|becomes))?[\s:(]*\d+",
    r"\b(?:FAIL|WARN)\s*\(\d+",
    r"(?<!HTTP )\bstatus\s+\d+",
)]


def prose_exit_codes(text: str) -> list:
    """The statements of an exit code by number in ``text``, outside code blocks and links to the table."""
    prose = EXIT_LINK.sub("", without_fences(text))
    return [match.group(0) for pattern in PROSE_EXIT_CODE for match in pattern.finditer(prose)]


def test_the_documents_are_found():
    names = {relative(path) for path in DOCUMENTS}
    assert {"README.md", "CONTRIBUTING.md", "docs/manual.md", "docs/performance.md"} <= names
    assert "docs/reference.md" not in names


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_every_block_names_its_language(path):
    unnamed = [block.line for block in blocks(path) if not block.language]
    unknown = [(block.line, block.language) for block in blocks(path)
               if block.language and block.language not in COMMAND_LANGUAGES and block.language not in OTHER_LANGUAGES]
    assert (unnamed, unknown) == ([], [])


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_no_command_hides_in_an_indented_block(path):
    """A command indented by four spaces is a code block the command-block test cannot see: fence it."""
    prose = without_fences(path.read_text())
    hidden = re.findall(r"^ {4,}(?:\$ )?(?:jenv|eval|python3?|pipx|sh|bash) .*$", prose, re.M)
    assert hidden == []


def test_the_readme_is_for_users():
    assert len((REPO / "README.md").read_bytes()) <= 12 * 1024


def test_every_line_that_cannot_run_here_is_still_in_its_document_and_says_why():
    present = {(block.document, line) for block in command_blocks() for line in commands(block)}
    stale = [key for key in CANNOT_RUN_HERE if key not in present]
    assert stale == []
    assert all(len(reason) > 10 for reason in CANNOT_RUN_HERE.values())


def test_command_blocks_are_found_where_users_copy_them():
    """The README's install blocks, login lines and daily commands are command blocks (so run or listed)."""
    lines = {line for block in command_blocks() if block.document == "README.md" for line in commands(block)}
    assert {"pipx install ./jenv", "brew install pipx", "python3 -m pip install --user pipx", "jenv status",
            'eval "$(jenv hook sh)"', "sh quickstart.sh", "bash .ci/run"} <= lines
    assert any(line.endswith('eval "$(jenv hook bash)"') for line in lines)


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_prose_states_no_exit_code_outside_the_table(path):
    assert prose_exit_codes(path.read_text()) == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_every_exit_code_link_names_a_row_of_the_table(path):
    reference = (REPO / "docs" / "reference.md").read_text()
    for match in EXIT_LINK.finditer(without_fences(path.read_text())):
        code = int(match.group("code"))
        assert code in {int(exit_code) for exit_code in ExitCode}, match.group(0)
        assert f'<a id="exit-{code}"></a>{code} |' in reference, match.group(0)
        assert set(re.findall(r"\d+", match.group("text"))) <= {str(code)}, match.group(0)


@pytest.mark.parametrize("text", ["refused (exit 4, one line)", "jenv exits 7 when", "with exit code 12.",
                                  "jenv exits with 10 and", "Exit codes: 0 written; 2 exists", "and status 0 (a",
                                  "| `user-key.mode` FAIL (8) |", "fails with exit status 3"])
def test_the_check_finds_each_way_prose_states_a_code(text):
    assert prose_exit_codes(text) != []


@pytest.mark.parametrize("text", ["refused ([exit 4](reference.md#exit-4), one line)",
                                  "see [exit 7](docs/reference.md#exit-7)", "```sh\nsh -c 'exit 3'\n```\n",
                                  "an HTTP status 401", "it exits with the command's status",
                                  "exit codes are in the table"])
def test_the_check_lets_links_code_and_words_pass(text):
    assert prose_exit_codes(text) == []


# --- links: every page and anchor a document links to exists ----------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def anchors(path) -> set:
    """The anchors GitHub makes for a Markdown file: one per heading (lower case, punctuation dropped,
    spaces to hyphens, a repeated one numbered), and every explicit ``<a id="...">``."""
    text = path.read_text()
    found, seen = set(re.findall(r'<a id="([^"]+)"', text)), {}
    for heading in re.findall(r"^#{1,6} +(.+?) *$", without_fences(text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_every_link_reaches_a_file_and_an_anchor_that_exist(path):
    broken = []
    for match in LINK.finditer(without_fences(path.read_text())):
        target = match.group("target")
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        name, _, anchor = target.partition("#")
        file = (path.parent / name).resolve() if name else path
        if not file.exists():
            broken.append(target)
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            broken.append(target)
    assert broken == []
