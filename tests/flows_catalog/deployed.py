"""A flow that is deployed (locally) but never run: ``flow list`` still knows it."""

from __future__ import annotations

from kitaru_core import checkpoint, flow


@checkpoint
def draft(topic: str, depth: int) -> str:
    return f"{topic} at depth {depth}"


@flow
def catalog_agent(topic: str, depth: int = 2, tags: list[str] | None = None) -> str:
    return draft(topic, depth)
