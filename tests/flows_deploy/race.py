"""Deployed at the same moment by several processes (the concurrent-deploy test)."""

from __future__ import annotations

from kitaru_core import flow


@flow
def race_flow(topic: str) -> str:
    return topic
