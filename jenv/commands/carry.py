"""The token where the login shell is not: shims, export, exec, args.

* ``jenv shims`` writes ``alien-token-info`` & co. that run jenv, for O2's and O2DPG's token checks;
* ``jenv export --to <dir>`` copies the token for batch jobs and containers, prints exports;
* ``jenv exec -- <command>`` runs a command with the token and the CA store exported
  (``--scrub``: with every grid credential removed instead);
* ``jenv args curl`` / ``jenv args --json`` give curl and Python ``requests`` the token and CA store.

The logic is :mod:`jenv.tokens.handoff`; each command here reads its options and prints.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import List, Sequence, Tuple

from jenv.context import Context
from jenv.credentials import die_by
from jenv.errors import ExitCode, NotFoundError, UnsafeFileError, UsageError
from jenv.locations import JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY, X509_CERT_DIR, X509_CERT_FILE, expand_home, \
    lock_directories
from jenv.safefile import check_directory, make_directory, private_directory, read_small_file, replace_file

__all__ = ["cmd_shims", "cmd_export", "cmd_exec", "cmd_args", "SHIMS", "SHIM_MARKER", "shim_text", "is_shim"]

#: The official client's standalone commands that O2 and O2DPG run -> the jenv command each shim runs.
SHIMS = {
    "alien-token-info": "alien-token-info",
    "alien-token-init": "alien-token-init",
    "alien-token-destroy": "alien-token-destroy",
    "alien-cert-info": "alien-cert-info",
}
#: The line that marks a file as one jenv wrote (and may replace or remove).
SHIM_MARKER = "# jenv shim: written by 'jenv shims'; 'jenv shims --remove' removes it"

#: Python code of a shim: the working directory leaves sys.path first, so a directory holding a
#: "jenv" or "cryptography" of its own cannot take the shim's place.
_SHIM_CODE = "import sys; sys.path[:] = [p for p in sys.path if p]; from jenv.cli import main; sys.exit(main())"


def _min_valid(args) -> int:
    from jenv.commands.tokens import DEFAULT_MIN_VALID, parse_duration

    return parse_duration(args.get("--min-valid") or DEFAULT_MIN_VALID)


def _plan_cover(ctx: Context, args, command: str):
    """``--for`` and ``--renew`` checked before any token work (:func:`jenv.tokens.keepfresh.plan_cover`)."""
    from jenv.durations import parse_duration
    from jenv.tokens.keepfresh import plan_cover

    seconds = parse_duration(args["--for"], "--for") if args.get("--for") else None
    return plan_cover(ctx, seconds, bool(args.get("--renew")), command, _min_valid(args))


# ---------------------------------------------------------------------------------------------- shims

def _interpreter_flags(python: str) -> List[str]:
    """``-E`` (ignore PYTHONPATH & co., which O2's environments set for their own packages) when jenv
    imports without them; nothing when jenv itself is only found through them."""
    import subprocess

    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    try:
        probe = subprocess.run([python, "-E", "-c", _SHIM_CODE.split("; from")[0] + "; import jenv.cli"],
                               env=env, cwd="/", capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return ["-E"] if probe.returncode == 0 else []


def shim_text(python: str, command: str, flags: Sequence[str] = ("-E",)) -> str:
    """The shell script of one shim: runs ``python ... jenv <command> "$@"``."""
    words = " ".join(shlex.quote(word) for word in [python, *flags, "-c", _SHIM_CODE, command])
    return f'#!/bin/sh\n{SHIM_MARKER}\nexec {words} "$@"\n'


def is_shim(path: str) -> bool:
    """True when ``path`` is a regular file (not a link) that jenv's shims command wrote."""
    try:
        head = read_small_file(path, 4096, follow_links=False, whole=False)[0]
    except OSError:
        return False
    return SHIM_MARKER.encode() in head


def _on_path(name: str, environ, skip: str) -> List[str]:
    """Executables called ``name`` on PATH, outside the directory ``skip``."""
    found = []
    for directory in environ.get("PATH", "").split(os.pathsep):
        if not directory or os.path.abspath(directory) == skip:
            continue
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK) and candidate not in found:
            found.append(candidate)
    return found


def _refusals(directory: str, environ, force: bool) -> List[str]:
    problems = []
    for name in SHIMS:
        target = os.path.join(directory, name)
        if os.path.lexists(target) and not is_shim(target):
            if os.path.isdir(target) and not os.path.islink(target):
                problems.append(f"{target} is a directory")
            elif not force:
                problems.append(f"{target} exists and was not written by jenv")
        if not force:
            problems.extend(f"{other} is on PATH (the official client's command, which the shim would shadow "
                            "or be shadowed by)" for other in _on_path(name, environ, directory) if not is_shim(other))
    return problems


def _write_shim(target: str, text: str) -> None:
    try:
        replace_file(target, text.encode("utf-8", "surrogateescape"), 0o755)
    except OSError as exc:
        raise NotFoundError(f"cannot write {target}: {exc.strerror}") from None


def _remove_shims(ctx: Context, directory: str) -> int:
    removed, kept = [], []
    for name in SHIMS:
        target = os.path.join(directory, name)
        if is_shim(target):
            try:
                os.unlink(target)
            except OSError as exc:
                raise NotFoundError(f"cannot remove {target}: {exc.strerror}") from None
            removed.append(name)
        elif os.path.lexists(target):
            kept.append(target)
    ctx.err(f"jenv: removed {', '.join(removed)} from {directory}" if removed else
            f"jenv: no shims of jenv in {directory}")
    for target in kept:
        ctx.err(f"jenv: left {target} alone: jenv did not write it")
    return ExitCode.OK


def cmd_shims(args, ctx: Context) -> int:
    """Write alien-token-info, alien-token-init, alien-token-destroy and alien-cert-info that run jenv.

    Usage:
      jenv shims [--dir=<dir>] [--force] [--remove]

    Options:
      --dir=<dir>  Where to write them [default: ~/.local/bin].
      --force      Write even over files jenv did not write, and beside the
                   official client's commands on PATH.
      --remove     Remove the shims jenv wrote (and nothing else).

    For O2's and O2DPG's token checks (LD_PRELOAD= alien-token-info) with jenv
    alone.  Refused (exit 8) when the official client's commands are on PATH
    or a file jenv did not write is in the way, unless --force, and when others
    can write the directory (sticky or not: it goes on PATH).
    """
    directory = os.path.abspath(expand_home(args.get("--dir") or "~/.local/bin", ctx.home))
    if args.get("--remove"):
        return _remove_shims(ctx, directory)
    problems = _refusals(directory, ctx.environ, bool(args.get("--force")))
    if problems:
        raise UnsafeFileError(f"not writing the shims: {problems[0]}"
                              + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                              + ": remove it, or use --force")
    try:
        make_directory(directory, 0o755)
    except OSError as exc:
        raise NotFoundError(f"cannot create {directory}: {exc.strerror}") from None
    # private: the directory goes on PATH, where a command another user puts beside the shims would run as you
    check_directory(directory, "shims", ctx.uid, fix="give --dir a directory of your own", private=True,
                    stake="the shims, and so what runs as alien-token-info and the others")
    python = os.path.abspath(sys.executable)
    flags = _interpreter_flags(python)
    for name, command in SHIMS.items():
        _write_shim(os.path.join(directory, name), shim_text(python, command, flags))
    ctx.err(f"jenv: wrote {', '.join(SHIMS)} to {directory} (they run {python} with jenv)")
    path_dirs = [os.path.abspath(d) for d in ctx.environ.get("PATH", "").split(os.pathsep) if d]
    if directory not in path_dirs:
        ctx.err(f"jenv: {directory} is not on PATH: add it in your login file "
                f"(export PATH={shlex.quote(directory)}:$PATH)")
    return ExitCode.OK


# --------------------------------------------------------------------------------------------- export

def cmd_export(args, ctx: Context) -> int:
    """Copy the token into a directory (for batch jobs, other nodes, containers); print exports for the copies.

    Usage:
      jenv export --to=<dir> [--min-valid=<duration>] [--for=<duration>] [--as=<path>] [--json] [--shell=<name>]

    Options:
      --to=<dir>              Directory for the copies (created 0700; the copies are 0400).
      --min-valid=<duration>  Renew first when the token expires sooner: 600, 10m, 2h, 1d [default: 10m].
      --for=<duration>        Refuse (exit 13) unless the token lasts this long: the copies are never renewed.
      --as=<path>             The directory's path where the exports are used (a container's mount point).
      --json                  Print JSON.
      --shell=<name>          Syntax: sh bash zsh ksh dash fish tcsh csh json env (env: NAME=value lines
                              for docker/apptainer --env-file).

    The exports name JALIEN_TOKEN_CERT and JALIEN_TOKEN_KEY in <dir> (or under
    --as).  The directory faces the token files' rules: not another user's,
    not writable by its group or everyone without the sticky bit, no links at
    the names.
    """
    from jenv.commands.tokens import render_token_exports
    from jenv.tokens.handoff import check_export_directory, copy_names, copy_token, token_in_hand

    mount = args.get("--as")
    if mount is not None and not mount.startswith("/"):
        raise UsageError(f"--as {mount!r}: give the absolute path where the directory is mounted")
    min_valid = _min_valid(args)
    cover = _plan_cover(ctx, args, "export")
    cert_name, key_name = copy_names(ctx.uid)
    shown = (mount.rstrip("/") or "/") if mount is not None else os.path.abspath(args["--to"])
    # a path the output form cannot carry is refused before any work
    text = render_token_exports(ctx, os.path.join(shown, cert_name), os.path.join(shown, key_name))
    check_export_directory(ctx, args["--to"])  # and so is a directory the copies cannot go to
    token = token_in_hand(ctx, min_valid)
    cover.confirm(token, ctx.clock())
    copy_token(ctx, token, args["--to"])
    ctx.out(text)
    return ExitCode.OK


# ----------------------------------------------------------------------------------------------- exec

def cmd_exec(args, ctx: Context) -> int:
    """Run a command with the token and the CA store exported (or, with --scrub, with no grid credential).

    Usage:
      jenv exec [--min-valid=<duration>] [--renew] [--for=<duration>] -- <command> [<args>...]
      jenv exec [--min-valid=<duration>] --scrub -- <command> [<args>...]

    Options:
      --min-valid=<duration>  Renew first when the token expires sooner: 600, 10m, 2h, 1d [default: 10m].
      --renew                 Give the command a private copy of the token, renewed at two thirds of its
                              lifetime while it runs (by the jenv agent, or an unencrypted user key).
      --for=<duration>        Refuse (exit 13) unless the token, or what renews it, lasts this long.
      --scrub                 Run it with no grid credential in reach instead; no token needed:
                              JALIEN_TOKEN_*, X509_USER_* and their APPTAINERENV_/SINGULARITYENV_
                              copies removed, then the token, user certificate and proxy variables
                              and TMPDIR set into an empty private directory, removed afterwards.

    The command gets JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY and X509_CERT_DIR (or
    X509_CERT_FILE).  With the token in files (and with --scrub) the command
    takes jenv's place, pid included, so every signal is its own.  A token
    given as PEM content goes through private temporary files that last as
    long as the command: jenv waits for it, passes every signal on (SIGKILL
    and SIGSTOP cannot be), removes the files whatever ends the command, and
    exits with its status (or dies by the signal that ended it); a SIGKILLed
    jenv takes the command along (Linux).  --renew runs the command the same
    way, with a copy that token-destroy or a role change in your shell cannot
    touch.  A command that cannot be found is exit 2.
    """
    from jenv.tokens.handoff import SignalRelay, become, ca_exports, command_path, remove_when_done, \
        scrubbed_environment, token_files, token_in_hand

    argv = [args["<command>"], *args["<args>"]]
    path = command_path(argv, ctx.environ)
    if path is None:
        raise UsageError(f"cannot run {argv[0]!r}: not found on PATH, or not executable")
    if args.get("--scrub"):
        environ, directory = scrubbed_environment(ctx.environ, ctx.uid)
        remove_when_done(directory)
        become(path, argv, environ, (ctx.stdout, ctx.stderr))
    cover = _plan_cover(ctx, args, "exec")
    token = token_in_hand(ctx, _min_valid(args))
    cover.confirm(token, ctx.clock())

    def with_token(cert_path: str, key_path: str):
        return dict(ctx.environ, **{JALIEN_TOKEN_CERT: cert_path, JALIEN_TOKEN_KEY: key_path}, **ca_exports(ctx))

    if cover.renewer is not None:
        from jenv.tokens.keepfresh import run_kept_fresh

        status = run_kept_fresh(ctx, argv, with_token, token, cover.renewer, _min_valid(args))
    elif token.in_files:  # the token files themselves, nothing to remove afterwards: the command takes over
        assert token.cert.path is not None and token.key.path is not None
        become(path, argv, with_token(token.cert.path, token.key.path), (ctx.stdout, ctx.stderr))
    else:  # Signals are held from before the private copies exist until they are gone: only SIGKILL leaves them.
        with SignalRelay() as relay, token_files(token) as (cert_path, key_path):
            status = relay.run(argv, with_token(cert_path, key_path))
    if status < 0:
        ctx.stdout.flush()
        die_by(-status)
    return status


# ----------------------------------------------------------------------------------------------- args

def _token_paths(ctx: Context, min_valid: int) -> Tuple[str, str]:
    """Paths of the token that outlive jenv: the token files, or (PEM content) private copies kept in
    $XDG_RUNTIME_DIR/jenv-args or ~/.cache/jenv/jenv-args, replaced at each call."""
    from jenv.tokens.handoff import copy_token, token_in_hand

    token = token_in_hand(ctx, min_valid)
    if token.in_files:
        assert token.cert.path is not None and token.key.path is not None
        return token.cert.path, token.key.path
    home = private_directory(lock_directories(ctx.environ, ctx.home), ctx.uid)
    return copy_token(ctx, token, os.path.join(home, "jenv-args"))


def cmd_args(args, ctx: Context) -> int:
    """Print the options that give a tool the token and the CA store: jenv args curl --config | curl -K - https://...

    Usage:
      jenv args [curl] [--config] [--min-valid=<duration>] [--json]

    Options:
      --config                A curl config file (curl -K -), which carries any path.
      --min-valid=<duration>  Renew first when the token expires sooner: 600, 10m, 2h, 1d [default: 10m].
      --json                  Print {"cert": ..., "key": ..., "capath" or "cafile": ...} (Python requests:
                              cert=(cert, key), verify=capath or cafile).

    "curl --config" prints cert, key and capath (or cacert) lines for
    curl -K: jenv args curl --config | curl -K - <url>, or
    curl -K <(jenv args curl --config) <url>.  "curl" alone prints --cert
    <file> --key <file> --capath <dir> (or --cacert <bundle>) as bare words
    for curl $(jenv args curl) <url>, and refuses (exit 4) a path that the
    shell would split or expand there.  A token given as PEM content is
    copied to a private directory of yours ($XDG_RUNTIME_DIR or
    ~/.cache/jenv), so the paths still work after jenv exits.
    """
    from jenv.shells.curl import check_capath, curl_options, render_config, render_words
    from jenv.tokens.handoff import ca_exports

    if not args.get("curl") and not ctx.json:
        raise UsageError("say which form: 'jenv args curl --config' or 'jenv args --json'")
    if args.get("--config") and (ctx.json or not args.get("curl")):
        raise UsageError("--config is curl's form: 'jenv args curl --config'")
    ca = ca_exports(ctx)
    if not ctx.json:  # a CA directory curl cannot take is refused before any token work
        check_capath(ca.get(X509_CERT_DIR))
    cert_path, key_path = (os.path.abspath(path) for path in _token_paths(ctx, _min_valid(args)))
    if not ca:
        ctx.err("jenv: no CA store found, so the server is checked against the tool's own CAs: "
                "run 'jenv ca-fetch' or set X509_CERT_DIR")
    if ctx.json:
        import json

        out = {"cert": cert_path, "key": key_path}
        out.update({("capath" if name == X509_CERT_DIR else "cafile"): path for name, path in ca.items()})
        from jenv.lite.schema import document

        ctx.out(json.dumps(document("args", out)))
        return ExitCode.OK
    options = curl_options(cert_path, key_path, ca.get(X509_CERT_DIR), ca.get(X509_CERT_FILE))
    if args.get("--config"):
        ctx.out(render_config(options))
    else:
        ctx.out(render_words(options))
    return ExitCode.OK
