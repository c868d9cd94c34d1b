"""The agent's fixtures (support/agent_fixtures.py): the service issuing 12-second tokens, an encrypted user key,
agents stopped at the end of a test."""

from support.agent_fixtures import agents, env, svc, world  # noqa: F401
