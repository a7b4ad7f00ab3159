"""Continue executions on ZenML: resume a paused (or crashed) run in this process."""

from __future__ import annotations

from typing import Any

from zenml.enums import ExecutionStatus as ZenStatus
from zenml.models import PipelineRunUpdate
from zenml.stack import Stack

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.runs import get_run, run_status
from kitaru_core.runtime import terminal
from kitaru_core.runtime.naming import SOURCE_ROOT_KEY, user_text


def prepare_source_root(run: Any) -> None:
    from kitaru_core.runtime.launcher import use_source_root

    root = (run.config.extra or {}).get(SOURCE_ROOT_KEY)
    if root:
        use_source_root(root)


def resume_in_process(exec_id: str) -> None:
    """Mark the run RESUMING and run its flow body again here; finished checkpoints are reused."""
    client = zenml_client()
    run = get_run(exec_id)
    prepare_source_root(run)
    client.zen_store.update_run(
        run.id, PipelineRunUpdate(status=ZenStatus.RESUMING, status_reason="resumed by Kitaru")
    )
    run = get_run(exec_id)
    stack = Stack.from_model(run.stack)
    stack.orchestrator.resume_run(snapshot=run.snapshot, run=run, stack=stack)
    # The flow body printed its own progress; say how the resumed execution ended, as run() does.
    flow = user_text(run.pipeline.name) if run.pipeline else "flow"
    terminal.flow_finished(flow, exec_id, run_status(exec_id).value)
