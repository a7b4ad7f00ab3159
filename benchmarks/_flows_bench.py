"""Flows used by the benchmarks (a module of their own so that ZenML can reload them)."""

from kitaru_core import checkpoint, flow


@checkpoint
def step_once(value: int) -> int:
    return value + 1


@flow
def chain(n: int = 10, salt: int = 0) -> int:
    value = salt
    for _ in range(n):
        value = step_once(value)
    return value


@checkpoint
def prepare(value: int) -> int:
    return value * 2


@flow
def gated(salt: int = 0, timeout: float = 120.0) -> int:
    """One checkpoint, then a wait that the benchmark answers."""
    from kitaru_core import wait

    value = prepare(salt)
    extra = wait(name="go", schema=int, question="Add how much?", timeout=timeout)
    return value + extra
