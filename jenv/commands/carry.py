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

from jenv.context import Context
from jenv.credentials import die_by
from jenv.durations import DEFAULT_MIN_VALID, parse_duration
from jenv.errors import ExitCode, UsageError
from jenv.lite.record import Option, options_record
from jenv.locations import JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY, X509_CERT_DIR, X509_CERT_FILE, expand_home
from jenv.tokens.shims import SHIMS, install_shims, remove_shims

__all__ = ["cmd_shims", "cmd_export", "cmd_exec", "cmd_args", "ShimsOptions", "ExportOptions", "ExecOptions",
           "ArgsOptions"]

_MIN_VALID = Option("--min-valid", DEFAULT_MIN_VALID, parse_duration)
#: ``--for``: seconds the token must still cover when the command starts (None: not asked).
_FOR = Option("--for", None, parse_duration)

#: ``jenv shims``'s options.
ShimsOptions = options_record("ShimsOptions", {
    "dir": Option("--dir", "~/.local/bin"),
    "force": Option("--force", False),
    "remove": Option("--remove", False),
})
#: ``jenv export``'s options.
ExportOptions = options_record("ExportOptions", {
    "to": Option("--to"),
    "min_valid": _MIN_VALID,
    "cover": _FOR,
    "mount": Option("--as"),
})
#: ``jenv exec``'s options.
ExecOptions = options_record("ExecOptions", {
    "min_valid": _MIN_VALID,
    "renew": Option("--renew", False),
    "cover": _FOR,
    "scrub": Option("--scrub", False),
    "command": Option("<command>"),
    "args": Option("<args>", ()),
})
#: ``jenv args``'s options.
ArgsOptions = options_record("ArgsOptions", {
    "curl": Option("curl", False),
    "config": Option("--config", False),
    "min_valid": _MIN_VALID,
})


# ---------------------------------------------------------------------------------------------- shims

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
    opts = ShimsOptions.from_args(args)
    directory = os.path.abspath(expand_home(opts.dir, ctx.home))
    if opts.remove:
        removed, kept = remove_shims(directory)
        ctx.err(f"jenv: removed {', '.join(removed)} from {directory}" if removed else
                f"jenv: no shims of jenv in {directory}")
        for target in kept:
            ctx.err(f"jenv: left {target} alone: jenv did not write it")
        return ExitCode.OK
    python = install_shims(directory, ctx.environ, ctx.uid, opts.force)
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
    from jenv.shells import render_token_exports
    from jenv.tokens.handoff import check_export_directory, copy_names, copy_token, token_in_hand
    from jenv.tokens.inuse import output_shell
    from jenv.tokens.keepfresh import plan_cover

    opts = ExportOptions.from_args(args)
    mount = opts.mount
    if mount is not None and not mount.startswith("/"):
        raise UsageError(f"--as {mount!r}: give the absolute path where the directory is mounted")
    cover = plan_cover(ctx, opts.cover, False, "export", opts.min_valid)  # --for, before any token work
    cert_name, key_name = copy_names(ctx.uid)
    shown = (mount.rstrip("/") or "/") if mount is not None else os.path.abspath(opts.to)
    # a path the output form cannot carry is refused before any work
    text = render_token_exports(output_shell(ctx), os.path.join(shown, cert_name), os.path.join(shown, key_name))
    check_export_directory(ctx, opts.to)  # and so is a directory the copies cannot go to
    token = token_in_hand(ctx, opts.min_valid)
    cover.confirm(token, ctx.clock())
    copy_token(ctx, token, opts.to)
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
    from jenv.tokens.keepfresh import plan_cover

    opts = ExecOptions.from_args(args)
    argv = [opts.command, *opts.args]
    path = command_path(argv, ctx.environ)
    if path is None:
        raise UsageError(f"cannot run {argv[0]!r}: not found on PATH, or not executable")
    if opts.scrub:
        environ, directory = scrubbed_environment(ctx.environ, ctx.uid)
        remove_when_done(directory)
        become(path, argv, environ, (ctx.stdout, ctx.stderr))
    cover = plan_cover(ctx, opts.cover, opts.renew, "exec", opts.min_valid)  # --for and --renew, before any token work
    token = token_in_hand(ctx, opts.min_valid)
    cover.confirm(token, ctx.clock())

    def with_token(cert_path: str, key_path: str):
        return dict(ctx.environ, **{JALIEN_TOKEN_CERT: cert_path, JALIEN_TOKEN_KEY: key_path}, **ca_exports(ctx))

    if cover.renewer is not None:
        from jenv.tokens.keepfresh import run_kept_fresh

        status = run_kept_fresh(ctx, argv, with_token, token, cover.renewer, opts.min_valid)
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
    from jenv.tokens.handoff import ca_exports, lasting_token_paths

    opts = ArgsOptions.from_args(args)
    if not opts.curl and not ctx.json:
        raise UsageError("say which form: 'jenv args curl --config' or 'jenv args --json'")
    if opts.config and (ctx.json or not opts.curl):
        raise UsageError("--config is curl's form: 'jenv args curl --config'")
    ca = ca_exports(ctx)
    if not ctx.json:  # a CA directory curl cannot take is refused before any token work
        check_capath(ca.get(X509_CERT_DIR))
    cert_path, key_path = (os.path.abspath(path) for path in lasting_token_paths(ctx, opts.min_valid))
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
    if opts.config:
        ctx.out(render_config(options))
    else:
        ctx.out(render_words(options))
    return ExitCode.OK
