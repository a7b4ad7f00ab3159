"""Flows of the server tier on MariaDB (top level, so detached workers can reload them)."""

from __future__ import annotations

from pathlib import Path

from kitaru_core import checkpoint, flow, wait


@checkpoint
def double(value: int) -> int:
    return value * 2


@checkpoint(cache=False)
def shout(text: str) -> str:
    print(f"shouting {text}")
    return text.upper()


@checkpoint(cache=False)
def fragile(marker: str, value: int) -> int:
    """Fails while ``marker`` exists (and removes it), so a retry succeeds."""
    path = Path(marker)
    if path.exists():
        path.unlink()
        raise RuntimeError("the first attempt fails on purpose")
    return value + 1


@flow
def doubler(value: int = 1) -> int:
    return double(double(value))


@flow
def chatty(text: str = "hi") -> str:
    return shout(text)


@flow
def flaky(marker: str, value: int = 1) -> int:
    return fragile(marker, double(value))


@flow
def asks(value: int = 1) -> int:
    """A wait that is answered while the worker still polls for it."""
    shout("asking")
    extra = wait(name="more", schema=int, question="How much more?", timeout=120)
    return double(value) + extra


@flow
def asks_later(value: int = 1) -> int:
    """A wait whose worker gives up at once: the answer resumes the execution."""
    first = double(value)
    extra = wait(name="later", schema=int, question="Add how much?", timeout=0)
    return first + extra
