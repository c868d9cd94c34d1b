"""The token tests' fixtures (support/token_fixtures.py): the local JCentral service over real TLS, twice (the
test CA and its serial-0 twin shaped like AliEn2-CA), and a valid token in place."""

from support.token_fixtures import server_tls, svc, with_token  # noqa: F401
