"""Continue executions on ZenML: resume a paused (or crashed) run in this process."""

from __future__ import annotations

from zenml.enums import ExecutionStatus as ZenStatus
from zenml.models import PipelineRunUpdate
from zenml.stack import Stack

from kitaru_core import terminal
from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.runs import get_run, run_status
from kitaru_core.backend.source_root import prepare_source_root
from kitaru_core.models import ExecutionStatus
from kitaru_core.naming import user_text


def resume_in_process(exec_id: str) -> ExecutionStatus:
    """Mark the run RESUMING and run its flow body again here; finished checkpoints are reused.

    Returns the execution's status once the body has returned (finished, or waiting again)."""
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
    status = run_status(exec_id)
    terminal.flow_finished(flow, exec_id, status.value)
    return status
