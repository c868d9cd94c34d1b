"""The agent's fixtures (support/agent_fixtures.py), for the soak."""

from support.agent_fixtures import agents, env, svc, world  # noqa: F401
