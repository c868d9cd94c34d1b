"""``jenv doctor``: why there is no token, the cause first and its fix (the checks: jenv.report.doctor)."""

from __future__ import annotations

from jenv.context import Context

__all__ = ["cmd_doctor"]


def cmd_doctor(args, ctx: Context) -> int:
    """Check everything a token needs, in the order one is made, and name the cause first with its fix.

    Usage:
      jenv doctor [--json]

    Options:
      --json  Print the findings as a JSON list (schema: jenv/data/schemas/jenv.doctor.v1.json).

    Checks the environment (PYTHONPATH, alien-token-info and alien.py on PATH,
    LD_PRELOAD), the user certificate and key, the CA store and its CRLs, the
    token files and their directory, then JCentral: every address of its
    name over IPv4 and IPv6 side by side, TLS, the server's chain and name,
    the clock (the server's Date), and whether JCentral accepts the user
    certificate.  One line per finding (FAIL, WARN, OK, SKIP) on stdout, the
    most important first; the first failure also as one "jenv:" line on
    stderr.  Never prompts, never writes a token; the whole run ends within
    JENV_TIMEOUT plus one second.

    Exit 0 when nothing fails (a token can be made, or a valid one is in
    place); otherwise the exit code of the first failure, as 'jenv token'
    would end: 1 a broken installation, 3 missing file, 4 unusable file or
    value, 5 dates or clock, 6 CRL (JENV_CRL=require), 7 key mismatch,
    8 unsafe file or directory, 9 network, 10 not accepted by JCentral,
    11 encrypted key and no terminal.
    """
    from jenv.report.doctor import diagnose, exit_code, ordered, render

    findings = diagnose(ctx.environ, ctx.uid, ctx.home, ctx.clock)
    ctx.report(render(findings, ctx.json), ctx.json)
    code = exit_code(findings)
    if code:
        first = ordered(findings)[0]
        ctx.err(f"jenv: {first.detail}" + (f" (fix: {first.fix})" if first.fix else ""))
    return code
