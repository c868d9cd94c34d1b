"""``jenv cert-import``: the PKCS#12 file the CA sent becomes ~/.globus/usercert.pem and userkey.pem.

The workflow is :func:`jenv.tokens.usercert.import_pkcs12`, what is printed :mod:`jenv.report.certimport`.
"""

from __future__ import annotations

import os

from jenv.context import Context, printable_lines
from jenv.errors import ExitCode
from jenv.lite.record import Option, options_record
from jenv.locations import X509_USER_CERT, X509_USER_KEY, expand_home

__all__ = ["cmd_cert_import", "CertImportOptions"]

#: ``jenv cert-import``'s options (--json is the front end's).
CertImportOptions = options_record("CertImportOptions", {
    "file": Option("<file>"),
    "dir": Option("--dir", "~/.globus"),
    "force": Option("--force", False),
    "no_passphrase": Option("--no-passphrase", False),
})


def _expand(path: str, ctx: Context) -> str:
    return os.path.abspath(expand_home(path, ctx.home))


def cmd_cert_import(args, ctx: Context) -> int:
    """Install the PKCS#12 file (.p12) from the CA as usercert.pem and userkey.pem.

    Usage:
      jenv cert-import <file> [--dir=<dir>] [--force] [--no-passphrase] [--json]

    Options:
      --dir=<dir>      Where to write usercert.pem and userkey.pem [default: ~/.globus].
      --force          Replace existing files; the old ones are kept as <name>.<date> copies.
      --no-passphrase  Write the key unencrypted (not recommended: anyone with a copy is you).
      --json           Print what was written as JSON.

    Asks for the PKCS#12 password, then twice for a new passphrase that protects the
    key (never echoed); a wrong password, or a confirmation that differs, is asked
    again, three times in all.  Reads legacy (RC2, 3DES) and current (AES) files.  Nothing is
    written unless the bundle opens and its key belongs to its certificate.  Exit 0
    written, 2 files exist (no --force), 3 file missing or directory unwritable, 4 not
    a PKCS#12 file or damaged, 7 key does not fit, 8 a target is not a regular file
    or others can write the directory, 11 wrong password, passphrases differ, or no terminal.
    """
    from jenv.report.certimport import import_dict, import_lines
    from jenv.tokens.expiry import expiry_message
    from jenv.tokens.usercert import import_pkcs12

    opts = CertImportOptions.from_args(args)
    done, info = import_pkcs12(opts.file, _expand(opts.dir, ctx), opts.force, not opts.no_passphrase,
                               ctx.now().strftime("%Y-%m-%d"), ctx.err)
    not_after, now = int(info.not_after.timestamp()), ctx.clock()
    if ctx.json:
        from jenv.report.render import to_json

        ctx.out(to_json(import_dict(done, info, now)))
    else:
        ctx.report(printable_lines(import_lines(done, info, now)))
    notice = expiry_message(not_after, now, f"user certificate {done.cert_path}")
    if notice:
        ctx.err(f"jenv: {notice}")
    for variable, path in ((X509_USER_CERT, done.cert_path), (X509_USER_KEY, done.key_path)):
        value = ctx.environ.get(variable)
        if value and _expand(value, ctx) != path:
            ctx.err(f"jenv: note: {variable} points at {value}, not at the new file: unset it, or set it to {path}")
    return ExitCode.OK
