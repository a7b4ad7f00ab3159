"""A flow of several short checkpoints, for cancelling and crashing a running worker.

Each checkpoint appends ``start`` when its body begins and ``end`` just before it returns, so a
test can tell which bodies finished, and how often each ran. The first run of checkpoint
``hold`` takes ``hold_delay`` seconds instead of ``delay``: a test that kills or cancels the
worker while that checkpoint runs is sure to hit it in the middle, whatever the machine's load.
"""

from __future__ import annotations

import time

from flows_exec.common import mark
from kitaru_core import checkpoint, flow


@checkpoint
def tick(workdir: str, index: int, delay: float, hold: int, hold_delay: float, salt: str) -> int:
    lines = mark(workdir, f"tick{index}", "start")
    time.sleep(hold_delay if index == hold and lines == 1 else delay)
    mark(workdir, f"tick{index}", "end")
    return index


@flow
def ticking_flow(
    workdir: str,
    salt: str,
    steps: int = 4,
    delay: float = 1.0,
    hold: int = -1,
    hold_delay: float = 0.0,
) -> list[int]:
    done = []
    for index in range(steps):
        done.append(tick(workdir, index, delay, hold, hold_delay, salt, id=f"tick{index}"))
    return done
