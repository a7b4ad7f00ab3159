"""Flows the deployment tool tests deploy: one flow per test, so every test has its own
version sequence and tags in this process's store."""

from __future__ import annotations

from kitaru_core import checkpoint, flow


@checkpoint
def research(topic: str, salt: str) -> str:
    return f"researched {topic}"


@flow
def mcp_story_agent(topic: str, salt: str = "") -> str:
    """The producer/consumer story: v1 default, v2 canary, stable moved to v2."""
    return research(topic, salt)


@flow
def mcp_routing_agent(topic: str, salt: str = "") -> str:
    """The refusals: delete, untag, shared tags, unknown selectors, curl."""
    return research(topic, salt)


@flow
def mcp_guarded_agent(topic: str) -> str:
    """Deployed to a local stack without allow_local: must be refused."""
    return research(topic, "")
