"""A small checkpoint, then one whose output is ``size`` bytes (to fill a small disk)."""

from __future__ import annotations

from flows_scale.scale import step
from kitaru_core import checkpoint, flow


@checkpoint
def blob(size: int) -> str:
    return "x" * size


@flow
def bulky_flow(workdir: str, salt: str, size: int) -> int:
    total = step(workdir, salt, 0, 0, id="step0")
    return total + len(blob(size))
