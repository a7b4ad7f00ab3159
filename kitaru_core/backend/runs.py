"""Read executions (ZenML pipeline runs) and map them to Kitaru models."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from zenml.enums import ExecutionStatus as ZenStatus

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.execution_views import (
    checkpoint_call,
    checkpoint_failure,
    flow_failure,
    user_metadata,
)
from kitaru_core.backend.local_store import not_found, parse_exec_id
from kitaru_core.backend.status import to_public, zenml_values
from kitaru_core.models import (
    ArtifactRef,
    CheckpointCall,
    Execution,
    ExecutionStatus,
    Failure,
    PendingWait,
)
from kitaru_core.runtime.naming import ORIGINAL_KEY, RESULT_KEY, SPEC_KEY, user_text


def get_run(exec_id: str, *, hydrate: bool = True) -> Any:
    run_id = parse_exec_id(exec_id)
    try:
        return zenml_client().zen_store.get_run(run_id, hydrate=hydrate)
    except KeyError as exc:
        raise not_found(exec_id) from exc


def steps_of(run: Any) -> dict[str, Any]:
    """The run's checkpoint calls (latest attempt each), hydrated, in one store query.

    ``run.steps`` would load them unhydrated, and reading each one's configuration would then
    cost one more query per call.
    """
    page = zenml_client().list_run_steps(
        pipeline_run_id=run.id,
        project=run.project_id,
        exclude_retried=True,
        hydrate=True,
        size=10_000,
        sort_by="asc:created",
    )
    return {step.name: step for step in page.items}


def run_status(exec_id: str) -> ExecutionStatus:
    """The public status, after checking that a ``running`` execution's process still lives
    (a handle polling a crashed execution must see it fail, not wait forever)."""
    from kitaru_core.backend.recovery import reconcile

    return public_status(reconcile(get_run(exec_id, hydrate=False)))


def public_status(run: Any) -> ExecutionStatus:
    """The run's public status. A worker that polls a ``wait()`` keeps its ZenML run RUNNING
    until the wait times out (then PAUSED); to users both are ``waiting`` (SPEC §1.2)."""
    status = to_public(run.status)
    if status == ExecutionStatus.RUNNING:
        try:
            condition = run.active_wait_condition
        except Exception:  # an older server without wait conditions
            condition = None
        if condition is not None and str(condition.status) == "pending":
            return ExecutionStatus.WAITING
    return status


def status_reason(run: Any) -> str | None:
    """Why the run is in its status (ZenML keeps it in the response body only)."""
    reason = getattr(run.get_body(), "status_reason", None)
    return user_text(reason) if reason else None


def is_waiting(run: Any) -> bool:
    return public_status(run) == ExecutionStatus.WAITING


def result_metadata(run: Any) -> dict[str, Any]:
    value = (run.run_metadata or {}).get(RESULT_KEY)
    return value if isinstance(value, dict) else {}


def load_artifact(artifact_id: str) -> Any:
    return zenml_client().get_artifact_version(UUID(artifact_id)).load()


def saved_artifacts(run: Any, prefix: str) -> dict[str, str]:
    """``save()`` name → artifact id, from the run and its checkpoints (cached ones included)."""
    sources = [run.run_metadata or {}]
    for step in steps_of(run).values():
        sources.append(step.run_metadata or {})
        if step.status == ZenStatus.CACHED and step.original_step_run_id:
            original = zenml_client().zen_store.get_run_step(step.original_step_run_id)
            sources.append(original.run_metadata or {})
    found: dict[str, str] = {}
    for metadata in sources:
        for key, value in metadata.items():
            if key.startswith(prefix):
                found.setdefault(key[len(prefix) :], str(value))
    return found


def load_result(exec_id: str) -> Any:
    """The flow's return value as a Python object (``None`` when it returned nothing)."""
    run = get_run(exec_id)
    record = result_metadata(run)
    if record.get("inline"):
        return record.get("preview")
    artifact_id = record.get("artifact_id")
    if not artifact_id:
        return None
    use_run_source_root(run)
    return load_artifact(artifact_id)


def use_run_source_root(run: Any) -> None:
    """Import user classes (a pydantic result, …) from where the run's flow was imported.

    ZenML needs a source root to load a user-defined type; in a process that has not started a
    flow itself and whose ``__main__`` has no file (``python -c``, a REPL, a notebook, an xdist
    worker) it would otherwise fail.
    """
    from kitaru_core.backend.control import prepare_source_root

    prepare_source_root(run)


def _checkpoint_call(invocation_id: str, step: Any) -> CheckpointCall:
    outputs = [
        ArtifactRef(artifact_id=str(artifact.id), name=name, type=str(artifact.type))
        for name, artifacts in (step.outputs or {}).items()
        for artifact in artifacts
    ]
    return checkpoint_call(
        invocation_id,
        extra=(step.config.extra or {}) if step.config else {},
        status=step.status,
        attempts=getattr(step, "version", 1),
        started_at=step.start_time,
        ended_at=step.end_time,
        outputs=outputs,
        metadata=step.run_metadata,
    )


def failure_of(run: Any, steps: dict[str, Any] | None = None) -> Failure | None:
    """Where and why a run failed: the failed checkpoint's exception, else the run's reason."""
    for invocation_id, step in (steps if steps is not None else steps_of(run)).items():
        if step.status == ZenStatus.FAILED:
            return checkpoint_failure(
                invocation_id,
                _plain(step.exception_info),
                _plain(getattr(run, "exception_info", None)),
            )
    if to_public(run.status) != ExecutionStatus.FAILED:
        return None
    return flow_failure(_plain(getattr(run, "exception_info", None)), status_reason(run))


def _plain(info: Any) -> dict[str, Any] | None:
    return info.model_dump() if info is not None else None


def to_execution(
    run: Any, *, pending_wait: PendingWait | None = None, summary: bool = False
) -> Execution:
    """The Kitaru view of a run; ``summary`` leaves out checkpoints and failure (for lists)."""
    extra = run.config.extra or {}
    result = result_metadata(run)
    status = public_status(run)
    if summary:
        return Execution(
            exec_id=str(run.id),
            flow=user_text(run.pipeline.name if run.pipeline else run.name),
            status=status,
            status_reason=status_reason(run),
            started_at=run.start_time,
            ended_at=run.end_time,
            stack=run.stack.name if run.stack else None,
            result=result.get("preview") if status == ExecutionStatus.COMPLETED else None,
            original_exec_id=extra.get(ORIGINAL_KEY),
        )
    steps = steps_of(run)
    return Execution(
        exec_id=str(run.id),
        flow=user_text(run.pipeline.name if run.pipeline else run.name),
        status=status,
        status_reason=status_reason(run),
        started_at=run.start_time,
        ended_at=run.end_time,
        stack=run.stack.name if run.stack else None,
        result=result.get("preview") if status == ExecutionStatus.COMPLETED else None,
        checkpoints=[_checkpoint_call(i, s) for i, s in steps.items()],
        pending_wait=pending_wait,
        failure=failure_of(run, steps) if status == ExecutionStatus.FAILED else None,
        frozen_spec=dict(extra.get(SPEC_KEY) or {}),
        original_exec_id=extra.get(ORIGINAL_KEY),
        metadata=user_metadata(run.run_metadata),
    )


def list_runs(
    *,
    flow: str | None,
    status: ExecutionStatus | None,
    stack: str | None,
    offset: int,
    size: int,
) -> tuple[list[Execution], bool]:
    """A page of executions, newest first, filtered by the store; ``(items, has_more)``."""
    import json

    client = zenml_client()
    filters: dict[str, Any] = {"sort_by": "desc:created", "hydrate": True}
    if flow:
        filters["pipeline"] = flow
    if status is not None:
        filters["status"] = "oneof:" + json.dumps(zenml_values(status))
    if stack:
        filters["stack"] = stack
    # ZenML pages by number: use the smallest page size whose page holds the whole window
    # [offset, offset + size) — a caller may change ``limit`` between pages, so ``offset`` need
    # not be a multiple of ``size`` (a window split over two pages would leave a gap).
    page_size = size
    while offset // page_size != (offset + size - 1) // page_size:
        page_size += 1
    page_number = offset // page_size + 1
    try:
        page = client.list_pipeline_runs(page=page_number, size=page_size, **filters)
    except KeyError:
        return [], False  # an unknown flow or stack name has no executions
    start = offset - (page_number - 1) * page_size
    from kitaru_core.backend.recovery import reconcile

    runs = [reconcile(run) for run in list(page.items)[start : start + size]]
    has_more = page.total > offset + len(runs)
    return [to_execution(run, summary=True) for run in runs], has_more
