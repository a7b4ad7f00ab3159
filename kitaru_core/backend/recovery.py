"""Crash detection: a local execution whose process died is marked failed, not left running."""

from __future__ import annotations

from typing import Any

from zenml.enums import ExecutionStatus as ZenStatus
from zenml.enums import StoreType
from zenml.models import PipelineRunUpdate, StepRunUpdate

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.status import ACTIVE
from kitaru_core.models import as_utc
from kitaru_core.runtime import liveness
from kitaru_core.runtime.naming import LOCAL_LOGS_KEY


def _started_elsewhere(exec_id: str) -> bool:
    """Whether the run may have been started from another config dir, where its liveness
    record lives: on a server (other users, machines, MCP servers) a run without a record
    here is someone else's, and its absence proves nothing. On the local store every
    process shares this config dir, so no record there does mean no process."""
    if liveness.read(exec_id) is not None:
        return False
    return bool(zenml_client().zen_store.type == StoreType.REST)


def _runner_died(run: Any) -> str | None:
    if _started_elsewhere(str(run.id)):
        return None
    # ZenML stores naive datetimes that mean UTC; as_utc also copes with an aware one.
    created = as_utc(run.created).timestamp() if run.created else None
    return liveness.death_reason(str(run.id), created=created, resuming=run.status == "resuming")


def reconcile(run: Any) -> Any:
    """Mark a crashed local run (and its interrupted checkpoints) failed; return the fresh run."""
    if run.status not in ACTIVE or not (run.config.extra or {}).get(LOCAL_LOGS_KEY):
        return run
    reason = _runner_died(run)
    if reason is None:
        return run
    store = zenml_client().zen_store
    for step in (run.steps or {}).values():
        if step.status in ACTIVE:
            store.update_run_step(step.id, StepRunUpdate(status=ZenStatus.FAILED))
    message = (
        f"The execution was interrupted: {reason}. Completed checkpoints are kept; "
        "retry it to finish."
    )
    store.update_run(run.id, PipelineRunUpdate(status=ZenStatus.FAILED, status_reason=message))
    return store.get_run(run.id, hydrate=True)
