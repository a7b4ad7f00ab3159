"""Cancel: mark a run whose process is gone (or was stopped) as stopped."""

from __future__ import annotations

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.runs import get_run


def stop_run(exec_id: str, reason: str) -> None:
    """Mark a run and its unfinished checkpoints stopped (its process is gone)."""
    from zenml.enums import ExecutionStatus as ZenStatus
    from zenml.models import PipelineRunUpdate, StepRunUpdate

    store = zenml_client().zen_store
    run = get_run(exec_id)
    for step in (run.steps or {}).values():
        if not step.status.is_finished:
            store.update_run_step(step.id, StepRunUpdate(status=ZenStatus.STOPPED))
    if not run.status.is_finished:
        store.update_run(run.id, PipelineRunUpdate(status=ZenStatus.STOPPED, status_reason=reason))
