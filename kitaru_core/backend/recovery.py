"""Crash detection: a local execution whose process died is marked failed, not left running."""

from __future__ import annotations

import time
from typing import Any

from zenml.enums import ExecutionStatus as ZenStatus
from zenml.models import PipelineRunUpdate, StepRunUpdate

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.runtime import liveness
from kitaru_core.runtime.naming import LOCAL_LOGS_KEY

# A run that never reached its flow body (no liveness record) gets this long to start.
START_GRACE = 30.0
_ACTIVE = {
    ZenStatus.INITIALIZING,
    ZenStatus.PROVISIONING,
    ZenStatus.QUEUED,
    ZenStatus.RUNNING,
    ZenStatus.RESUMING,
    ZenStatus.STOPPING,
}


def _runner_died(run: Any) -> str | None:
    """Why the run's local process is known to be gone, or ``None`` while it may be alive."""
    record = liveness.read(str(run.id))
    if record is None:
        created = run.created.timestamp() if run.created else time.time()
        if time.time() - created > START_GRACE:
            return "its process stopped before the flow started"
        return None
    if record.get("finished") and (
        run.status == ZenStatus.RESUMING
        or time.time() - float(record.get("heartbeat", 0)) < START_GRACE
    ):
        return None  # a resume worker is about to take over from the process that paused
    if liveness.is_alive(record):
        return None
    return f"its process (pid {record.get('pid')}) stopped without finishing"


def reconcile(run: Any) -> Any:
    """Mark a crashed local run (and its interrupted checkpoints) failed; return the fresh run."""
    if run.status not in _ACTIVE or not (run.config.extra or {}).get(LOCAL_LOGS_KEY):
        return run
    reason = _runner_died(run)
    if reason is None:
        return run
    store = zenml_client().zen_store
    for step in (run.steps or {}).values():
        if step.status in _ACTIVE:
            store.update_run_step(step.id, StepRunUpdate(status=ZenStatus.FAILED))
    message = (
        f"The execution was interrupted: {reason}. Completed checkpoints are kept; "
        "retry it to finish."
    )
    store.update_run(run.id, PipelineRunUpdate(status=ZenStatus.FAILED, status_reason=message))
    return store.get_run(run.id, hydrate=True)
