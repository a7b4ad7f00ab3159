"""A flow only tests/test_hints_per_surface.py runs and deploys (its own name, so its
executions and deployments never meet another test's)."""

from __future__ import annotations

from kitaru_core import checkpoint, flow


@checkpoint
def hinted_step(text: str) -> str:
    return text.upper()


@checkpoint
def hinted_tail(text: str) -> str:
    return f"{text}!"


@flow
def hinted_flow(text: str = "hint") -> str:
    return hinted_tail(hinted_step(text))
