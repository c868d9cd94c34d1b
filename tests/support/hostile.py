"""Hostile values for quoting tests: every character a shell might treat specially."""

from __future__ import annotations

__all__ = ["HOSTILE_VALUES", "PEM_LIKE"]

PEM_LIKE = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC+/=\n"
            "AbCd'$x`!\\\n-----END PRIVATE KEY-----\n")

HOSTILE_VALUES = [
    "", " ", "plain", "/tmp/tokencert_1000.pem", "with space", "  two  leading",
    "'", "''", "\"", "it's", "a'b\"c", "$HOME", "${HOME}", "$(id)", "`id`", "\\", "\\\\",
    "ends with \\", "\\'", "'\\", "!", "!!", "x!y", "a\\!b", "\\!", "!$", "!-1", "^a^b",
    "%1", "*", "?", "[a]", "~", "~root", "a;b", "a|b", "a&b", "a>b", "<", "#comment",
    "-e", "-n", "--", "=", "a=b", "\t", "tab\tin", "é", "èрт🚒♞中片", "\u00a0nbsp",
    "'\";&&e-$ èрт🚒♞中片-j `x` \\ ! % * \t", "\x1b[31mred", "\x7f", "\x01\x02",
    "line1\nline2", "\n", "trailing\n", "\n\nleading", "cr\r\nlf", PEM_LIKE,
]
