"""A flow the MCP fuzz test deploys (a local development deployment), so that fuzzed tag,
untag, delete, invoke and curl calls meet a real version with a real ``default`` tag."""

from __future__ import annotations

from kitaru_core import checkpoint, flow


@checkpoint
def echo(topic: str) -> str:
    return f"echo {topic}"


@flow
def mcp_fuzz_agent(topic: str) -> str:
    """Deployed once by tests/test_mcp_fuzz.py; never invoked there."""
    return echo(topic)
