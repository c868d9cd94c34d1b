"""The local JCentral-compatible service (a leaf: only jenv.commands and bench/ import it)."""
