"""What ``jenv ca-info`` says about the CA store: text and JSON from one summary."""

from __future__ import annotations

from dataclasses import asdict
from typing import List, Optional

from jenv.ca.store import EXPIRING_DAYS, CASummary
from jenv.context import printable_lines
from jenv.report.render import to_json

__all__ = ["render_ca_summary"]


def render_ca_summary(summary: CASummary, as_json: bool = False, variable: Optional[str] = None) -> str:
    """The ca-info output (JSON or text, no trailing newline); ``variable`` named the store, if one did."""
    if as_json:
        from jenv.lite.schema import document

        return to_json(document("ca-info", asdict(summary)))
    var = variable
    links = "n/a (bundle file)" if summary.links_consistent is None else \
        f"{summary.hash_links}, {'consistent' if summary.links_consistent else 'INCONSISTENT'}"
    lines: List[str] = [
        "CA store",
        f"  {'location':<12}{summary.location} ({'from ' + var if var else 'default'})",
        f"  {'kind':<12}{'directory' if summary.kind == 'dir' else 'bundle file'}",
        f"  {'CAs':<12}{summary.count}",
        f"  {'expired':<12}{summary.expired}",
        f"  {'expiring':<12}{summary.expiring_soon} within {EXPIRING_DAYS} days",
        f"  {'hash links':<12}{links}",
    ]
    lines += [f"  {'':<12}{text}" for text in summary.expiring]
    lines += [f"  {'problem':<12}{text}" for text in summary.problems]
    stale = sum(crl.stale for crl in summary.crls)
    lines.append(f"  {'CRLs':<12}{len(summary.crls)}" + (f", {stale} past next update" if stale else ""))
    lines += [f"  {'':<12}{crl.issuer}: updated {crl.age_hours:g} h ago, next update {crl.next_update or 'not given'}"
              + (" (past its next update: run 'jenv crl-fetch')" if crl.stale else "") for crl in summary.crls]
    return printable_lines(lines)
