"""Pure rendering: certificate details and key checks as JSON-able dicts and text.

Text and ``--json`` come from the same dict, so they never disagree.  Nothing
here reads files or the clock: callers pass ``now``.  Times are UTC in ISO
8601 form (``2026-11-28T07:30:00Z``); time left is shown for humans
("3d 4h 05m") and given in seconds in JSON.
"""

from __future__ import annotations

import dataclasses

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from jenv.context import printable, printable_lines
from jenv.lite.schema import document
from jenv.locations import Location
from jenv.pem import iso_utc, validity_problem, validity_state  # noqa: F401  (the report's names)
from jenv.report.sources import describe_source, source_dict, variable_of  # noqa: F401  (light: whoami uses it)

if TYPE_CHECKING:  # status imports this module; the types are only annotations here
    import datetime as dt

    from jenv.pem import CertInfo
    from jenv.report.status import CAStatus, CredentialStatus, Status

__all__ = [
    "iso_utc",
    "serial_hex",
    "variable_of",
    "describe_source",
    "source_dict",
    "cert_dict",
    "cert_lines",
    "render_cert_info",
    "validity_problem",
    "key_match_dict",
    "render_key_match",
    "to_json",
    "status_dict",
    "status_lines",
    "render_status",
]

_LABEL_WIDTH = 12


def serial_hex(serial: int) -> str:
    """The serial number as OpenSSL prints it: upper-case hex, an even number of digits."""
    text = f"{serial:X}"
    return text if len(text) % 2 == 0 else "0" + text


def cert_dict(info: CertInfo, loc: Optional[Location], now: dt.datetime) -> Dict[str, Any]:
    """Every reported fact about a certificate (plus its source when ``loc`` is given)."""
    from jenv.lite.timefmt import format_duration

    seconds = info.seconds_left(now)
    data: Dict[str, Any] = source_dict(loc) if loc is not None else {}
    data.update({
        "subject": info.subject,
        "issuer": info.issuer,
        "not_before": iso_utc(info.not_before),
        "not_after": iso_utc(info.not_after),
        "state": validity_state(info, now),
        "seconds_left": seconds,
        "time_left": format_duration(seconds) if seconds > 0 else "0m 00s",
        "serial": serial_hex(info.serial),
        "key_type": info.key_type,
        "key_bits": info.key_bits,
        "fingerprint_sha256": info.fingerprint_sha256,
        "is_ca": info.is_ca,
    })
    return data


def _row(label: str, value: str) -> str:
    return f"  {label:<{_LABEL_WIDTH}}{value}"


def _time_left_text(info: CertInfo, now: dt.datetime, short: bool = False) -> str:
    """'3d 4h 05m (valid)' (or 'valid, 3d 4h 05m left' when ``short``), 'EXPIRED .. ago', 'NOT YET VALID ..'."""
    from jenv.lite.timefmt import format_duration

    state = validity_state(info, now)
    if state == "expired":
        return f"EXPIRED {format_duration(-info.seconds_left(now))} ago"
    if state == "not yet valid":
        return f"NOT YET VALID (starts in {format_duration(int((info.not_before - now).total_seconds()))})"
    left = format_duration(info.seconds_left(now))
    return f"valid, {left} left" if short else f"{left} (valid)"


def cert_lines(info: CertInfo, loc: Location, now: dt.datetime) -> List[str]:
    """The human form of :func:`cert_dict`: a title line and one indented line per fact."""
    data = cert_dict(info, loc, now)
    label = "content" if loc.pem is not None else "file"
    return [
        loc.what,
        _row(label, describe_source(loc)),
        _row("subject", data["subject"]),
        _row("issuer", data["issuer"]),
        _row("not before", data["not_before"]),
        _row("not after", data["not_after"]),
        _row("time left", _time_left_text(info, now)),
        _row("serial", data["serial"]),
        _row("key", f"{data['key_type']} {data['key_bits']} bits"),
        _row("sha256", data["fingerprint_sha256"]),
    ]


def to_json(data: Any) -> str:
    """Stable, indented JSON text."""
    import json  # only --json needs it; cert-verify's fast path prints text without loading it

    return json.dumps(data, indent=2, sort_keys=False)


def render_cert_info(info: CertInfo, loc: Location, now: dt.datetime, as_json: bool = False) -> str:
    """The cert-info/token-info output (JSON or text, no trailing newline)."""
    if as_json:
        return to_json(document("certificate", cert_dict(info, loc, now)))
    return printable_lines(cert_lines(info, loc, now))


def key_match_dict(cert_loc: Location, key_loc: Location, key_type: str, key_bits: int,
                   matches: bool) -> Dict[str, Any]:
    """The certkey-match/tokenkey-match result for JSON."""
    return {
        "match": matches,
        "certificate": source_dict(cert_loc),
        "key": dict(source_dict(key_loc), key_type=key_type, key_bits=key_bits),
    }


def render_key_match(data: Dict[str, Any], as_json: bool = False) -> str:
    """The key-match output from :func:`key_match_dict` (JSON or one text line)."""
    if as_json:
        return to_json(document("key-match", data))
    key, cert = data["key"], data["certificate"]
    verdict = "matches" if data["match"] else "does NOT match"
    return printable(f"{key['what']} {key['location']} ({key['key_type']} {key['key_bits']} bits) {verdict} "
                     f"the {cert['what']} {cert['location']}")


def _credential_dict(item: "CredentialStatus", now: dt.datetime) -> Dict[str, Any]:
    data = source_dict(item.location)
    is_key = "key" in item.location.what
    data.update({
        "exists": item.exists,
        "readable": item.readable,
        "mode": None if item.mode is None else f"{item.mode:04o}",
        "safe": (item.unsafe is None) if is_key and item.mode is not None else None,
        "usable": item.usable,
        "error": item.error or item.unsafe,
    })
    if is_key:
        data.update({"key_type": item.key_type, "encrypted": item.encrypted, "matches": item.matches})
    else:
        data["certificate"] = cert_dict(item.info, None, now) if item.info is not None else None
        data["expiry_notice"] = item.notice
    return data


def _ca_dict(ca: "CAStatus") -> Dict[str, Any]:
    return {"path": ca.store.path, "kind": ca.store.kind, "source": ca.store.source,
            "explicit": ca.store.explicit, "exists": ca.exists, "certificates": ca.count,
            "crls": [dataclasses.asdict(crl) for crl in ca.crls],
            "error": ca.error}


def status_dict(status: "Status") -> Dict[str, Any]:
    """Everything ``jenv status --json`` prints."""
    endpoint = status.endpoint
    return {
        "time": iso_utc(status.now),
        "ok": not status.problems,
        "token_ready": status.token_ready,
        "user_cert": _credential_dict(status.user_cert, status.now),
        "user_key": _credential_dict(status.user_key, status.now),
        "token_cert": _credential_dict(status.token_cert, status.now),
        "token_key": _credential_dict(status.token_key, status.now),
        "ca_store": _ca_dict(status.ca),
        "endpoint": {"host": endpoint.host, "port": endpoint.port, "uri": endpoint.uri,
                     "source": endpoint.source} if endpoint else {"error": status.endpoint_error},
        "timeout": {"seconds": status.timeout} if status.timeout is not None else {"error": status.timeout_error},
        "shell": {"name": status.shell[0], "how": status.shell[1]},
        "problems": [{"exit_code": int(p.exit_code), "message": p.message} for p in status.problems],
    }


def _credential_facts(item: "CredentialStatus", now: dt.datetime) -> str:
    if not item.exists:
        if item.location.what.startswith("token"):
            return "missing ('jenv token' creates it)"
        return "missing"
    facts = ["exists", "readable" if item.readable else "NOT readable"]
    if item.mode is not None:
        facts.append(f"mode {item.mode:04o}")
    if item.unsafe:
        facts.append("UNSAFE: readable by group/others")
    if item.error:
        facts.append(f"unusable: {item.error}")
    if item.info is not None:
        facts.append(_time_left_text(item.info, now, short=True))
        facts.append(item.info.subject)
    if item.key_type:
        facts.append(item.key_type)
    if item.encrypted:
        facts.append("encrypted (match not checked)")
    elif item.matches is not None:
        facts.append("matches the certificate" if item.matches else "does NOT match the certificate")
    return ", ".join(facts)


def status_lines(status: "Status") -> List[str]:
    """The one-screen human form of :func:`status_dict`."""
    width = 19
    lines = [f"jenv status at {iso_utc(status.now)}"]
    for item in (status.user_cert, status.user_key, status.token_cert, status.token_key):
        lines.append(f"{item.location.what:<{width}}{describe_source(item.location)}")
        lines.append(" " * width + _credential_facts(item, status.now))
        if item.notice:
            lines.append(" " * width + item.notice)
    ca = status.ca
    where = f"{ca.store.path} ({ca.store.source})" if ca.store.path else ca.store.source
    kind = {"dir": "directory", "file": "bundle file"}.get(ca.store.kind, "none")
    facts = ca.error or f"{kind}, {ca.count} certificate{'' if ca.count == 1 else 's'}"
    if ca.crls and not ca.error:
        stale = sum(crl.stale for crl in ca.crls)
        facts += (f", {len(ca.crls)} CRLs (oldest updated {ca.crls[0].age_hours:g} h ago"
                  + (f", {stale} past next update: run 'jenv crl-fetch')" if stale else ")"))
    if ca.store.path is None:  # the line above already says where jenv looked
        facts = facts.replace(f" ({ca.store.source})", "", 1)
    lines += [f"{'CA store':<{width}}{where}", " " * width + facts]
    endpoint = status.endpoint
    lines.append(f"{'JCentral':<{width}}" + (f"{endpoint.uri} ({endpoint.source})" if endpoint
                                             else str(status.endpoint_error)))
    lines.append(f"{'timeout':<{width}}" + (f"{status.timeout:g}s" if status.timeout is not None
                                            else str(status.timeout_error)))
    lines.append(f"{'shell':<{width}}{status.shell[0]} ({status.shell[1]})")
    if status.problems:
        verdict = f"{len(status.problems)} problem(s), listed on stderr"
    elif status.token_ready:
        verdict = "OK"
    else:
        why = status.token.detail if status.token is not None else "no token"
        verdict = f"no usable token ({why}): 'jenv token' will get a new one from JCentral"
    lines.append(f"{'result':<{width}}{verdict}")
    return lines


def render_status(status: "Status", as_json: bool = False) -> str:
    """The ``jenv status`` output (JSON or text, no trailing newline)."""
    return to_json(document("status", status_dict(status))) if as_json else printable_lines(status_lines(status))
