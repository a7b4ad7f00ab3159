"""Flows for the cache fast-path tests: artifact inputs, repeated call ids, concurrent calls,
checkpoint metadata, and a crash right after a cache hit.

Every flow takes a ``salt`` so that runs of different tests never share a cache entry. Each
checkpoint appends a line to ``<workdir>/<name>.calls`` when its body really runs.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from kitaru_core import checkpoint, flow, log


def _count(workdir: str, name: str) -> None:
    with (Path(workdir) / f"{name}.calls").open("a") as file:
        file.write("x\n")


@checkpoint
def make_items(workdir: str, salt: str, count: int) -> list[str]:
    _count(workdir, "make_items")
    return [f"{salt}-{index}" for index in range(count)]


@checkpoint
def measure(workdir: str, items: list[str], factor: int) -> dict[str, int]:
    _count(workdir, "measure")
    return {"size": len(items), "score": len(items) * factor}


@checkpoint
def noted(workdir: str, report: dict[str, int]) -> str:
    _count(workdir, "noted")
    log(score=report["score"])  # checkpoint metadata: ZenML copies it to a cache hit
    return f"score {report['score']}"


@flow
def fan_flow(workdir: str, salt: str, count: int = 3) -> dict[str, Any]:
    """Artifact inputs (the list is passed on as its stored artifact), a repeated checkpoint
    (``measure``, ``measure_2``), two concurrent calls and one that logs metadata."""
    items = make_items(workdir, salt, count)
    first = measure(workdir, items, 2)
    second = measure(workdir, items, 3)
    third = measure.submit(workdir, items, 4)
    fourth = measure.submit(workdir, items, 5)
    note = noted(workdir, first)
    return {
        "scores": [first["score"], second["score"], third.result()["score"]],
        "fourth": fourth.result()["score"],
        "note": note,
    }


@flow
def crash_after_hit(workdir: str, salt: str, crash: bool) -> str:
    """``make_items`` is a cache hit on the second run; then the process is killed."""
    items = make_items(workdir, salt, 2)
    if crash:
        os.kill(os.getpid(), signal.SIGKILL)
    return items[0]
