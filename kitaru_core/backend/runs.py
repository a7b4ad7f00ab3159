"""Read executions (ZenML pipeline runs) and map them to Kitaru models."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from zenml.enums import ExecutionStatus as ZenStatus

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.local_store import not_found, parse_exec_id
from kitaru_core.backend.store import views, zenml_rows
from kitaru_core.models import Execution, ExecutionStatus
from kitaru_core.naming import RESULT_KEY


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
    (a caller waiting on a crashed execution must see it fail, not wait forever)."""
    from kitaru_core.backend.recovery import reconcile

    return views.public_status(zenml_rows.run_row(reconcile(get_run(exec_id, hydrate=False))))


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
    from kitaru_core.backend.source_root import prepare_source_root

    prepare_source_root(run)


def to_execution(run: Any, *, summary: bool = False) -> Execution:
    """The Kitaru view of a run response; ``summary`` leaves out checkpoints and failure."""
    row = zenml_rows.run_row(run)
    if summary:
        return views.summary(row)
    return views.detail(row, zenml_rows.step_rows(steps_of(run)), None)
