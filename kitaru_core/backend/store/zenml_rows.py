"""ZenML's response models → the neutral rows of ``rows.py``.

Plain attribute reads only (no ZenML import here): the responses come from the caller, which
got them from ZenML's client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kitaru_core.backend.store.rows import OutputRow, RunRow, StepRow, WaitRow
from kitaru_core.models import as_utc


def value_of(status: Any) -> str:
    """A ZenML enum member's value (``"running"``), or the string given."""
    return str(getattr(status, "value", status))


def plain(info: Any) -> dict[str, Any] | None:
    """ZenML's exception info as a plain dict (message, traceback, source, …)."""
    return info.model_dump() if info is not None else None


def run_row(run: Any) -> RunRow:
    """One run response (hydrated, or hydrating on first use) as a row."""
    reason = getattr(run.get_body(), "status_reason", None)
    return RunRow(
        exec_id=str(run.id),
        name=run.name,
        flow=run.pipeline.name if run.pipeline else None,
        status=value_of(run.status),
        status_reason=reason or None,
        created=as_utc(run.created) if run.created else None,
        started_at=as_utc(run.start_time) if run.start_time else None,
        ended_at=as_utc(run.end_time) if run.end_time else None,
        stack=run.stack.name if run.stack else None,
        wait_pending=_wait_pending(run),
        extra=dict(run.config.extra or {}),
        metadata=dict(run.run_metadata or {}),
        exception_info=plain(getattr(run, "exception_info", None)),
    )


def _wait_pending(run: Any) -> bool:
    try:
        condition = run.active_wait_condition
    except Exception:  # an older server without wait conditions
        return False
    return condition is not None and value_of(condition.status) == "pending"


def step_rows(steps: Mapping[str, Any]) -> list[StepRow]:
    """Hydrated step responses by invocation id (latest attempt each) as rows."""
    return [_step_row(call_id, step) for call_id, step in steps.items()]


def _step_row(call_id: str, step: Any) -> StepRow:
    return StepRow(
        call_id=call_id,
        status=value_of(step.status),
        attempts=getattr(step, "version", 1),
        started_at=as_utc(step.start_time) if step.start_time else None,
        ended_at=as_utc(step.end_time) if step.end_time else None,
        extra=dict(step.config.extra or {}) if step.config else {},
        metadata=dict(step.run_metadata or {}),
        exception_info=plain(step.exception_info),
        outputs=tuple(
            OutputRow(name=name, artifact_id=str(artifact.id), type=str(artifact.type))
            for name, artifacts in (step.outputs or {}).items()
            for artifact in artifacts
        ),
    )


def wait_row(condition: Any, run: RunRow) -> WaitRow:
    """A wait condition response, with its run's row."""
    return WaitRow(
        name=condition.name,
        question=condition.question,
        schema=condition.data_schema,
        created_at=as_utc(condition.created) if condition.created else None,
        run=run,
        metadata=dict(condition.run_metadata or {}),
    )
