"""Local service commands: ``jenv serve`` and ``jenv sandbox``."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import stat
import subprocess
import threading
from typing import Dict, List, Optional

from jenv.context import Context
from jenv.safefile import new_private_directory
from jenv.errors import ExitCode, JenvError, NotFoundError, UnsafeFileError, UsageError
from jenv.lite.record import Option, options_record
from jenv.locations import JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY, JENV_JCENTRAL_NAME, X509_CERT_FILE
from jenv.service.sandbox import SANDBOX_ADMIN, SandboxPaths, create_sandbox, load_service_files, \
    sandbox_environment, user_dn
from jenv.service.server import LocalService, UserMap, load_user_map, run_service

__all__ = ["cmd_serve", "cmd_sandbox", "ServeOptions", "SandboxOptions"]

#: Variables removed from a sandboxed command's environment so it can never use real credentials (nor
#: expect the real JCentral's name from the sandbox's service).
_SCRUBBED = (JALIEN_TOKEN_CERT, JALIEN_TOKEN_KEY, X509_CERT_FILE, JENV_JCENTRAL_NAME)


def _port(text: Optional[str]) -> int:
    if text is None:
        return 0
    if not text.isdigit() or int(text) > 65535:
        raise UsageError(f"--port {text!r}: give a port number (0 picks a free one)")
    return int(text)


def _check_ready_file(path: Optional[str]) -> None:
    """Before the service starts: UnsafeFileError when another user's file or link is at ``--ready-file``
    (jenv replaces the file rather than writing through it, and another user's is not its to replace)."""
    if path is None:
        return
    try:
        owner = os.lstat(path).st_uid
    except OSError:
        return  # missing (or unreachable, which the write reports)
    if owner != os.geteuid():
        raise UnsafeFileError(f"--ready-file {path} belongs to uid {owner}: give a file name of your own")


def _write_ready_file(path: str, port: int) -> None:
    """Write the port atomically, so a script polling the file never reads half of it (a link at ``path``
    is replaced, never written through)."""
    from jenv.safefile import replace_file

    try:
        replace_file(path, f"{port}\n".encode("ascii"), 0o666)  # open()'s own mode: umask decides
    except OSError as exc:
        raise NotFoundError(f"--ready-file {path} cannot be written ({exc.strerror or exc}): give a file in "
                            "a directory you can write") from None


def _log_file(option: Optional[str], environ) -> Optional[str]:
    """The request log (``--log``, else JENV_SERVE_LOG), opened (and created) once before anything else,
    so that a link planted at its name, a FIFO or another user's file is refused before the service starts."""
    from jenv.safefile import open_own_file_to_append

    path, name = (option, "--log") if option else (environ.get("JENV_SERVE_LOG") or None, "JENV_SERVE_LOG")
    if path is None:
        return None
    try:
        os.close(open_own_file_to_append(path))
    except OSError as exc:
        unsafe = {errno.ELOOP: "is a symbolic link, which jenv never writes through",
                  errno.ENXIO: "is not a regular file", errno.EINVAL: "is not a regular file",
                  errno.EPERM: exc.strerror}.get(exc.errno or 0)
        if os.path.islink(path):  # some kernels say EACCES, not ELOOP, for O_CREAT on a link in a sticky /tmp
            unsafe = "is a symbolic link, which jenv never writes through"
        if unsafe is None:
            raise NotFoundError(f"{name} {path} cannot be written ({exc.strerror or exc}): give a file in a "
                                "directory you can write") from None
        raise UnsafeFileError(f"{name} {path} {unsafe}: give a file name of your own for the log") from None
    return path


def _token_seconds(text: Optional[str]) -> Optional[int]:
    """``--token-seconds``: a whole number of seconds up to the shortest maximum of a token type."""
    if text is None:
        return None
    from jenv.jcentral.rules import MAX_VALIDITY_DAYS

    limit = min(MAX_VALIDITY_DAYS.values()) * 86400
    if not text.isdigit() or not 0 < int(text) <= limit:
        raise UsageError(f"--token-seconds {text!r}: give a whole number of seconds from 1 to {limit} (2 days, "
                         "the maximum of job and jobagent tokens)")
    return int(text)


def _service(paths: SandboxPaths, config: Optional[str], log: Optional[str],
             token_seconds: Optional[int] = None) -> LocalService:
    authority, server_credential = load_service_files(paths)
    return LocalService(authority, server_credential, load_user_map(config or paths.users), log_path=log,
                        token_seconds=token_seconds)


def describe_accounts(users: UserMap, source: str, presented: Optional[str] = None) -> str:
    """One line naming each account of the user map ``source``, its roles and flags; ``presented`` is the
    DN a command uses."""
    parts = []
    for dn, account in users.by_dn.items():
        roles = ", ".join(dict.fromkeys((account.username,) + account.roles))
        flags = [name for name, on in (("admin", account.admin), ("JobAgent", account.job_agent)) if on]
        used = " = X509_USER_CERT" if dn == presented else ""
        parts.append(f"{account.username} (roles {roles}{''.join('; ' + f for f in flags)}){used}")
    return f"accounts in {source}: " + "; ".join(parts) if parts else f"no accounts in {source}"


def _say_token_seconds(ctx: Context, seconds: Optional[int]) -> None:
    if seconds:
        ctx.err(f"jenv: --token-seconds {seconds}: every token lasts {seconds} seconds (plus JCentral's 2 hours of "
                "backdating); for tests and demonstrations only, JCentral never does this")


#: ``jenv serve``'s options.
ServeOptions = options_record("ServeOptions", {
    "dir": Option("--dir"),
    "host": Option("--host", "127.0.0.1"),
    "port": Option("--port", "0"),
    "config": Option("--config"),
    "ready_file": Option("--ready-file"),
    "log": Option("--log"),
    "token_seconds": Option("--token-seconds"),
})
#: ``jenv sandbox``'s options.
SandboxOptions = options_record("SandboxOptions", {
    "dir": Option("--dir"),
    "user": Option("--user"),
    "passphrase": Option("--passphrase", False),
    "admin": Option("--admin", False),
    "token_seconds": Option("--token-seconds"),
    "command": Option("<command>", ()),
})


def _wait_forever() -> None:
    event = threading.Event()
    while not event.wait(3600):
        pass


def cmd_serve(args, ctx: Context) -> int:
    """Run a local JCentral-compatible token service in the foreground (Ctrl-C stops it).

    Usage:
      jenv serve --dir <dir> [--host <host>] [--port <port>] [--config <file>]
                 [--ready-file <file>] [--log <file>] [--token-seconds <n>]

    Options:
      --dir <dir>          Service directory (layout below); created with a new CA,
                           user and admin account when it does not exist yet.
      --host <host>        Address to listen on [default: 127.0.0.1].
      --port <port>        Port to listen on; 0 picks a free one [default: 0].
      --config <file>      User map instead of <dir>/users.json.
      --ready-file <file>  Write the bound port to this file once listening.
      --log <file>         Append one JSON line per request (also JENV_SERVE_LOG).
      --token-seconds <n>  Tests and demonstrations only: every token lasts <n> seconds
                           (at most 172800), so renewal can be watched.

    The service reads, in <dir>:
      ca/cacert.pem, ca/cakey.pem          the CA that signs the tokens (PEM, key unencrypted)
      server/hostcert.pem, server/hostkey.pem  its TLS certificate, signed by that CA
      users.json                           the accounts, by certificate DN:
        {"<DN>": {"username": "jdoe", "roles": ["jdoe", "alicepr"], "email": "jdoe@example.org",
                  "admin": false, "jobagent": false}}
    "roles" defaults to [username]; the role "admin" or "admin": true make an admin (job
    and host tokens); the role "vobox" allows jobagent tokens; "jobagent": true makes the
    certificate a JobAgent identity (job tokens).  Clients trust ca/cacert.pem
    (certificates/ holds it as an X509_CERT_DIR when jenv made the directory).
    The listening address is printed on stderr as host:port.
    """
    opts = ServeOptions.from_args(args)
    port = _port(opts.port)  # options first: a typo must not leave a new CA behind
    token_seconds = _token_seconds(opts.token_seconds)
    host = opts.host
    _check_port_free(host, port)
    log = _log_file(opts.log, ctx.environ)
    _check_ready_file(opts.ready_file)
    paths = SandboxPaths.at(_service_dir(opts.dir))
    if not os.path.exists(paths.ca_cert):
        _create(paths.root)
        ctx.err(f"jenv: created a new CA, user and admin account in {paths.root} (user certificate "
                f"{paths.user_cert}, admin {paths.admin_cert})")
    service = _service(paths, opts.config, log, token_seconds)
    trust = f"CA dir {paths.ca_dir}" if os.path.isdir(paths.ca_dir) else f"CA {paths.ca_cert}"
    with _serving(service, host, port) as (host, port):
        try:  # Ctrl-C is the normal way to stop, whenever it comes
            ctx.err(f"jenv: serving JCentral protocol on {host}:{port} ({trust}); Ctrl-C stops")
            ctx.err(f"jenv: {describe_accounts(service.users, opts.config or paths.users)}")
            _say_token_seconds(ctx, token_seconds)
            if opts.ready_file:
                _write_ready_file(opts.ready_file, port)
            _wait_forever()
        except KeyboardInterrupt:
            ctx.err("jenv: service stopped")
    return ExitCode.OK


_PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")


def _service_dir(text: str) -> str:
    """``--dir`` as an absolute path that can hold the service's files; NotFoundError (exit 3) naming
    the fix when it is a file or on a pseudo filesystem, UnsafeFileError (exit 8) when someone else
    controls it (:func:`_refuse_foreign`)."""
    given = os.path.abspath(text)
    with contextlib.suppress(OSError):
        link = os.lstat(given)
        if stat.S_ISLNK(link.st_mode) and link.st_uid != os.geteuid():
            raise UnsafeFileError(f"--dir {text} is a symbolic link made by uid {link.st_uid}, which jenv does "
                                  "not follow: give a directory of your own")
    path = os.path.realpath(given)
    if any(path == top or path.startswith(top + "/") for top in _PSEUDO_FILESYSTEMS):
        raise NotFoundError(f"--dir {text}: {path} is on a pseudo filesystem, which cannot hold files: "
                            "give a directory on a real disk")
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotFoundError(f"--dir {text} is a file, not a directory: give a directory (it is created "
                            "when missing)")
    _refuse_foreign(text, path)
    return path


def _refuse_foreign(text: str, path: str) -> None:
    """UnsafeFileError unless the service directory ``path`` is the user's own and only the user can write
    it, and its parent (or, while it is missing, the nearest existing folder) lets no one else replace it:
    the service writes a CA key and a user key there."""
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    info = os.stat(existing)
    if existing == path:
        if info.st_uid != os.geteuid():
            raise UnsafeFileError(f"--dir {text} belongs to uid {info.st_uid}: give a directory of your own")
        if info.st_mode & 0o022:
            raise UnsafeFileError(f"--dir {text} can be written by others: give a directory only you can "
                                  "write (chmod go-w), or a new one")
        existing = os.path.dirname(path)
        info = os.stat(existing)
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise UnsafeFileError(f"--dir {text}: {existing} can be written by others, who could replace the "
                              "service's files: give a directory in a place only you can write")


def _create(root: str, username: str = "jdoe", passphrase: Optional[bytes] = None) -> None:
    try:
        create_sandbox(root, username, passphrase)
    except OSError as exc:
        raise NotFoundError(f"cannot create the service files in {root}: {exc.strerror or exc}: "
                            "give a directory you can write") from None


def _check_port_free(host: str, port: int) -> None:
    """Before anything is created: the port can be bound (0 always can)."""
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: only a listener blocks
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise _port_error(host, port, exc) from None
    finally:
        probe.close()


def _port_error(host: str, port: int, exc: OSError) -> JenvError:
    if exc.errno == errno.EADDRINUSE:
        return UsageError(f"--port {port}: {host}:{port} is already in use: choose another port, or 0 for a "
                          "free one")
    return UsageError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})")


@contextlib.contextmanager
def _serving(service, host: str = "127.0.0.1", port: int = 0):
    """:func:`run_service`, with a port that cannot be bound reported as one line."""
    try:
        server = run_service(service, host, port)
        bound = server.__enter__()
    except OSError as exc:
        raise _port_error(host, port, exc) from None
    try:
        yield bound
    finally:
        server.__exit__(None, None, None)


def _command_environment(ctx: Context, extra: Dict[str, str]) -> Dict[str, str]:
    """The command's environment: the user's, without real token variables, with the sandbox's; and
    this jenv first on PATH, so "jenv" inside means the jenv that made the sandbox (one installed in a
    virtual environment that is not activated included)."""
    import sys

    env = {name: value for name, value in ctx.environ.items() if name not in _SCRUBBED}
    env.update(extra)
    here = os.path.dirname(os.path.abspath(sys.executable))
    if os.access(os.path.join(here, "jenv"), os.X_OK):
        rest = [entry for entry in env.get("PATH", "").split(os.pathsep) if entry and entry != here]
        env["PATH"] = os.pathsep.join([here] + (rest or ["/usr/bin", "/bin"]))
    return env


def _run_command(command: List[str], env: Dict[str, str], ctx: Context) -> int:
    try:
        process = subprocess.Popen(command, env=env)
    except OSError as exc:
        ctx.err(f"jenv: cannot run {command[0]!r}: {exc.strerror}")
        return 127
    while True:
        try:
            status = process.wait()
            break
        except KeyboardInterrupt:  # the command got the same Ctrl-C; let it finish
            continue
    return status if status >= 0 else 128 - status


def _new_passphrase(ctx: Context) -> bytes:
    from jenv.credentials import tty_passphrase

    first = tty_passphrase("the new sandbox user key")
    if tty_passphrase("the new sandbox user key (again)") != first:
        raise UsageError("the two passphrases differ; run 'jenv sandbox --passphrase' again")
    if not first:
        raise UsageError("an empty passphrase would leave the key unencrypted; leave out --passphrase")
    return first


def cmd_sandbox(args, ctx: Context) -> int:
    """Throwaway CA, accounts and local service; run a command inside.

    Usage:
      jenv sandbox [--dir <dir>] [--user <name>] [--passphrase] [--admin] [--token-seconds <n>]
                   [--] [<command>...]

    Options:
      --dir <dir>          Keep the sandbox in this directory (reused when it exists);
                           by default a new temporary directory, removed afterwards.
      --user <name>        User name of the throwaway user (default jdoe).
      --passphrase         Encrypt the keys with a passphrase asked on the terminal.
      --admin              Run as the admin account jadmin instead of the user.
      --token-seconds <n>  Tests and demonstrations only: every token lasts <n> seconds.

    The sandbox has two accounts: the user (roles <name>, alicepr and vobox: user
    tokens, "jenv user alicepr", jobagent tokens) and the admin jadmin (roles jadmin
    and admin: job and host tokens too); it says so on stderr.  The command runs with
    X509_USER_CERT, X509_USER_KEY (the user's, or jadmin's with --admin),
    X509_CERT_DIR, ALIENPY_JCENTRAL, ALIENPY_JCENTRAL_PORT and TMPDIR pointing into
    the sandbox (JALIEN_TOKEN_CERT/KEY and JENV_JCENTRAL_NAME removed), so it never touches your real
    credentials or token; jenv exits with its status.  With no command, the
    exports are printed on stdout and the service runs until Ctrl-C.
    Example:  jenv sandbox -- sh -c 'eval "$(jenv token)" && jenv token-info'
    """
    opts = SandboxOptions.from_args(args)
    username = opts.user or "jdoe"
    if not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise UsageError(f"--user {username!r}: use letters, digits, '.', '-' or '_'")
    if username == SANDBOX_ADMIN:
        raise UsageError(f"--user {SANDBOX_ADMIN}: that is the sandbox's admin account (use --admin to run as it)")
    token_seconds = _token_seconds(opts.token_seconds)
    log = _log_file(None, ctx.environ)
    keep = opts.dir is not None
    root = _service_dir(opts.dir) if keep else new_private_directory("jenv-sandbox-")
    exists = os.path.exists(SandboxPaths.at(root).ca_cert)
    if exists and (opts.passphrase or opts.user):  # said before anything is asked
        ctx.err(f"jenv: {root} holds a sandbox already: --passphrase and --user apply only when one is "
                "created, so its user and key are kept as they are")
    passphrase = _new_passphrase(ctx) if opts.passphrase and not exists else None
    try:
        paths = SandboxPaths.at(root)
        if not exists:
            _create(root, username, passphrase)
        if opts.admin and not os.path.exists(paths.admin_cert):
            raise NotFoundError(f"{root} holds a sandbox without an admin account (made by an older jenv): "
                                "create a new one with 'jenv sandbox --dir <new dir>'")
        service = _service(paths, None, log, token_seconds)
        with _serving(service) as (host, port):
            admin = opts.admin
            extra = sandbox_environment(paths, host, port, admin)
            presented = user_dn(paths, admin)
            ctx.err(f"jenv: sandbox in {root}: {'admin' if admin else 'user'} {presented}, local service on "
                    f"{host}:{port}")
            hint = "" if admin else f" (--admin runs the command as {SANDBOX_ADMIN})"
            ctx.err(f"jenv: {describe_accounts(service.users, paths.users, presented)}{hint}")
            _say_token_seconds(ctx, token_seconds)
            if opts.command:
                return _run_command(list(opts.command), _command_environment(ctx, extra), ctx)
            from jenv.shells import pick_shell, render_exports

            exports = dict.fromkeys(_SCRUBBED)
            exports.update(extra)
            text = render_exports(pick_shell(ctx.shell, ctx.environ).name, exports)
            try:  # Ctrl-C is the normal way to stop, whenever it comes
                ctx.out(text)
                ctx.stdout.flush()
                ctx.err("jenv: the service runs until Ctrl-C")
                _wait_forever()
            except KeyboardInterrupt:
                ctx.err("jenv: sandbox stopped")
            return ExitCode.OK
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

