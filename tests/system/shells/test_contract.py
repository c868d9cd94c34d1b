"""One contract, every emitter, the real shell: evaluating jenv's output sets exactly the values.

(keyring's BackendBasicTests shape: the same class runs against each shell.)
Each test renders exports with :func:`jenv.shells.render_exports`, lets the
real shell evaluate them the way a login file does, and reads the environment
back as bytes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Mapping, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jenv.errors import InvalidInputError
from jenv.shells import render_exports

from support.hostile import HOSTILE_VALUES, PEM_LIKE
from support.realshell import SHELLS, dump_command, read_dump, run_script

#: How each shell reads jenv's output in a login file (quoted form).
EVAL_QUOTED = {
    "posix": 'eval "$(cat {out})"',
    "fish": "cat {out} | source",
    "csh": 'eval "`cat {out}`"',
}
#: The unquoted form many existing login scripts use (path mode only).
EVAL_UNQUOTED = {
    "posix": "eval $(cat {out})",
    "fish": "eval (cat {out})",
    "csh": "eval `cat {out}`",
}
#: Any character but NUL and lone surrogates, with the shell-special ASCII ones made frequent.
CHARS = st.one_of(st.sampled_from(list("'\"$`\\!%*?~^#;&|<>(){}[]=- \t\n\r")),
                  st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))
FAMILY = {"bash": "posix", "zsh": "posix", "ksh": "posix", "dash": "posix", "sh": "posix",
          "fish": "fish", "tcsh": "csh", "csh": "csh"}


def can_carry(shell: str, value: str) -> bool:
    """Whether ``shell`` is supposed to carry ``value`` (csh refuses newlines)."""
    return not (FAMILY[shell] == "csh" and "\n" in value)


def eval_in_shell(shell: str, exports: Mapping[str, Optional[str]], tmp: Path, env: Dict[str, str],
                  form: Mapping[str, str] = EVAL_QUOTED) -> Dict[str, Optional[bytes]]:
    """Render ``exports`` for ``shell``, evaluate them there, return the environment after."""
    out = tmp / "exports.txt"
    out.write_text(render_exports(shell, exports), encoding="utf-8")
    script = form[FAMILY[shell]].format(out=out) + "\n" + dump_command(tmp, list(exports)) + "\n"
    proc = run_script(shell, script, tmp, env)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode(errors="replace")
    return read_dump(tmp)


def same_program(a: str, b: str) -> bool:
    paths = [shutil.which(a), shutil.which(b)]
    return None not in paths and os.path.realpath(paths[0]) == os.path.realpath(paths[1])


def expected(exports: Mapping[str, Optional[str]]) -> Dict[str, Optional[bytes]]:
    return {k: (v.encode("utf-8") if v is not None else None) for k, v in exports.items()}


@pytest.mark.parametrize("shell", SHELLS)
class TestShellContract:
    def test_hostile_values_arrive_byte_for_byte(self, shell, tmp_path, shell_env):
        exports = {f"JENV_T{i}": v for i, v in enumerate(HOSTILE_VALUES) if can_carry(shell, v)}
        assert len(exports) >= 15
        assert eval_in_shell(shell, exports, tmp_path, shell_env) == expected(exports)

    def test_unset_removes_and_set_replaces(self, shell, tmp_path, shell_env):
        env = dict(shell_env, JENV_OLD="old value", JENV_KEEP="was here")
        exports = {"JENV_OLD": None, "JENV_KEEP": "new", "JENV_NEVER": None}
        got = eval_in_shell(shell, exports, tmp_path, env)
        assert got == {"JENV_OLD": None, "JENV_KEEP": b"new", "JENV_NEVER": None}

    def test_unquoted_eval_works_for_paths(self, shell, tmp_path, shell_env):
        exports = {"JALIEN_TOKEN_CERT": "/tmp/tokencert_1000.pem",
                   "JALIEN_TOKEN_KEY": "/afs/cern.ch/user/j/jdoe/.cache/jenv/tmp/tokenkey_1000.pem",
                   "JENV_GONE": None}
        env = dict(shell_env, JENV_GONE="x")
        got = eval_in_shell(shell, exports, tmp_path, env, form=EVAL_UNQUOTED)
        assert got == expected(exports)

    def test_pem_content(self, shell, tmp_path, shell_env):
        exports = {"JALIEN_TOKEN_KEY": PEM_LIKE}
        if not can_carry(shell, PEM_LIKE):
            with pytest.raises(InvalidInputError, match=rf"JALIEN_TOKEN_KEY.*{shell}.*newline"):
                render_exports(shell, exports)
            return
        assert eval_in_shell(shell, exports, tmp_path, shell_env) == expected(exports)

    @settings(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(values=st.lists(st.text(CHARS, max_size=40), min_size=1, max_size=16))
    def test_property_any_text_round_trips(self, shell, tmp_path, shell_env, values):
        twin = {"sh": "dash", "csh": "tcsh"}.get(shell)
        if twin and same_program(shell, twin):
            pytest.skip(f"{shell} is {twin} on this machine: the {twin} run covers it")
        exports = {f"JENV_P{i}": v for i, v in enumerate(values)}
        try:
            rendered = render_exports(shell, exports)
        except InvalidInputError:
            assert not all(can_carry(shell, v) for v in values)
            return
        assert rendered
        assert eval_in_shell(shell, exports, tmp_path, shell_env) == expected(exports)

