"""The one home of jenv's file rules: each function names the threat it handles.

jenv reads and writes in places it does not control: a shared ``/tmp``
(token files: other users, symbolic links, FIFOs), ``~/.globus`` and
variables that may point anywhere (user credentials: FIFOs, devices, huge
files), and CA directories (hundreds of files OpenSSL would open blindly).
Every open, create, rename and fsync of jenv is made here (the architecture
test refuses one anywhere else), so each rule is written once:

* :mod:`~jenv.safefile.read`: the one reader of small files (never blocks; links, owner, privacy,
  missing files and the size limit as the caller asks), the table of file kinds, the size limits, and
  the token files' and private state's rules, with their messages;
* :mod:`~jenv.safefile.write`: new files with their final mode, the atomic replace of one file, of a
  pair (temporaries, fsync, signals held across the renames, directory fsync) and of a directory;
* :mod:`~jenv.safefile.dirs`: the directories written in, the private directory, new directories;
* :mod:`~jenv.safefile.lock`: the token store's lock file;
* :mod:`~jenv.safefile.core`: keeping keys out of core dumps.

Callers import from ``jenv.safefile``; each name loads only its own module (the login path pays for
what it uses, and nothing here imports ``cryptography``).
"""

from __future__ import annotations

#: Each public name -> the module of this package that defines it.
_HOME = {}
for _module, _names in (
        ("read", ("FILE_KINDS", "file_kind", "MAX_PEM_SIZE", "MAX_CA_FILE", "MAX_TOKEN_FILE_SIZE", "MAX_STATE_FILE",
                  "FileRefusedError", "FileReadError", "open_without_blocking", "read_limited",
                  "read_regular_file", "read_small_file", "lstat_if_there", "lstat_checked", "check_target",
                  "read_checked", "read_private_file")),
        ("write", ("create_new_file", "open_own_file_to_append", "temp_name", "replace_file", "slot_name",
                   "write_temp_file", "fsync_directory", "leftover_files", "HELD_SIGNALS", "signals_held",
                   "rename_into_place", "replace_pair", "replace_directory")),
        ("dirs", ("PRIVATE_TMP_FIX", "check_directory", "private_directory", "only_yours", "make_directory",
                  "new_private_directory", "make_symbolic_link")),
        ("lock", ("hold_lock",)),
        ("core", ("keep_secrets_out_of_core_dumps", "use_light_core_guard", "restore_core_dumps",
                  "exec_with_core_dumps"))):
    for _name in _names:
        _HOME[_name] = _module
del _module, _names, _name

__all__ = sorted(_HOME)


def __getattr__(name: str):
    """``from jenv.safefile import X``: X from the module that defines it, loaded on first use."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'jenv.safefile' has no attribute {name!r}")
    value = getattr(__import__(f"jenv.safefile.{module}", fromlist=[name]), name)
    globals()[name] = value
    return value
