"""A flow the deployment tests deploy under its own name (the seed story uses research_agent)."""

from __future__ import annotations

from kitaru_core import checkpoint, flow


@checkpoint
def shout(text: str) -> str:
    return text.upper()


@flow
def echo_agent(text: str = "hello") -> str:
    return shout(text)
