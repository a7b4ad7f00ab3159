"""Flows the server-tier scenario runs (top level, so the worker can reload them)."""

from kitaru_core import checkpoint, flow, wait


@checkpoint
def double(value: int) -> int:
    return value * 2


@flow
def doubler(value: int = 1) -> int:
    return double(double(value))


@flow
def asks(value: int = 1) -> int:
    extra = wait(name="more", schema=int, question="How much more?", timeout=60)
    return double(value) + extra
