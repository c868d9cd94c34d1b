"""curl's options for the token and the CA store, in the two forms ``jenv args curl`` prints.

* :func:`render_config`: a curl config file (``curl -K -``), every value in double quotes with curl's
  escapes (``\\\\``, ``\\"``, ``\\n``, ``\\t``, ``\\r``, ``\\v``: curl's tool_parsecfg.c), so any path
  arrives as it is: nothing is split, globbed or read as an option.
* :func:`render_words`: bare words for an unquoted ``$(jenv args curl)``.  The shell splits and globs
  what a command substitution prints, and takes quotes in it literally, so no quoting can help: a
  path is printed only when made of letters, digits and ``_ . / : @ % + , = ~ -`` (not first), and
  refused (InvalidInputError) otherwise, naming the config form.

Both carry curl's own rules: in ``--cert`` a ``:`` separates a password and ``\\`` escapes (so they
are escaped); in ``--capath`` OpenSSL reads ``:`` as a separator between directories, with no escape,
so such a directory is refused in both forms.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional

from jenv.errors import InvalidInputError

__all__ = ["CurlOption", "curl_options", "check_capath", "render_config", "render_words", "CONFIG_FORM"]

class CurlOption(NamedTuple):
    """One option: its long name (no dashes), its argument in curl's syntax, the path, what it is."""

    name: str
    argument: str
    path: str
    what: str

#: The documented form that carries every path.
CONFIG_FORM = "jenv args curl --config | curl -K - <url>"

_WORD_EXTRA = set("_./:@%+,=~-")
_CONFIG_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\v": "\\v"}


def curl_options(cert: str, key: str, capath: Optional[str] = None, cafile: Optional[str] = None) -> List[CurlOption]:
    """The options for a token pair and a CA directory or bundle, each argument in curl's own syntax.

    Raises InvalidInputError for a CA directory holding ``:``.
    """
    options = [CurlOption("cert", cert.replace("\\", "\\\\").replace(":", "\\:"), cert, "token certificate"),
               CurlOption("key", key, key, "token key")]
    if capath is not None:
        check_capath(capath)
        options.append(CurlOption("capath", capath, capath, "CA directory"))
    if cafile is not None:
        options.append(CurlOption("cacert", cafile, cafile, "CA bundle"))
    return options


def check_capath(capath: Optional[str]) -> None:
    """Raise InvalidInputError for a CA directory curl cannot be given: OpenSSL splits ``--capath`` at ':'."""
    if capath is not None and ":" in capath:
        raise InvalidInputError(f"the CA directory {capath} holds ':', which curl (OpenSSL) reads as a "
                                "separator between directories: set X509_CERT_DIR to a path without ':' "
                                "(a symbolic link to it will do), or X509_CERT_FILE to a CA bundle")


def render_config(options: List[CurlOption]) -> str:
    """A curl config file: one ``name = "value"`` line per option (no newline after the last)."""
    return "\n".join(f'{option.name} = "{"".join(_CONFIG_ESCAPES.get(c, c) for c in option.argument)}"'
                     for option in options)


def render_words(options: List[CurlOption]) -> str:
    """``--name value ...`` on one line, for an unquoted ``$(...)``; raises InvalidInputError for a value
    the shell would change (see the module doc)."""
    for option in options:
        bad = next((c for c in option.path if not (c.isalnum() or c in _WORD_EXTRA)
                    or (c == ":" and option.argument != option.path)), None)  # an escaped ':' needs a '\\'
        if bad is not None or option.path.startswith("-"):
            shown = repr(bad) if bad is not None else "a leading '-'"
            raise InvalidInputError(f"the {option.what} path {option.path} holds {shown}, which an unquoted "
                                    f"$(jenv args curl) would split, expand or pass on changed: use {CONFIG_FORM}")
    return " ".join(f"--{option.name} {option.argument}" for option in options)
