"""Wait conditions: the questions flows are waiting on, and their answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from zenml.enums import RunWaitConditionResolution, RunWaitConditionStatus

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.errors import KitaruNotFoundError, KitaruStateError
from kitaru_core.models import PendingWait, WaitInfo
from kitaru_core.runtime.naming import user_text


def list_conditions(exec_id: str | None = None, *, pending: bool = True) -> list[Any]:
    client = zenml_client()
    filters: dict[str, Any] = {"hydrate": True, "size": 1000, "sort_by": "asc:created"}
    if pending:
        filters["status"] = RunWaitConditionStatus.PENDING.value
    if exec_id is not None:
        filters["pipeline_run"] = UUID(exec_id)
    return list(client.list_run_wait_conditions(**filters).items)


def to_pending_wait(condition: Any) -> PendingWait:
    return PendingWait(
        name=condition.name,
        question=condition.question,
        schema=condition.data_schema,
        metadata=dict(condition.run_metadata or {}),
        created_at=condition.created,
    )


def to_wait_info(condition: Any) -> WaitInfo:
    run = condition.run
    flow = run.pipeline.name if run.pipeline else run.name
    return WaitInfo(
        exec_id=str(run.id),
        flow=user_text(flow),
        **to_pending_wait(condition).model_dump(by_alias=True),
    )


def find_condition(exec_id: str, wait: str | None) -> Any:
    """The named wait of an execution (any state); ``None`` picks the pending one."""
    conditions = list_conditions(exec_id, pending=False)
    if wait is None:
        pending = [c for c in conditions if c.status == RunWaitConditionStatus.PENDING]
        if not pending:
            raise KitaruStateError(
                f"Execution {exec_id} is not waiting for input.",
                hint="Check its status with `kitaru executions get`; only waiting executions "
                "take input.",
                details={"exec_id": exec_id},
            )
        return pending[0]
    for condition in reversed(conditions):
        if condition.name == wait:
            return condition
    names = sorted({c.name for c in conditions})
    raise KitaruNotFoundError(
        f"Execution {exec_id} has no wait named '{wait}'.",
        hint=f"Its waits: {', '.join(names) or 'none'}.",
        details={"exec_id": exec_id, "wait": wait, "available": names},
    )


def is_pending(condition: Any) -> bool:
    return bool(condition.status == RunWaitConditionStatus.PENDING)


def answered_with(condition: Any) -> tuple[str | None, Any]:
    """``(resolution, result)`` of a resolved condition."""
    resolution = condition.resolution.value if condition.resolution else None
    return resolution, condition.result


def has_active_poller(condition: Any) -> bool:
    """Whether a worker is polling this wait right now (it will continue by itself)."""
    expires = condition.poller_lease_expires_at
    if expires is None:
        return False
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return bool(expires > datetime.now(UTC))


def resolve(condition: Any, *, value: Any = None, abort: bool = False) -> None:
    resolution = RunWaitConditionResolution.ABORT if abort else RunWaitConditionResolution.CONTINUE
    zenml_client().resolve_run_wait_condition(
        condition.id, resolution=resolution, result=None if abort else value
    )
