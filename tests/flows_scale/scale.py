"""A flow of ten tiny checkpoints, optionally with a wait in the middle.

Used for concurrency (many executions at once), for killing the worker at every point of an
execution, and by ``benchmarks/scale.py``. The result depends only on the inputs (and the
answer to the wait), so a crashed-then-retried execution can be compared with an uncrashed one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flows_scale.points import crash_if_armed, mark, wait_while_held
from kitaru_core import checkpoint, flow, wait

STEPS = 10


@checkpoint
def step(workdir: str, salt: str, index: int, total: int) -> int:
    mark(workdir, salt, index, "start")
    wait_while_held(workdir, f"in{index}")
    crash_if_armed(workdir, f"in{index}")
    mark(workdir, salt, index, "end")
    return total + index + 1


def _crash_during_cache_records(workdir: str) -> None:
    """Kill this worker inside the transaction that records its N-th cache hit.

    The switch file ``crash-cache`` holds N. The wrapped function inserts the cached call's
    links after its step row, inside one transaction: a kill there leaves a half-written,
    uncommitted record that SQLite must roll back.
    """
    path = os.path.join(workdir, "crash-cache")
    if not os.path.exists(path):
        return
    from kitaru_core.backend import cache_record

    original = cache_record._insert_links
    if getattr(original, "__crash_wrapped__", False):
        return
    target = int(Path(path).read_text(encoding="utf-8") or "1")
    seen = [0]

    def insert_links(*args: Any, **kwargs: Any) -> Any:
        written = original(*args, **kwargs)
        seen[0] += 1
        if seen[0] == target:
            crash_if_armed(workdir, "cache")  # rows written, transaction not committed
        return written

    insert_links.__crash_wrapped__ = True  # type: ignore[attr-defined]
    cache_record._insert_links = insert_links  # type: ignore[assignment]


@flow
def scale_flow(workdir: str, salt: str, ask: bool = False, wait_timeout: float = 120.0) -> str:
    """Ten checkpoints in a chain; with ``ask``, an ``int`` wait after the fifth."""
    _crash_during_cache_records(workdir)
    total = 0
    answer: Any = None
    for index in range(STEPS):
        total = step(workdir, salt, index, total, id=f"step{index}")
        crash_if_armed(workdir, f"after{index}")
        if ask and index == STEPS // 2 - 1:
            answer = wait(
                name="go",
                schema=int,
                question="Which number?",
                timeout=wait_timeout,
                metadata={"salt": salt},
            )
    return f"{salt}:{total}:{answer}"
