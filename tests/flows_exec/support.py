"""Test helpers for the execution-management tests: start flows in detached workers, poll
the store until something happens, count executions.

Waiting is always polling with a deadline (never a fixed sleep), so tests stay as fast as the
machine allows and fail with a clear message when something never happens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

FLOWS_DIR = Path(__file__).resolve().parent
T = TypeVar("T")

# Generous: a detached worker imports ZenML and opens the store before it runs anything, and
# the tests run in parallel on small machines.
DEADLINE = 120.0


def new_salt() -> str:
    return uuid.uuid4().hex[:12]


def target(module: str, flow: str) -> str:
    """A ``file.py:flow`` target for a flow in this package."""
    return f"{FLOWS_DIR / module}.py:{flow}"


def start(module: str, flow: str, **inputs: Any) -> str:
    """Start a flow of this package in a detached worker; returns its exec_id."""
    from kitaru_core.runtime.detach import start_job

    exec_id, _ = start_job({"kind": "run", "target": target(module, flow), "inputs": inputs})
    return exec_id


def poll(check: Callable[[], T | None], what: str, timeout: float = DEADLINE) -> T:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def get(exec_id: str) -> Any:
    from kitaru_core.services import executions

    return executions.get(exec_id)


def until_status(exec_id: str, *statuses: str, timeout: float = DEADLINE) -> Any:
    """The execution once its public status is one of ``statuses``."""

    def check() -> Any:
        execution = get(exec_id)
        return execution if execution.status.value in statuses else None

    return poll(check, f"execution {exec_id} to be {'/'.join(statuses)}", timeout)


def until_finished(exec_id: str, timeout: float = DEADLINE) -> Any:
    return until_status(exec_id, "completed", "failed", "cancelled", timeout=timeout)


def zenml_status(exec_id: str) -> str:
    from kitaru_core.backend.runs import get_run

    return str(get_run(exec_id, hydrate=False).status.value)


def until_paused(exec_id: str, timeout: float = DEADLINE) -> None:
    """Until the worker gave up polling its wait (ZenML ``paused``: no process holds it)."""
    poll(lambda: zenml_status(exec_id) == "paused", f"{exec_id} to pause", timeout)


def executions_of(flow: str) -> list[Any]:
    """Every execution of ``flow`` in this test process's store, newest first."""
    from kitaru_core.services import executions

    items, _ = executions.list_executions(flow=flow, limit=200)
    return items


def process_gone(pid: int, timeout: float = 30.0) -> bool:
    from kitaru_core.liveness import pid_alive

    poll(lambda: not pid_alive(pid), f"process {pid} to exit", timeout)
    return True
