"""Flows for benchmarks/mcp_live.py (a module of its own so that ZenML can reload it)."""

import time

from kitaru_core import checkpoint, flow


@checkpoint
def paced_step(value: int, delay: float) -> int:
    time.sleep(delay)
    return value + 1


@flow
def paced(n: int = 6, delay: float = 1.0, salt: int = 0) -> int:
    """``n`` checkpoints ``delay`` seconds apart: well-separated changes to announce."""
    value = salt
    for _ in range(n):
        value = paced_step(value, delay)
    return value
