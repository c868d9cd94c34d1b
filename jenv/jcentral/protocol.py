"""The JCentral JSON protocol: requests, answers and token replies, with no I/O.

JSON and PEM text only: nothing here parses a certificate or a key.  What the
PEM text holds is judged once, before anything is written, by
:mod:`jenv.tokens.vet`.

One request is one JSON text frame ``{"command": "token", "options": [...]}``;
one answer is ``{"metadata": {"exitcode": "0", "error": "", "user": ...,
"currentdir": ...}, "results": [{...}]}``.  The rules the real server imposes
on a client live here so that both jenv's client and its local service
(:mod:`jenv.service.server`) share them:

* ``exitcode`` decides.  A refused role switch (``token -u other``) answers
  exitcode "1" *and* a token for the requester, which must never be used.
* exitcode "0" with a non-empty ``error`` is a notice (for example the
  "Reducing the validity ..." message), not a failure.
* exitcode "121" (EREMOTEIO) is how JAliEn's ``token`` command reports that
  the central service refused to issue the token ("Remote I/O error : Server
  didn't execute your request, reason was: ..."): the identity may not have
  that token type.  jenv says so in one line (exit 10).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

from jenv.errors import NetworkError, ServerRefusedError, UsageError

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "TOKEN_TYPES",
    "NOMSG",
    "EREMOTEIO",
    "SERVER_REFUSAL",
    "ProtocolError",
    "TokenRequest",
    "Reply",
    "TokenPair",
    "parse_validity",
    "parse_token_options",
    "encode_request",
    "parse_reply",
    "encode_reply",
    "check_reply",
    "refusal_message",
    "token_pair_from_reply",
]

TOKEN_TYPES = ("user", "job", "jobagent", "host")

#: JAliEn's exit code for a request the central service refused (alien/shell/ErrNo.java), and its text.
EREMOTEIO = 121
SERVER_REFUSAL = "Server didn't execute your request, reason was: "

#: Sent first by the official client so the answer carries no extra "message" copy of the PEMs.
NOMSG = "-nomsg"


class ProtocolError(NetworkError):
    """JCentral's answer is not a well-formed protocol message."""


def parse_validity(text: str) -> int:
    """``-v`` as given on the command line -> whole days; UsageError when not a whole number."""
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits.isdigit() or not digits.isascii() or len(digits) > 9:  # JAliEn reads an int
        raise UsageError(f"-v {text[:20]!r}: the validity must be a whole number of days (at most 9 digits)")
    return int(stripped)


@dataclass(frozen=True)
class TokenRequest:
    """The options of the ``token`` command (see ``jenv token-init -h``)."""

    username: Optional[str] = None
    validity_days: Optional[int] = None
    token_type: str = "user"
    jobid: Optional[str] = None
    hostname: Optional[str] = None
    #: ``-f``: a host token even when its host name does not resolve (JCentral then only warns).
    force: bool = False

    def options(self) -> List[str]:
        """The wire options: ``-nomsg`` first (like the official client), then those given."""
        opts = [NOMSG]
        if self.username is not None:
            opts += ["-u", self.username]
        if self.validity_days is not None:
            opts += ["-v", str(self.validity_days)]
        if self.token_type != "user":
            opts += ["-t", self.token_type]
        if self.jobid is not None:
            opts += ["-jobid", self.jobid]
        if self.hostname is not None:
            opts += ["-hostname", self.hostname]
        if self.force:
            opts.append("-f")
        return opts

    @classmethod
    def from_options(cls, username: Optional[str] = None, validity: Optional[str] = None,
                     token_type: Optional[str] = None, jobid: Optional[str] = None,
                     hostname: Optional[str] = None, force: bool = False) -> "TokenRequest":
        """A request from option values as typed (the command line and the wire), not validated.

        Like JCentral, ``-jobid`` alone means a job token and ``-hostname`` a
        host token.  Raises UsageError for a ``-v`` that is not a whole number.
        """
        implied = "job" if jobid is not None else "host" if hostname is not None else "user"
        return cls(username=username, validity_days=None if validity is None else parse_validity(validity),
                   token_type=token_type or implied, jobid=jobid, hostname=hostname, force=force)

    def validate(self) -> "TokenRequest":
        """Check the client-side rules; returns self, raises UsageError naming the fix."""
        if self.token_type not in TOKEN_TYPES:
            raise UsageError(f"-t {self.token_type!r}: the token type must be one of {', '.join(TOKEN_TYPES)}")
        if self.validity_days is not None and (
                isinstance(self.validity_days, bool) or not isinstance(self.validity_days, int)):
            raise UsageError(f"-v {self.validity_days!r}: the validity must be a whole number of days")
        if self.token_type == "job" and (not self.username or not self.jobid):
            raise UsageError("a job token needs both -u <user> and -jobid <id>")
        if self.token_type == "host" and not self.hostname:
            raise UsageError("a host token needs -hostname <fqdn>")
        for name, value in (("-u", self.username), ("-jobid", self.jobid), ("-hostname", self.hostname)):
            if value is not None and not value.strip():
                raise UsageError(f"{name} needs a non-empty value")
        return self


_VALUE_OPTIONS = {"-u": "username", "-v": "validity_days", "-t": "token_type",
                  "-jobid": "jobid", "-hostname": "hostname"}


def parse_token_options(options: Sequence[str]) -> TokenRequest:
    """Server side: the wire options of ``token`` -> TokenRequest (not validated).

    Like JAliEn, ``-jobid`` implies a job token and ``-hostname`` a host
    token unless ``-t`` says otherwise.  Raises UsageError for an unknown
    option, a missing value or a non-numeric ``-v``.
    """
    values: dict = {}
    force = False
    args = list(options)
    while args:
        opt = args.pop(0)
        if opt == "-f":
            force = True
            continue
        if opt in (NOMSG, "-nokeys"):
            continue
        if opt not in _VALUE_OPTIONS:
            raise UsageError(f"{opt} is not a recognized option")
        if not args:
            raise UsageError(f"Option {opt[1:]} requires an argument")
        values[_VALUE_OPTIONS[opt]] = args.pop(0)
    return TokenRequest.from_options(values.get("username"), values.get("validity_days"),
                                     values.get("token_type"), values.get("jobid"), values.get("hostname"), force)


@dataclass(frozen=True)
class Reply:
    """One JCentral answer; ``exitcode`` 0 with a non-empty ``error`` is a notice."""

    exitcode: int
    error: str
    user: str
    currentdir: str
    results: List[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exitcode == 0

    @property
    def notice(self) -> str:
        """The server's message when the request succeeded anyway ("" when none)."""
        return self.error if self.ok else ""


def encode_request(command: str, options: Sequence[str]) -> str:
    """One request frame: ``{"command": ..., "options": [...]}`` as JSON text."""
    return json.dumps({"command": command, "options": [str(opt) for opt in options]})


def encode_reply(reply: Reply) -> str:
    """One answer frame, shaped like JCentral's (exitcode as a string)."""
    metadata = {"exitcode": str(reply.exitcode), "error": reply.error, "user": reply.user,
                "currentdir": reply.currentdir}
    return json.dumps({"metadata": metadata, "results": list(reply.results)})


def _malformed(why: str) -> ProtocolError:
    return ProtocolError(f"malformed answer from JCentral: {why}")


def _text_field(metadata: dict, name: str) -> str:
    value = metadata.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)):
        raise _malformed(f"metadata {name!r} is a {type(value).__name__}, not text")
    return str(value)


def parse_reply(text) -> Reply:
    """Parse one answer frame (str or bytes); raises ProtocolError for anything else."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _malformed(f"not JSON ({exc}): {text[:60]!r}") from None
    except RecursionError:
        raise _malformed("nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        raise _malformed("no 'metadata' object")
    metadata = data["metadata"]
    code_text = _text_field(metadata, "exitcode").strip()
    try:
        exitcode = int(code_text)
    except ValueError:
        raise _malformed(f"exitcode {code_text!r} is not a number") from None
    results = data.get("results", [])
    if results is None:
        results = []
    if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
        raise _malformed("'results' is not a list of objects")
    return Reply(exitcode, _text_field(metadata, "error"), _text_field(metadata, "user"),
                 _text_field(metadata, "currentdir"), results)


@dataclass(frozen=True)
class TokenPair:
    """A token certificate and its key, PEM text exactly as JCentral sent it.

    ``cert`` is the certificate as the vetting parsed it (:func:`jenv.tokens.vet.vet_token`, once per
    run, for the later steps to read); None in a pair that has not been vetted.
    """

    cert_pem: str
    key_pem: str
    cert: Optional["x509.Certificate"] = field(default=None, compare=False, repr=False)


def refusal_message(reply: Reply) -> str:
    """One line for a non-zero exitcode: JCentral's message, and what it means where jenv knows."""
    message = " ".join(reply.error.split()) or "no message"
    if reply.exitcode == EREMOTEIO:
        reason = message.split(SERVER_REFUSAL, 1)[-1]
        return (f"JCentral will not issue this token to the identity that asked: {reason} (JCentral exit code "
                "121: job tokens need a JobAgent or an admin, jobagent tokens the vobox role, host tokens an admin)")
    hint = " (-f asks for the host token anyway)" if reply.exitcode == 6 and "cannot be resolved" in message else ""
    return f"JCentral refused the request (exitcode {reply.exitcode}): {message}{hint}"


def check_reply(reply: Reply, notice: Optional[Callable[[str], None]] = None) -> Reply:
    """Raise ServerRefusedError for a non-zero exitcode; pass a notice to ``notice``."""
    if not reply.ok:
        raise ServerRefusedError(refusal_message(reply))
    if reply.notice.strip() and notice is not None:
        notice(reply.notice.strip())
    return reply


def token_pair_from_reply(reply: Reply, notice: Optional[Callable[[str], None]] = None) -> TokenPair:
    """The token text of a ``token`` answer, not yet vetted (:func:`jenv.tokens.vet.vet_token` judges it).

    Raises ServerRefusedError when exitcode is non-zero (even when a token is
    attached) and ProtocolError when the token fields are missing.  The PEM
    text is kept as sent (the key in the traditional RSA form).
    """
    check_reply(reply, notice)
    first = reply.results[0] if reply.results else {}
    cert_pem, key_pem = first.get("tokencert"), first.get("tokenkey")
    if not isinstance(cert_pem, str) or not isinstance(key_pem, str) or not cert_pem or not key_pem:
        raise _malformed("the token answer has no 'tokencert' and 'tokenkey'")
    return TokenPair(cert_pem, key_pem)
