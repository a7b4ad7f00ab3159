"""The one set of view builders: rows (``rows.py``) → Kitaru's models.

Whichever adapter read the rows, every rule that turns stored facts into what users see lives
here once: the public status (with a pending wait), crash detection, the execution summary and
detail, checkpoint calls with their llm usage, failures and waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kitaru_core import liveness
from kitaru_core.backend.execution_views import (
    checkpoint_call as build_checkpoint_call,
)
from kitaru_core.backend.execution_views import (
    checkpoint_failure,
    flow_failure,
    user_metadata,
)
from kitaru_core.backend.status import ACTIVE, to_public
from kitaru_core.backend.store.rows import RunRow, StepRow, WaitRow
from kitaru_core.models import (
    ArtifactRef,
    CheckpointCall,
    Execution,
    ExecutionStatus,
    Failure,
    PendingWait,
    WaitInfo,
)
from kitaru_core.naming import (
    LOCAL_LOGS_KEY,
    ORIGINAL_KEY,
    RESULT_KEY,
    SPEC_KEY,
    user_text,
)


def public_status(run: RunRow) -> ExecutionStatus:
    """The run's public status. A worker that polls a ``wait()`` keeps its ZenML run RUNNING
    until the wait times out (then PAUSED); to users both are ``waiting`` (SPEC §1.2)."""
    status = to_public(run.status)
    if status == ExecutionStatus.RUNNING and run.wait_pending:
        return ExecutionStatus.WAITING
    return status


def crash_reason(run: RunRow, *, remote: bool) -> str | None:
    """Why a local execution's process is known to be gone while its run still looks active,
    or ``None`` (not active, not a local run, or its process may be alive).

    ``remote`` says the store is a server: there a run without a liveness record here was
    started from another config dir (another user, machine or MCP server), and its absence
    proves nothing. On the local store every process shares this config dir.
    """
    if run.status not in ACTIVE or not run.extra.get(LOCAL_LOGS_KEY):
        return None
    if remote and liveness.read(run.exec_id) is None:
        return None
    created = run.created.timestamp() if run.created else None
    return liveness.death_reason(run.exec_id, created=created, resuming=run.status == "resuming")


def interrupted_message(reason: str) -> str:
    """The status reason a crashed execution is marked failed with."""
    return (
        f"The execution was interrupted: {reason}. Completed checkpoints are kept; "
        "retry it to finish."
    )


def result_record(run: RunRow) -> dict[str, Any]:
    """What Kitaru recorded about the flow's return value (``{}`` until it returned)."""
    record = run.metadata.get(RESULT_KEY)
    return record if isinstance(record, dict) else {}


def summary(run: RunRow) -> Execution:
    """The execution as a list shows it: no checkpoints, wait or failure."""
    status = public_status(run)
    return Execution(
        exec_id=run.exec_id,
        flow=user_text(run.flow or run.name),
        status=status,
        status_reason=user_text(run.status_reason) if run.status_reason else None,
        started_at=run.started_at,
        ended_at=run.ended_at,
        stack=run.stack,
        result=result_record(run).get("preview") if status == ExecutionStatus.COMPLETED else None,
        original_exec_id=run.extra.get(ORIGINAL_KEY),
    )


def detail(run: RunRow, steps: list[StepRow], pending: WaitRow | None) -> Execution:
    """The execution in full; ``pending`` is its oldest pending wait (shown while waiting)."""
    brief = summary(run)
    failed = brief.status == ExecutionStatus.FAILED
    waiting = brief.status == ExecutionStatus.WAITING
    return brief.model_copy(
        update={
            "checkpoints": [checkpoint_call(step) for step in steps],
            "pending_wait": pending_wait(pending) if waiting and pending is not None else None,
            "failure": failure(run, steps) if failed else None,
            "frozen_spec": dict(run.extra.get(SPEC_KEY) or {}),
            "metadata": user_metadata(run.metadata),
        }
    )


def checkpoint_call(step: StepRow) -> CheckpointCall:
    """One checkpoint call, with its llm usage on an ``llm_call``."""
    return build_checkpoint_call(
        step.call_id,
        extra=step.extra,
        status=step.status,
        attempts=step.attempts,
        started_at=step.started_at,
        ended_at=step.ended_at,
        outputs=[
            ArtifactRef(artifact_id=output.artifact_id, name=output.name, type=output.type)
            for output in step.outputs
        ],
        metadata=step.metadata,
    )


def failure(run: RunRow, steps: Iterable[StepRow]) -> Failure | None:
    """Where and why a run failed: the failed checkpoint's exception, else the run's reason
    (``None`` for a run that did not fail, a cancelled one say)."""
    for step in steps:
        if step.status == "failed":
            return checkpoint_failure(step.call_id, step.exception_info, run.exception_info)
    if to_public(run.status) != ExecutionStatus.FAILED:
        return None
    reason = user_text(run.status_reason) if run.status_reason else None
    return flow_failure(run.exception_info, reason)


def pending_wait(wait: WaitRow) -> PendingWait:
    return PendingWait(
        name=wait.name,
        question=wait.question,
        schema=dict(wait.schema) if wait.schema is not None else None,
        metadata=dict(wait.metadata),
        created_at=wait.created_at,
    )


def wait_info(wait: WaitRow) -> WaitInfo:
    return WaitInfo(
        exec_id=wait.run.exec_id,
        flow=user_text(wait.run.flow or wait.run.name),
        **pending_wait(wait).model_dump(by_alias=True),
    )
