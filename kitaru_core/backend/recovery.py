"""Crash detection through ZenML: a local execution whose process died is marked failed, not
left running. The rule itself (when a run counts as crashed) is ``store.views.crash_reason``."""

from __future__ import annotations

from typing import Any

from zenml.enums import ExecutionStatus as ZenStatus
from zenml.enums import StoreType
from zenml.models import PipelineRunUpdate, StepRunUpdate

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.local_store import parse_exec_id
from kitaru_core.backend.status import ACTIVE
from kitaru_core.backend.store import views, zenml_rows


def store_is_remote() -> bool:
    """Whether this process's store is a server (shared with other config dirs)."""
    return bool(zenml_client().zen_store.type == StoreType.REST)


def mark_interrupted(exec_id: str, message: str) -> None:
    """Mark a crashed execution failed with ``message``, and its unfinished checkpoints too."""
    store = zenml_client().zen_store
    run = store.get_run(parse_exec_id(exec_id), hydrate=True)
    for step in (run.steps or {}).values():
        if step.status in ACTIVE:
            store.update_run_step(step.id, StepRunUpdate(status=ZenStatus.FAILED))
    store.update_run(run.id, PipelineRunUpdate(status=ZenStatus.FAILED, status_reason=message))


def reconcile(run: Any) -> Any:
    """``run`` once a crash is marked: the fresh run if its process was found dead."""
    reason = views.crash_reason(zenml_rows.run_row(run), remote=store_is_remote())
    if reason is None:
        return run
    mark_interrupted(str(run.id), views.interrupted_message(reason))
    return zenml_client().zen_store.get_run(run.id, hydrate=True)
