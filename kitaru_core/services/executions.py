"""Execution operations shared by the SDK client, the CLI and the MCP server: inspect
executions and answer their waits."""

from __future__ import annotations

from typing import Any

from kitaru_core.errors import KitaruNotFoundError, KitaruStateError, KitaruValidationError
from kitaru_core.models import (
    Execution,
    ExecutionStatus,
    LogEntry,
    StartedExecution,
    WaitInfo,
)
from kitaru_core.requests.executions import (
    check_limit,
    decode_cursor,
    encode_cursor,
    parse_status,
    validate_wait_value,
)

DEFAULT_LOG_LIMIT = 200
MAX_LOG_LIMIT = 5000


def get(exec_id: str) -> Execution:
    """One execution in full: checkpoints, pending wait, failure, frozen spec, result."""
    from kitaru_core.backend import recovery, runs, waits

    run = recovery.reconcile(runs.get_run(exec_id))
    pending = None
    if runs.is_waiting(run):
        conditions = waits.list_conditions(exec_id)
        pending = waits.to_pending_wait(conditions[0]) if conditions else None
    return runs.to_execution(run, pending_wait=pending)


def list_executions(
    *,
    flow: str | None = None,
    status: str | ExecutionStatus | None = None,
    stack: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[Execution], str | None]:
    """Executions newest first, filtered in the store query; returns ``(items, next_cursor)``."""
    from kitaru_core.backend import runs

    size = check_limit(limit)
    offset = decode_cursor(cursor)
    items, has_more = runs.list_runs(
        flow=flow, status=parse_status(status), stack=stack, offset=offset, size=size
    )
    return items, encode_cursor(offset + size) if has_more else None


def latest(
    *,
    flow: str | None = None,
    status: str | ExecutionStatus | None = None,
    stack: str | None = None,
) -> Execution:
    items, _ = list_executions(flow=flow, status=status, stack=stack, limit=1)
    if not items:
        wanted = ", ".join(
            f"{name}={value}"
            for name, value in (("flow", flow), ("status", status), ("stack", stack))
            if value
        )
        raise KitaruNotFoundError(
            f"No execution found{' for ' + wanted if wanted else ''}.",
            hint="Start one with `kitaru run <file>:<flow>` or widen the filters.",
        )
    return get(items[0].exec_id)


def logs(
    exec_id: str, *, checkpoint: str | None = None, limit: int | None = None, head: bool = False
) -> tuple[list[LogEntry], bool]:
    """The execution's log lines (the last ``limit`` by default); returns ``(lines, truncated)``."""
    from kitaru_core.backend import runs

    size = check_limit(limit or DEFAULT_LOG_LIMIT, maximum=MAX_LOG_LIMIT)
    run = runs.get_run(exec_id)
    entries = runs.read_logs(run)
    if checkpoint is not None:
        calls = set(run.steps or {}) | {e.checkpoint for e in entries if e.checkpoint}
        if checkpoint not in calls:
            valid = ", ".join(sorted(c for c in calls if c)) or "none"
            raise KitaruValidationError(
                f"Execution {exec_id} has no checkpoint call '{checkpoint}'. Valid: {valid}.",
                fields={"checkpoint": f"must be one of: {valid}"},
            )
        entries = [entry for entry in entries if entry.checkpoint == checkpoint]
    truncated = len(entries) > size
    return (entries[:size] if head else entries[-size:]), truncated


def waiting() -> list[WaitInfo]:
    """Every pending wait across executions, oldest first, with question and JSON schema."""
    from kitaru_core.backend import waits

    return [waits.to_wait_info(condition) for condition in waits.list_conditions()]


def input(
    exec_id: str, *, value: Any = None, wait: str | None = None, resume: bool = True
) -> Execution:
    """Answer a wait: validate against its JSON schema, record it, and continue the execution.

    A worker still polling the wait continues at once; otherwise the execution is resumed in a
    background worker (unless ``resume=False``). Re-sending the same answer is harmless.
    """
    from kitaru_core.backend import waits

    condition = waits.find_condition(exec_id, wait)
    if not waits.is_pending(condition):
        resolution, result = waits.answered_with(condition)
        if resolution == "continue" and result == value:
            return get(exec_id)  # the same answer again: idempotent
        raise KitaruStateError(
            f"Wait '{condition.name}' of execution {exec_id} was already answered ({resolution}).",
            hint="Only a pending wait takes input; see `kitaru executions waiting`.",
            details={"exec_id": exec_id, "wait": condition.name, "resolution": resolution},
        )
    validate_wait_value(condition.data_schema, value, wait=condition.name)
    waits.resolve(condition, value=value)
    if resume and not waits.has_active_poller(condition):
        _resume_when_paused(exec_id)
    return get(exec_id)


def abort_wait(exec_id: str, *, wait: str | None = None) -> Execution:
    """Resolve a pending wait as aborted: the execution ends ``cancelled``."""
    from kitaru_core.backend import waits

    condition = waits.find_condition(exec_id, wait)
    if not waits.is_pending(condition):
        raise KitaruStateError(
            f"Wait '{condition.name}' of execution {exec_id} is no longer pending.",
            hint="Only a pending wait can be aborted.",
            details={"exec_id": exec_id, "wait": condition.name},
        )
    waits.resolve(condition, abort=True)
    return get(exec_id)


def _resume_when_paused(exec_id: str) -> StartedExecution | None:
    """Start a resume worker for a paused run with no pending wait left."""
    from kitaru_core.backend import runs, waits
    from kitaru_core.runtime.detach import start_job

    run = runs.get_run(exec_id, hydrate=False)
    if not runs.is_waiting(run) or waits.list_conditions(exec_id):
        return None
    exec_id, log_file = start_job({"kind": "resume", "exec_id": exec_id})
    return StartedExecution(exec_id=exec_id, status=ExecutionStatus.RUNNING, log_file=str(log_file))


def resume(exec_id: str) -> StartedExecution:
    """Continue a ``waiting`` execution whose answer is in (in a background worker)."""
    from kitaru_core.backend import waits

    execution = get(exec_id)
    if execution.status != ExecutionStatus.WAITING:
        raise KitaruStateError(
            f"Execution {exec_id} is {execution.status.value}; only a waiting execution can be "
            "resumed.",
            hint="Use retry for a failed execution, replay to run a finished one again.",
            details={"exec_id": exec_id, "status": execution.status.value},
        )
    if waits.list_conditions(exec_id):
        raise KitaruStateError(
            f"Execution {exec_id} is still waiting for input "
            f"('{execution.pending_wait.name if execution.pending_wait else '?'}').",
            hint="Answer it with `kitaru executions input`; that resumes it.",
            details={"exec_id": exec_id},
        )
    started = _resume_when_paused(exec_id)
    assert started is not None
    return started
