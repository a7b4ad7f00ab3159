"""Cooperative cancellation of a locally running execution.

``kitaru executions cancel`` drops a marker file next to the execution's liveness record; the
process running the flow checks for it at every checkpoint boundary (a file ``stat``, cheap) and
stops there. A process that does not stop within the grace period is killed by the canceller.
"""

from __future__ import annotations

import os
from pathlib import Path

from kitaru_core.config.paths import runs_dir


class FlowCancelled(BaseException):
    """Raised at a checkpoint boundary of a cancelled execution (passes ``except Exception``)."""


def marker(exec_id: str) -> Path:
    return runs_dir() / f"{exec_id}.cancel"


def request(exec_id: str) -> None:
    path = marker(exec_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def requested(exec_id: str) -> bool:
    return os.path.exists(marker(exec_id))


def check(exec_id: str) -> None:
    """Stop here if the execution was cancelled."""
    if requested(exec_id):
        raise FlowCancelled(f"execution {exec_id} was cancelled")
