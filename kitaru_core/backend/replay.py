"""Run a recorded execution again: retry a failed one, or replay one from a checkpoint."""

from __future__ import annotations

from typing import Any

from zenml.enums import ExecutionStatus as ZenStatus
from zenml.pipelines.dynamic.pipeline_definition import DynamicPipeline

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.control import prepare_source_root
from kitaru_core.backend.runs import get_run
from kitaru_core.errors import KitaruStateError
from kitaru_core.runtime.launcher import store_options, temporary_stack
from kitaru_core.runtime.naming import ANSWERS_KEY, LOCAL_LOGS_KEY, ORIGINAL_KEY, OVERRIDES_KEY


def recorded_calls(exec_id: str) -> list[tuple[str, str]]:
    """``(call_id, checkpoint_name)`` of an execution's calls, in the order they started."""
    run = get_run(exec_id)
    steps = sorted(
        (run.steps or {}).items(),
        key=lambda item: (item[1].start_time is None, item[1].start_time or 0, item[0]),
    )
    return [
        (call_id, str((step.config.extra or {}).get("kitaru_name", step.name)))
        for call_id, step in steps
    ]


def successful_calls(exec_id: str) -> list[str]:
    run = get_run(exec_id)
    return [call for call, step in (run.steps or {}).items() if step.status.is_successful]


def _pipeline_for(run: Any) -> Any:
    prepare_source_root(run)
    spec = run.snapshot.pipeline_spec if run.snapshot else None
    if spec is None or spec.source is None:
        raise KitaruStateError(
            f"Execution {run.id} has no recorded flow source, so it cannot be run again.",
            hint="Start the flow anew with `kitaru run`.",
        )
    return DynamicPipeline.load_from_source(spec.source)


def answers_before(run: Any, call_id: str | None) -> dict[str, Any]:
    """The original's answered waits that were asked before ``call_id`` started (all if None).

    A replay reuses the human answers given before its replay point, so it does not stop to
    ask them again; waits after the replay point are asked anew.
    """
    from kitaru_core.backend.waits import list_conditions

    step = (run.steps or {}).get(call_id) if call_id else None
    cutoff = step.start_time if step is not None else None
    answers: dict[str, Any] = {}
    for condition in list_conditions(str(run.id), pending=False):
        if condition.resolution is None or condition.resolution.value != "continue":
            continue
        if cutoff is not None and condition.created and condition.created >= cutoff:
            continue
        answers[condition.name] = condition.result
    return answers


def run_again(
    exec_id: str,
    *,
    skip: list[str],
    overrides: dict[str, Any],
    flow_inputs: dict[str, Any],
    live: bool,
    replay_from: str | None = None,
) -> str:
    """Start a new run of ``exec_id``'s flow that reuses the outputs of the ``skip`` calls.

    ``live`` disables the cache so that every call that is not reused really runs.
    Returns the new exec_id (the run is executed here, in this process).
    """
    original = get_run(exec_id)
    pipeline = _pipeline_for(original)
    extra = dict(original.config.extra or {})
    extra[ORIGINAL_KEY] = exec_id
    extra[OVERRIDES_KEY] = overrides
    extra[ANSWERS_KEY] = answers_before(original, replay_from)
    options: dict[str, Any] = {"extra": extra, **store_options(bool(extra.get(LOCAL_LOGS_KEY)))}
    if live:
        options["enable_cache"] = False
    pipeline = pipeline.with_options(**options)
    # ZenML only carries over parameters that have no default; pass them all explicitly so a
    # replay runs with the original inputs unless the caller changes them.
    inputs = {**(original.config.parameters or {}), **flow_inputs}
    with temporary_stack(str(original.stack.id)):
        new_run = pipeline.replay(
            pipeline_run=original.id, skip=skip or None, input_overrides=inputs or None
        )
    return str(new_run.id)


def mark_retried(exec_id: str, new_exec_id: str) -> None:
    from zenml import log_metadata

    log_metadata(metadata={"kitaru_retried_as": new_exec_id}, run_id_name_or_prefix=exec_id)


def is_failed(run: Any) -> bool:
    return bool(run.status == ZenStatus.FAILED)


def stop_run(exec_id: str, reason: str) -> None:
    """Mark a run and its unfinished checkpoints stopped (its process is gone)."""
    from zenml.models import PipelineRunUpdate, StepRunUpdate

    store = zenml_client().zen_store
    run = get_run(exec_id)
    for step in (run.steps or {}).values():
        if not step.status.is_finished:
            store.update_run_step(step.id, StepRunUpdate(status=ZenStatus.STOPPED))
    if not run.status.is_finished:
        store.update_run(run.id, PipelineRunUpdate(status=ZenStatus.STOPPED, status_reason=reason))
