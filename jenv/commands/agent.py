"""``jenv agent``: the renewal agent (start, status, renew-now, stop, install).

The logic is :mod:`jenv.tokens.agent` (the agent, its socket and schedule) and
:mod:`jenv.tokens.agentstart` (unlocking, daemonizing, service files); this module reads the options
and prints.
"""

from __future__ import annotations

import json
import os

from jenv.context import Context
from jenv.durations import DEFAULT_MIN_VALID, parse_duration
from jenv.errors import ExitCode, UsageError
from jenv.lite.record import Option, options_record

__all__ = ["cmd_agent", "AgentOptions"]


def _ttl(text: str, option: str):
    """Seconds, or None for an empty ``--ttl=`` (until stopped, as when left out)."""
    return parse_duration(text, option) if text else None


#: ``jenv agent``'s options (--json is the front end's).
AgentOptions = options_record("AgentOptions", {
    "start": Option("start", False),
    "status": Option("status", False),
    "renew_now": Option("renew-now", False),
    "stop": Option("stop", False),
    "install": Option("install", False),
    "foreground": Option("--foreground", False),
    "stay": Option("--stay", False),
    "ttl": Option("--ttl", None, _ttl),
    "min_valid": Option("--min-valid", DEFAULT_MIN_VALID, parse_duration),
    "systemd": Option("--systemd", False),
    "launchd": Option("--launchd", False),
    "remove": Option("--remove", False),
})


def cmd_agent(args, ctx: Context) -> int:
    """Keep the token files fresh: unlock the user key once, renew each token before it ends.

    Usage:
      jenv agent start [--foreground] [--stay] [--ttl=<duration>] [--min-valid=<duration>]
      jenv agent status [--json]
      jenv agent renew-now [--json]
      jenv agent stop
      jenv agent install (--systemd | --launchd) [--remove]

    Options:
      --foreground            Stay in the foreground (log lines on stderr too); default: a daemon.
      --stay                  Outlive the login session that started it (default: end with it).
      --ttl=<duration>        End after this long: 8h, 2d (default: until stopped).
      --min-valid=<duration>  Renew at the latest this long before the token ends [default: 10m].
      --json                  Print the agent's status as JSON.
      --systemd               Write ~/.config/systemd/user/jenv-agent.service.
      --launchd               Write ~/Library/LaunchAgents/ch.cern.alice.jenv-agent.plist (macOS).
      --remove                Remove that file instead.

    start asks for the user key's passphrase once, at the terminal, and keeps it only in the agent's
    locked memory.  The agent renews the token files when two thirds of the token's lifetime have
    passed; a second start reports the running agent (exit 0).  status, renew-now and stop exit 12
    when no agent runs for you on this host.
    """
    opts = AgentOptions.from_args(args)
    if opts.start:
        from jenv.tokens.agentstart import start_agent

        return start_agent(ctx, opts.foreground, opts.stay, opts.ttl, opts.min_valid)
    if opts.install:
        return _install(ctx, "systemd" if opts.systemd else "launchd", opts.remove)
    from jenv.tokens.agentstart import ask_running_agent
    from jenv.tokens.obtain import lock_wait

    wait = lock_wait(ctx) + 10  # the agent answers between renewals: one may be under way
    if opts.status:
        answer = ask_running_agent(ctx, "status", wait)
        return _print_status(ctx, answer)
    if opts.renew_now:
        answer = ask_running_agent(ctx, "renew-now", wait)
        code = _print_status(ctx, answer)
        if not answer.get("ok"):
            ctx.err(f"jenv: the agent could not renew the token: {answer.get('error')}")
        return code
    answer = ask_running_agent(ctx, "stop", wait)
    ctx.err("jenv: the agent stops" if answer.get("ok") else f"jenv: {answer.get('error')}")
    return ExitCode.OK if answer.get("ok") else int(answer.get("exit_code") or ExitCode.ERROR)


def _print_status(ctx: Context, answer: dict) -> int:
    status = answer.get("status")
    if not isinstance(status, dict):
        ctx.err(f"jenv: the agent answered: {answer.get('error')}")
        return int(answer.get("exit_code") or ExitCode.ERROR)
    if ctx.json:
        from jenv.lite.schema import document

        ctx.out(json.dumps(document("agent", status)))
    else:
        from jenv.tokens.agent import agent_lines

        ctx.out("\n".join(agent_lines(status, ctx.clock())))
    return ExitCode.OK if answer.get("ok") else int(answer.get("exit_code") or ExitCode.ERROR)


def _install(ctx: Context, kind: str, remove: bool) -> int:
    from jenv.tokens.agentstart import service_file

    path, content, enable, disable = service_file(ctx, kind)
    if remove:
        try:
            os.unlink(path)
        except FileNotFoundError:
            ctx.err(f"jenv: {path} does not exist: nothing to remove")
            return ExitCode.OK
        except OSError as exc:
            raise UsageError(f"cannot remove {path}: {exc.strerror}") from None
        ctx.err(f"jenv: removed {path}")
        return ExitCode.OK
    from jenv.safefile import make_directory, replace_file

    try:
        make_directory(os.path.dirname(path), 0o700)
        replace_file(path, content.encode("utf-8"), 0o644)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    ctx.err(f"jenv: wrote {path}")
    ctx.err("jenv: to start the agent now and at every login: " + " && ".join(enable))
    ctx.err("jenv: to remove it: " + "; ".join(disable))
    return ExitCode.OK
