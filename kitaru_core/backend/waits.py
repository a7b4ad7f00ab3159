"""Wait conditions: the questions flows are waiting on, and their answers."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from typing import Any

from zenml.enums import RunWaitConditionResolution, RunWaitConditionStatus

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.requests.executions import parse_exec_id


def list_conditions(exec_id: str | None = None, *, pending: bool = True) -> list[Any]:
    client = zenml_client()
    filters: dict[str, Any] = {"hydrate": True, "size": 1000, "sort_by": "asc:created"}
    if pending:
        filters["status"] = RunWaitConditionStatus.PENDING.value
    if exec_id is not None:
        filters["pipeline_run"] = parse_exec_id(exec_id)
    return list(client.list_run_wait_conditions(**filters).items)


def find_condition(exec_id: str, wait: str | None) -> Any:
    """The named wait of an execution (any state); ``None`` picks the pending one."""
    from kitaru_core.backend.local_waits import pick_condition

    conditions = list_conditions(exec_id, pending=False)
    return pick_condition(conditions, exec_id, wait, pending=RunWaitConditionStatus.PENDING)


def is_pending(condition: Any) -> bool:
    return bool(condition.status == RunWaitConditionStatus.PENDING)


def answered_with(condition: Any) -> tuple[str | None, Any]:
    """``(resolution, result)`` of a resolved condition."""
    resolution = condition.resolution.value if condition.resolution else None
    return resolution, condition.result


def has_active_poller(condition: Any) -> bool:
    """Whether a worker is polling this wait right now (it will continue by itself)."""
    from kitaru_core.backend.local_waits import poller_active

    run = condition.run
    run_status = str(run.status.value) if run is not None and run.status else None
    return poller_active(condition.poller_lease_expires_at, run_status)


def resolve(condition: Any, *, value: Any = None, abort: bool = False) -> Any | None:
    """Resolve a pending wait; ``None`` once done. When another caller resolved it first (a
    race between two answers), nothing is changed and the condition as they left it is
    returned, so the caller can tell a repeated answer from a conflicting one."""
    from zenml.exceptions import IllegalOperationError

    client = zenml_client()
    resolution = RunWaitConditionResolution.ABORT if abort else RunWaitConditionResolution.CONTINUE
    with _one_answer_at_a_time(client.zen_store):
        fresh = _reread(client, condition)
        if not is_pending(fresh):
            return fresh
        try:
            client.resolve_run_wait_condition(
                condition.id, resolution=resolution, result=None if abort else value
            )
        except IllegalOperationError:  # resolved in between, by a caller on another machine
            return _reread(client, condition)
    return None


def _reread(client: Any, condition: Any) -> Any:
    return client.zen_store.get_run_wait_condition(condition.id, hydrate=True)


@contextlib.contextmanager
def _one_answer_at_a_time(store: Any) -> Iterator[None]:
    """Serialize answers to waits across the processes sharing a local SQLite database.

    ZenML checks that a wait is pending and then resolves it, under ``SELECT ... FOR UPDATE``.
    SQLite ignores ``FOR UPDATE``, and its Python driver runs the check outside the write
    transaction, so two concurrent answers can both pass the check and the later one silently
    overwrites the first. A file lock beside the database closes that window (answers are rare
    and the lock is held for one short resolve). Other databases lock the row themselves.
    """
    from kitaru_core.backend.zenml_compat.database import sqlite_file

    database = sqlite_file(store)
    if database is None:
        yield
        return
    with open(f"{database}.kitaru-answers.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield
