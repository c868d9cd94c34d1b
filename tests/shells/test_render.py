"""Unit tables for the quoters, name checks and pick_shell (no shells run here)."""

from __future__ import annotations

import json

import pytest

from jenv.errors import InvalidInputError, UsageError
from jenv.shells import (SHELL_NAMES, ShellChoice, ShellFamily, canonical_name, pick_shell,
                         quote_value, render_exports)


@pytest.mark.parametrize("shell, value, quoted", [
    ("bash", "/tmp/tokencert_1000.pem", "/tmp/tokencert_1000.pem"),
    ("sh", "with space", "'with space'"),
    ("zsh", "it's", "'it'\"'\"'s'"),
    ("ksh", "$HOME `id` \\ !", "'$HOME `id` \\ !'"),
    ("dash", "", "''"),
    ("bash", "a\nb", "'a\nb'"),
    ("fish", "/tmp/x", "'/tmp/x'"),
    ("fish", "it's", "'it\\'s'"),
    ("fish", "back\\slash", "'back\\\\slash'"),
    ("fish", "a\nb $x", "'a\nb $x'"),
    ("tcsh", "/tmp/x", "'/tmp/x'"),
    ("tcsh", "", "''"),
    ("csh", "x!y", "'x'\\!'y'"),
    ("tcsh", "!", "\\!"),
    ("tcsh", "a\\!b", "'a\\'\\!'b'"),
    ("tcsh", "it's", "'it'\\''s'"),
    ("tcsh", "$HOME `id` \t%", "'$HOME `id` \t%'"),
    ("json", "a\"b\n", "\"a\\\"b\\n\""),
])
def test_quote_table(shell, value, quoted):
    assert quote_value(shell, value) == quoted


def test_statements_end_with_semicolon_in_every_shell():
    for shell in SHELL_NAMES:
        if shell in ("json", "json-vars", "env"):  # output forms for programs, not shell code
            continue
        text = render_exports(shell, {"A": "1", "B": None})
        lines = text.splitlines()
        assert len(lines) == 2 and all(line.endswith(";") for line in lines), text
        assert text.endswith("\n")


@pytest.mark.parametrize("shell, text", [
    ("bash", "export A=1;\nunset B;\n"),
    ("fish", "set -gx A '1';\nset -e B;\n"),
    ("tcsh", "setenv A '1';\nunsetenv B;\n"),
])
def test_render_spelling(shell, text):
    assert render_exports(shell, {"A": "1", "B": None}) == text


def test_env_form_is_plain_name_value_lines():
    assert render_exports("env", {"A": "/tmp/x_1.pem", "B": "a:b@c%d+e,f=g-h"}) == "A=/tmp/x_1.pem\nB=a:b@c%d+e,f=g-h\n"


@pytest.mark.parametrize("value", ["-----BEGIN CERTIFICATE-----\nMIIB\n", "/a b", "/a'b", '/a"b', "/$HOME", "/a`b",
                                   "/a\\b", "/a;b", "/a#b"])
def test_env_form_refuses_what_docker_and_apptainer_read_differently(value):
    with pytest.raises(InvalidInputError, match="env file"):
        render_exports("env", {"A": value})


def test_env_form_cannot_unset():
    with pytest.raises(InvalidInputError, match="cannot unset B in an env file"):
        render_exports("env", {"B": None})


def test_json_is_the_same_description():
    text = render_exports("json", {"A": "v\n'\"", "B": None})
    assert json.loads(text) == {"A": "v\n'\"", "B": None}
    assert list(json.loads(text)) == ["A", "B"]


def test_empty_exports_render_nothing():
    assert render_exports("bash", {}) == ""
    assert json.loads(render_exports("json", {})) == {}


@pytest.mark.parametrize("shell", ["csh", "tcsh"])
def test_csh_refuses_newline_naming_variable_and_shell(shell):
    with pytest.raises(InvalidInputError) as err:
        render_exports(shell, {"JALIEN_TOKEN_KEY": "-----BEGIN\nx\n-----END\n"})
    assert "JALIEN_TOKEN_KEY" in str(err.value) and shell in str(err.value)
    assert render_exports(shell, {"JALIEN_TOKEN_KEY": "tab\tcr\r"})  # the positive case


@pytest.mark.parametrize("shell", ["bash", "fish", "tcsh"])
def test_nul_is_refused(shell):
    with pytest.raises(InvalidInputError, match=rf"X.*{shell}.*NUL"):
        render_exports(shell, {"X": "a\0b"})


@pytest.mark.parametrize("name", ["", "1A", "A-B", "A B", "A;rm", "A=B", "É"])
@pytest.mark.parametrize("shell", SHELL_NAMES)
def test_bad_names_are_refused(shell, name):
    with pytest.raises(InvalidInputError, match="variable name"):
        render_exports(shell, {name: "x"})


def test_unknown_shell_is_a_usage_error():
    with pytest.raises(UsageError, match="pwsh.*sh bash zsh ksh dash fish tcsh csh json"):
        render_exports("pwsh", {"A": "1"})


@pytest.mark.parametrize("raw, name", [
    ("bash", "bash"), ("-bash", "bash"), ("/bin/zsh", "zsh"), ("-/usr/bin/tcsh", "tcsh"),
    ("/usr/bin/ksh93", "ksh"), ("mksh", "ksh"), ("FISH", "fish"), ("pwsh", None), ("", None),
    ("python3", None),
])
def test_canonical_name(raw, name):
    assert canonical_name(raw) == name


def _never():
    raise AssertionError("detection must not run when --shell is given")


@pytest.mark.parametrize("explicit, detected, shell_var, choice", [
    ("fish", _never, "/bin/bash", ShellChoice("fish", ShellFamily.FISH, "from --shell")),
    ("/bin/tcsh", _never, "", ShellChoice("tcsh", ShellFamily.CSH, "from --shell")),
    ("json", _never, "", ShellChoice("json", ShellFamily.JSON, "from --shell")),
    # the parent process beats $SHELL (the login shell may differ from the calling one)
    (None, lambda: "zsh", "/bin/bash", ShellChoice("zsh", ShellFamily.POSIX,
                                                   "from the parent process")),
    (None, lambda: "-tcsh", "/bin/bash", ShellChoice("tcsh", ShellFamily.CSH,
                                                     "from the parent process")),
    (None, lambda: None, "-/usr/local/bin/fish", ShellChoice("fish", ShellFamily.FISH, "from $SHELL")),
    (None, lambda: "pwsh", "/bin/zsh", ShellChoice("zsh", ShellFamily.POSIX, "from $SHELL")),
    (None, lambda: None, "", ShellChoice("sh", ShellFamily.POSIX, "the default")),
    (None, lambda: None, "/opt/json", ShellChoice("sh", ShellFamily.POSIX, "the default")),
    (None, lambda: None, "/usr/bin/nu", ShellChoice("sh", ShellFamily.POSIX, "the default")),
])
def test_pick_shell_order(explicit, detected, shell_var, choice):
    environ = {"SHELL": shell_var} if shell_var else {}
    assert pick_shell(explicit, environ, detect=detected) == choice


def test_pick_shell_unknown_explicit_is_usage_error():
    with pytest.raises(UsageError, match="unknown shell 'powershell': use one of sh"):
        pick_shell("powershell", {}, detect=_never)


@pytest.mark.parametrize("shell, line", [("bash", "export X509_CERT_DIR=/home/j/ca"),
                                         ("tcsh", "setenv X509_CERT_DIR '/home/j/ca'"),
                                         ("fish", "set -gx X509_CERT_DIR '/home/j/ca'"),
                                         ("json", "export X509_CERT_DIR=/home/j/ca")])
def test_the_login_file_line_is_in_the_users_shell(shell, line):
    """What ca-fetch tells a user to add to a login file is in that user's shell syntax (issue 15.5)."""
    from jenv.shells import login_line

    assert login_line(shell, {}, "X509_CERT_DIR", "/home/j/ca") == line


def test_messages_made_without_a_shell_use_no_shell_syntax():
    """The token-file messages are made where nobody knows the shell: they name what to set, in no
    one shell's syntax (an 'export' line would be wrong for a tcsh user)."""
    import jenv.safefile as files

    assert "export " not in files.PRIVATE_TMP_FIX and "setenv" not in files.PRIVATE_TMP_FIX
