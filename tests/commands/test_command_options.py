"""Each command reads its arguments once, into an options record whose defaults are the usage's.

The login forms (jenv/login.py) do not run docopt: their dictionary holds only what was typed, and the
record's defaults fill the rest.  So the records' option names and defaults must be the usage's, as
docopt-ng's own parser reads the usage text, and both front doors must build the same record from the
same words (issue 23.1).
"""

from __future__ import annotations

from typing import Dict, Tuple

import docopt
import pytest

from jenv.cli import COMMANDS, command_usage
from jenv.commands import agent, ca, carry, certimport, service, shell, tokens, whoami
from jenv.lite.record import Option, options_record
from jenv.login import _FORMS, parse_fast

#: command -> its options record.
RECORDS = {
    "token": tokens.TokenOptions,
    "prompt": tokens.PromptOptions,
    "token-init": tokens.TokenInitOptions,
    "user": tokens.UserOptions,
    "hook": shell.HookOptions,
    "completion": shell.CompletionOptions,
    "shims": carry.ShimsOptions,
    "export": carry.ExportOptions,
    "exec": carry.ExecOptions,
    "args": carry.ArgsOptions,
    "whoami": whoami.WhoamiOptions,
    "cert-import": certimport.CertImportOptions,
    "ca-fetch": ca.CaFetchOptions,
    "crl-fetch": ca.CrlFetchOptions,
    "serve": service.ServeOptions,
    "sandbox": service.SandboxOptions,
    "agent": agent.AgentOptions,
}

#: Read by the front end into the run's context (ctx.json, ctx.shell), so a record may leave them out.
FRONT_END_OPTIONS = {"--json", "--shell"}


def usage_options(command: str) -> Dict[str, Tuple[object, object]]:
    """Every option, argument and command word of ``command``'s usage -> (argcount, default), as docopt-ng
    parses the usage text (the command's own name left out)."""
    doc = command_usage(command)
    options = docopt.parse_options(doc)
    pattern = docopt.parse_pattern(docopt.formal_usage(docopt.parse_docstring_sections(doc).usage_body), options)
    pattern.fix()  # as docopt() does: a repeated argument's value is a list
    return {leaf.name: (getattr(leaf, "argcount", None), leaf.value) for leaf in pattern.flat()
            if leaf.name not in (command, "--")}


def mismatches(command: str, record: type) -> list:
    """How ``record`` differs from ``command``'s usage: an option the usage lacks, a default that differs,
    an option of the usage the record leaves out."""
    usage = usage_options(command)
    found = []
    for field, option in record.OPTIONS.items():
        if option.name not in usage:
            found.append(f"{command}: {field} reads {option.name}, which the usage does not have")
            continue
        default = usage[option.name][1]
        default = tuple(default) if isinstance(default, list) else default
        if option.default != default:
            found.append(f"{command}: {option.name} defaults to {option.default!r} in the record, "
                         f"{default!r} in the usage")
    named = {option.name for option in record.OPTIONS.values()}
    found += [f"{command}: the record leaves out {name}" for name in usage
              if name not in named and name not in FRONT_END_OPTIONS]
    return found


@pytest.mark.parametrize("command", sorted(RECORDS))
def test_the_record_has_the_usage_s_options_and_defaults(command):
    assert mismatches(command, RECORDS[command]) == []


def test_a_default_written_differently_is_found():
    """The negative twin: a record whose default is not the usage's, or which names an option the usage
    lacks, is caught."""
    fields = dict(tokens.PromptOptions.OPTIONS, warn=Option("--warn", "2d"), extra=Option("--colour", False))
    found = mismatches("prompt", options_record("Wrong", fields))
    assert len(found) == 2 and "'2d' in the record, '1d' in the usage" in found[0] and "--colour" in found[1]


def test_every_command_s_record_is_checked():
    """A record added to a command module is in RECORDS (so the test above sees it)."""
    import importlib

    modules = {spec.split(":")[0] for spec in COMMANDS.values()}
    records = {value for module in modules for value in vars(importlib.import_module(module)).values()
               if isinstance(value, type) and hasattr(value, "OPTIONS") and hasattr(value, "from_args")}
    assert records == set(RECORDS.values())


@pytest.mark.parametrize("command", sorted(_FORMS))
def test_the_login_forms_read_the_usage_s_options(command):
    """Each option a login form accepts is the usage's, taking a value where the usage's does."""
    usage = usage_options(command)
    valued, flags = _FORMS[command][2:4]
    assert {name: usage.get(name, (None,))[0] for name in valued} == {name: 1 for name in valued}
    assert {name: usage.get(name, (None,))[0] for name in flags} == {name: 0 for name in flags}


LOGIN_WORDS = [
    ["token"], ["token", "--check"], ["token", "--min-valid", "1h"], ["token", "--min-valid=2d", "--shell", "fish"],
    ["token", "--json"], ["token", "--check", "--min-valid=90"],
    ["prompt"], ["prompt", "--format", "{state}"], ["prompt", "--warn=2h", "--min-valid", "1h"],
    ["hook"], ["hook", "bash"], ["whoami"], ["whoami", "-q"], ["whoami", "--json"],
]


@pytest.mark.parametrize("words", LOGIN_WORDS, ids=" ".join)
def test_both_front_doors_build_the_same_record(words):
    """The same words give the same record through jenv/login.py (no docopt, no defaults filled in) and
    through docopt (every default of the usage filled in)."""
    command, login_args = parse_fast(words)
    docopt_args = docopt.docopt(command_usage(command), argv=words, default_help=False)
    record = RECORDS[command]
    assert record.from_args(login_args) == record.from_args(docopt_args)
    assert set(docopt_args) - set(login_args)  # the login form's dictionary really lacks the defaults


def test_an_empty_value_reads_as_the_option_left_out():
    """``--dir=`` and ``--min-valid=`` read as not given, as ``args.get(...) or default`` always read them;
    an option without a default keeps its empty value (``--as=`` is refused by export itself)."""
    assert carry.ShimsOptions.from_args({"--dir": ""}).dir == "~/.local/bin"
    assert tokens.TokenOptions.from_args({"--min-valid": ""}).min_valid == 600
    assert carry.ExportOptions.from_args({"--as": ""}).mount == ""
