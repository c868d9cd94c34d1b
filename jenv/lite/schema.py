"""The versioned JSON interface: every ``--json`` document says what it is and which version of it.

Each document carries ``"schema": "jenv.<kind>/<version>"`` (first), and the JSON Schema of that
version ships in the package as ``jenv/data/schemas/jenv.<kind>.v<version>.json``.  A change of shape
is a new version: the test suite validates every JSON document jenv prints against its schema, and the
schemas forbid fields they do not name.  The token document keeps the reference documentation's
``results[0].tokencert``/``tokenkey`` shape.  Standard library only, no imports.
"""

from __future__ import annotations

__all__ = ["VERSIONS", "document", "schema_id"]

#: kind -> the version jenv prints now.
VERSIONS = {
    "token": 1,        # token, user, token-destroy, export --json
    "certificate": 1,  # cert-info, token-info
    "key-match": 1,    # certkey-match, tokenkey-match
    "verify": 1,       # cert-verify, token-verify
    "status": 1,
    "whoami": 1,
    "ca-info": 1,
    "ca-fetch": 1,
    "crl-fetch": 1,
    "doctor": 1,
    "agent": 1,        # agent status, renew-now
    "cert-import": 1,
    "args": 1,
}


def schema_id(kind: str) -> str:
    return f"jenv.{kind}/{VERSIONS[kind]}"


def document(kind: str, data: dict) -> dict:
    """``data`` as the ``kind`` document: its schema first, then the fields."""
    return dict({"schema": schema_id(kind)}, **data)
