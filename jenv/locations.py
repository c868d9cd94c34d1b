"""Where credentials live: a pure function of environment, uid and home.

This is the only module that knows the environment variable names and the
default paths (see the user documentation: ``X509_USER_{CERT,KEY}``,
``JALIEN_TOKEN_{CERT,KEY}`` holding a path or the PEM itself,
``${TMPDIR:-/tmp}/token{cert,key}_$UID.pem``).  Nothing here touches the
filesystem except through the ``isdir``/``isfile`` callables handed to
:func:`resolve_ca_store`, so every rule is unit-testable.
"""

from __future__ import annotations

import os

from jenv.lite.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # the login fast path imports this module, and typing costs more than its whole budget
    from typing import Callable, Mapping, Tuple

__all__ = [
    "expand_home",
    "VARIABLES",
    "X509_USER_CERT",
    "X509_USER_KEY",
    "X509_CERT_DIR",
    "X509_CERT_FILE",
    "JALIEN_TOKEN_CERT",
    "JALIEN_TOKEN_KEY",
    "ALIENPY_JCENTRAL",
    "ALIENPY_JCENTRAL_PORT",
    "JENV_JCENTRAL_NAME",
    "JENV_TIMEOUT",
    "JENV_CA_URL",
    "JENV_CRL",
    "CRL_POLICIES",
    "looks_like_content",
    "lock_directories",
    "cache_directory",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_RUNTIME_DIR",
    "DEFAULT_JCENTRAL_HOST",
    "DEFAULT_JCENTRAL_PORT",
    "Location",
    "CAStore",
    "Endpoint",
    "Locations",
    "is_pem_content",
    "token_dir",
    "resolve_locations",
    "pair_origin_problem",
    "resolve_ca_store",
    "resolve_endpoint",
    "resolve_timeout",
]

X509_USER_CERT = "X509_USER_CERT"
X509_USER_KEY = "X509_USER_KEY"
X509_CERT_DIR = "X509_CERT_DIR"
X509_CERT_FILE = "X509_CERT_FILE"
JALIEN_TOKEN_CERT = "JALIEN_TOKEN_CERT"
JALIEN_TOKEN_KEY = "JALIEN_TOKEN_KEY"
ALIENPY_JCENTRAL = "ALIENPY_JCENTRAL"
ALIENPY_JCENTRAL_PORT = "ALIENPY_JCENTRAL_PORT"
JENV_JCENTRAL_NAME = "JENV_JCENTRAL_NAME"  # the name JCentral's certificate must carry, when not the host's
JENV_TIMEOUT = "JENV_TIMEOUT"
JENV_CA_URL = "JENV_CA_URL"  # where `jenv ca-fetch` downloads the CA tarball
JENV_CRL = "JENV_CRL"  # how CRLs in the CA store are used: warn (default), require, ignore
CRL_POLICIES = ("warn", "require", "ignore")
XDG_RUNTIME_DIR = "XDG_RUNTIME_DIR"
XDG_CACHE_HOME = "XDG_CACHE_HOME"
XDG_CONFIG_HOME = "XDG_CONFIG_HOME"
TMPDIR = "TMPDIR"

DEFAULT_JCENTRAL_HOST = "alice-jcentral.cern.ch"
DEFAULT_JCENTRAL_PORT = 8097
DEFAULT_TIMEOUT = 10.0

#: CA directories tried in order when neither X509_CERT_DIR nor X509_CERT_FILE is set;
#: a leading "~" is the user's home.
DEFAULT_CA_DIRS = (
    "~/.globus/certificates",
    "/cvmfs/alice.cern.ch/etc/grid-security/certificates",
    "/etc/grid-security/certificates",
)

#: Every environment variable jenv reads, with its meaning (``jenv --help`` lists them; a test checks
#: that the source reads no other).
VARIABLES = {
    "X509_USER_CERT": "user certificate (default ~/.globus/usercert.pem)",
    "X509_USER_KEY": "user key (default ~/.globus/userkey.pem)",
    "JALIEN_TOKEN_CERT": "token certificate: a path or the PEM text (default $TMPDIR/tokencert_$UID.pem)",
    "JALIEN_TOKEN_KEY": "token key: a path or the PEM text (default $TMPDIR/tokenkey_$UID.pem)",
    "TMPDIR": "directory of the default token files (default /tmp)",
    "X509_CERT_DIR": "CA certificates, an OpenSSL hash directory",
    "X509_CERT_FILE": "CA certificates, one PEM bundle (when X509_CERT_DIR is unset)",
    "ALIENPY_JCENTRAL": "JCentral host (default alice-jcentral.cern.ch)",
    "ALIENPY_JCENTRAL_PORT": "JCentral port (default 8097)",
    "JENV_JCENTRAL_NAME": "the name JCentral's server certificate must carry, when it differs from "
                          "ALIENPY_JCENTRAL (a node name, a tunnel; default: the host itself)",
    "JENV_TIMEOUT": "seconds for connecting and for each answer (default 10)",
    "JENV_RETRY_AFTER": "after JCentral failed, how long logins say so at once instead of asking again "
                        "(default 2m; 0: always ask)",
    "JENV_CA_URL": "CA tarball that ca-fetch downloads",
    "JENV_CRL": "CRLs in the CA store: warn (default; a CRL past its next update is a warning), require "
                "(it is refused), ignore (no revocation checks)",
    "HTTPS_PROXY": "proxy for ca-fetch downloads (also NO_PROXY, REQUESTS_CA_BUNDLE); JCentral is reached directly",
    "JENV_TMPDIR": "login hook: the TMPDIR to use where /tmp is private to the node",
    "JENV_PRIVATE_TMP": "login hook: 1 = /tmp is private to the node (default: hosts named lxplus*), 0 = it is not",
    "JENV_HOOK_TIMEOUT": "login hook: the most seconds it may take (default 20)",
    "JENV_BIN": "hook files (shell/): the jenv to run (default: jenv on PATH)",
    "JENV_SERVE_LOG": "serve, sandbox: append one JSON line per request to this file",
    "JENV_DEBUG": "1 = show library warnings and the traceback of an internal error",
    "HOME": "where ~/.globus and ~/.cache/jenv are",
    "XDG_RUNTIME_DIR": "private directory for the token lock and the remembered verdicts (default ~/.cache/jenv)",
    "XDG_CACHE_HOME": "where jenv keeps its private state, ~/.cache/jenv by default (the expiry notice's memory)",
    "XDG_CONFIG_HOME": "where 'jenv agent install --systemd' writes the user unit (default ~/.config)",
    "SHELL": "the shell whose syntax jenv prints, when the parent process is not a shell",
    "PATH": "where shims looks for alienpy's commands, and exec and sandbox for the command to run",
    "PYTHONPATH": "doctor: a directory there that holds one of jenv's libraries shadows it (a failure)",
    "LD_PRELOAD": "doctor: named, as it is loaded into jenv and OpenSSL",
}

PEM_MARKER = "-----BEGIN"


#: Lines that may stand before the PEM block in pasted content: ``openssl pkcs12`` prints
#: "Bag Attributes" / "Key Attributes" headers and indented attributes, ``openssl x509`` a subject line.
_PREAMBLE_HEADERS = ("Bag Attributes", "Key Attributes", "subject=", "issuer=")


def is_pem_content(value: str) -> bool:
    """True when an environment value is PEM text rather than a path.

    A leading byte-order mark, blank lines and the attribute lines that
    ``openssl pkcs12`` and ``openssl x509`` print before the block are skipped.
    """
    text = value.lstrip("\ufeff")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(PEM_MARKER):
            return True
        if stripped and not line[:1].isspace() and not stripped.startswith(_PREAMBLE_HEADERS):
            return False
    return False


def looks_like_content(value: str) -> bool:
    """True for a value no one would write as a path: several lines, PEM armour, or a long base64 run.

    Such a value may be key material; it is never echoed in a message.
    """
    if "\n" in value or "\r" in value or "-----" in value or "PRIVATE KEY" in value or len(value) > 4096:
        return True
    run = 0
    for char in value:
        run = run + 1 if char.isascii() and (char.isalnum() or char in "+=") else 0
        if run >= 64:
            return True
    return False


class Location(record("Location", "what source path pem variable problem", (None, None, None, None))):
    """One credential: a file path, or PEM content taken from a variable.

    ``what`` is a human name ("user certificate"), ``source`` says where the
    location came from ("from X509_USER_CERT" or "default"), ``variable`` names
    the variable that set it (None for a default), ``problem`` why the
    variable's value is unusable, without repeating it (it may be key material).
    """

    __slots__ = ()

    @property
    def from_content(self) -> bool:
        return self.pem is not None

    def describe(self) -> str:
        """Short text for messages: the path, or that the PEM came from a variable."""
        if self.pem is not None:
            return f"{self.what} (PEM content of {self.variable or self.source})"
        if self.problem is not None:
            return f"{self.what} (the value of {self.variable})"
        return f"{self.what} {self.path}"


class CAStore(record("CAStore", "path kind source explicit variable crl", (False, None, "warn"))):
    """The CA certificates: an OpenSSL-style directory or a PEM bundle file.

    ``path`` is None when nothing was configured and no default exists;
    ``kind`` is "dir", "file" or "none"; ``explicit`` is True when a variable
    named it (then it must be valid), ``variable`` is that variable; ``crl``
    is JENV_CRL as given ("warn" when unset; checked where CRLs are used).
    """

    __slots__ = ()


class Endpoint(record("Endpoint", "host port source name", (None,))):
    """Where JCentral is, where that came from, and ``name``: the name its certificate must carry when
    it is not ``host`` (JENV_JCENTRAL_NAME)."""

    __slots__ = ()

    @property
    def tls_name(self) -> str:
        """The name the server certificate is matched against (RFC 6125): ``name``, else the host."""
        return self.name or self.host

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"wss://{host}:{self.port}/websocket/json"


class Locations(record("Locations", "user_cert user_key token_cert token_key")):
    __slots__ = ()


def expand_home(path: str, home: str) -> str:
    """``~`` and ``~/...`` under ``home`` (the context's, not the process's); any other path as it is."""
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path


def _absolute(path: str) -> str:
    """An absolute path: exports must mean the same file in every directory the shell goes to."""
    return path if os.path.isabs(path) else os.path.abspath(path)


def _file_location(environ: Mapping[str, str], var: str, what: str, default: str, home: str,
                   allow_content: bool) -> Location:
    value = environ.get(var, "")
    if value:
        if allow_content and is_pem_content(value):
            # A byte-order mark (from an editor's copy) is no part of PEM: OpenSSL would find no block.
            return Location(what=what, source=f"from {var}", pem=value.lstrip("\ufeff"), variable=var)
        if looks_like_content(value):
            wanted = "a path to a PEM file or the PEM text itself" if allow_content else "a path to a PEM file"
            return Location(what=what, source=f"from {var}", variable=var,
                            problem=f"{var} holds {len(value)} characters that are not {wanted} "
                                    f"(not shown: it may be key material): set it to {wanted}, or unset it")
        return Location(what=what, source=f"from {var}", path=_absolute(expand_home(value, home)), variable=var)
    return Location(what=what, source="default", path=default)


def token_dir(environ: Mapping[str, str]) -> str:
    """``${TMPDIR:-/tmp}``, absolute: an empty TMPDIR counts as unset, like the shell form."""
    return _absolute(environ.get(TMPDIR) or "/tmp")


def lock_directories(environ: Mapping[str, str], home: str) -> Tuple[str, ...]:
    """Where jenv's private state (the token lock) may live, best first: ``$XDG_RUNTIME_DIR`` (used only
    when it turns out to be the user's own 0700 directory), else ``~/.cache/jenv``; none when neither is an
    absolute path."""
    runtime = environ.get(XDG_RUNTIME_DIR, "")
    # A home that is not an absolute path ("~" when HOME is unset and the uid has no passwd entry) is no
    # place at all: never a directory relative to wherever jenv runs.
    places = (runtime,) if os.path.isabs(runtime) else ()
    return places + ((os.path.join(home, ".cache", "jenv"),) if os.path.isabs(home) else ())


def cache_directory(environ: Mapping[str, str], home: str) -> str:
    """jenv's private state (the once-a-day memory of the expiry notice): ``$XDG_CACHE_HOME/jenv`` when
    XDG_CACHE_HOME is an absolute path (the XDG rule: a relative one is ignored), else ``~/.cache/jenv``."""
    base = environ.get(XDG_CACHE_HOME, "")
    return os.path.join(base if os.path.isabs(base) else os.path.join(home, ".cache"), "jenv")


def resolve_locations(environ: Mapping[str, str], uid: int, home: str) -> Locations:
    """Resolve user and token credential locations; never touches the filesystem."""
    globus = os.path.join(home, ".globus")
    tdir = token_dir(environ)
    return Locations(
        user_cert=_file_location(environ, X509_USER_CERT, "user certificate",
                                 os.path.join(globus, "usercert.pem"), home, False),
        user_key=_file_location(environ, X509_USER_KEY, "user key",
                                os.path.join(globus, "userkey.pem"), home, False),
        token_cert=_file_location(environ, JALIEN_TOKEN_CERT, "token certificate",
                                  os.path.join(tdir, f"tokencert_{uid}.pem"), home, True),
        token_key=_file_location(environ, JALIEN_TOKEN_KEY, "token key",
                                 os.path.join(tdir, f"tokenkey_{uid}.pem"), home, True),
    )


def pair_origin_problem(cert: Location, key: Location, uid: int) -> "str | None":
    """Why the token certificate and key cannot be one pair, or None: one of JALIEN_TOKEN_CERT/KEY set
    without the other (unless it names the default file), one PEM content and the other a path, or two
    paths in different directories.  A pair is written and read as one, and half a pair in a default
    place would leave the default files mismatched for every other shell and client."""
    if cert.problem is not None or key.problem is not None:
        return None  # reported as the variable's own problem
    both = f"set both {JALIEN_TOKEN_CERT} and {JALIEN_TOKEN_KEY}, or unset both to use the default files"
    if (cert.pem is None) != (key.pem is None):
        return (f"{JALIEN_TOKEN_CERT} and {JALIEN_TOKEN_KEY} must both be PEM content or both be paths "
                f"(one is each): {both}")
    if cert.pem is not None:
        return None
    for loc, other, name, other_name in ((cert, key, "tokencert", JALIEN_TOKEN_KEY),
                                         (key, cert, "tokenkey", JALIEN_TOKEN_CERT)):
        if loc.variable and not other.variable:
            default = os.path.join(os.path.dirname(other.path or ""), f"{name}_{uid}.pem")
            if loc.path != default:
                return (f"{loc.variable} is set ({loc.path}) but {other_name} is not, so the pair would be "
                        f"split between {loc.path} and {other.path}: {both}")
    if os.path.dirname(cert.path or "") != os.path.dirname(key.path or ""):
        return (f"{JALIEN_TOKEN_CERT} ({cert.path}) and {JALIEN_TOKEN_KEY} ({key.path}) name different "
                f"directories; a pair lives in one directory: {both}")
    return None


def resolve_ca_store(environ: Mapping[str, str], home: str,
                     isdir: Callable[[str], bool] = os.path.isdir) -> CAStore:
    """Pick the CA store: X509_CERT_DIR, X509_CERT_FILE, then the default directories.

    An explicit variable is returned as is even when it does not exist, so the
    caller reports it instead of silently using something else.
    """
    crl = environ.get(JENV_CRL, "") or "warn"
    cert_dir = environ.get(X509_CERT_DIR, "")
    if cert_dir:
        return CAStore(expand_home(cert_dir, home), "dir", f"from {X509_CERT_DIR}", True, X509_CERT_DIR, crl)
    cert_file = environ.get(X509_CERT_FILE, "")
    if cert_file:
        return CAStore(expand_home(cert_file, home), "file", f"from {X509_CERT_FILE}", True, X509_CERT_FILE, crl)
    for candidate in DEFAULT_CA_DIRS:
        path = expand_home(candidate, home)
        if isdir(path):
            return CAStore(path, "dir", "default", crl=crl)
    return CAStore(None, "none", "default (none of " + ", ".join(DEFAULT_CA_DIRS) + " exists)", crl=crl)


def resolve_endpoint(environ: Mapping[str, str]) -> Endpoint:
    """JCentral host and port from ALIENPY_JCENTRAL(_PORT), else the CERN default.

    Raises ValueError when the port is not a number in 1..65535.
    """
    host = environ.get(ALIENPY_JCENTRAL, "") or DEFAULT_JCENTRAL_HOST
    port_text = environ.get(ALIENPY_JCENTRAL_PORT, "")
    sources = []
    if environ.get(ALIENPY_JCENTRAL):
        sources.append(ALIENPY_JCENTRAL)
    port = DEFAULT_JCENTRAL_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{ALIENPY_JCENTRAL_PORT}={port_text!r} is not a port number (1-65535)")
        port = int(port_text)
        sources.append(ALIENPY_JCENTRAL_PORT)
    return Endpoint(host, port, "from " + " and ".join(sources) if sources else "default",
                    environ.get(JENV_JCENTRAL_NAME, "") or None)


def resolve_timeout(environ: Mapping[str, str]) -> Tuple[float, str]:
    """Network timeout in seconds (JENV_TIMEOUT, default 10); ValueError when not a positive number."""
    text = environ.get(JENV_TIMEOUT, "")
    if not text:
        return DEFAULT_TIMEOUT, "default"
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ValueError(f"{JENV_TIMEOUT}={text!r} is not a number of seconds (0-3600)")
    return value, f"from {JENV_TIMEOUT}"
