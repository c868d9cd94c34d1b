"""The token tests' fixtures (support/token_fixtures.py), for the crash and signal tests."""

from support.token_fixtures import server_tls, svc, with_token  # noqa: F401
