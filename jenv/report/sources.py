"""Where a credential came from, in words and for JSON (no ``cryptography``: ``jenv whoami`` uses it on the
fast path; :mod:`jenv.report.render` re-exports these names)."""

from __future__ import annotations

from jenv.locations import Location

TYPE_CHECKING = False
if TYPE_CHECKING:  # whoami is a login form: no typing at run time
    from typing import Any, Dict, Optional

__all__ = ["variable_of", "describe_source", "source_dict"]


def variable_of(loc: Location) -> Optional[str]:
    """The environment variable a location came from, or None for a default."""
    return loc.variable


def describe_source(loc: Location) -> str:
    """'/path (from X509_USER_CERT)', '/path (default)' or 'PEM content of JALIEN_TOKEN_CERT'."""
    var = variable_of(loc)
    if loc.pem is not None:
        return f"PEM content of {var}"
    if loc.problem is not None:
        return f"the value of {var} (not shown)"
    return f"{loc.path} (from {var})" if var else f"{loc.path} (default)"


def source_dict(loc: Location) -> Dict[str, Any]:
    """Where a credential came from, for JSON."""
    return {
        "what": loc.what,
        "source": loc.source,
        "variable": variable_of(loc),
        "path": loc.path,
        "from_content": loc.pem is not None,
        "location": describe_source(loc),
    }
