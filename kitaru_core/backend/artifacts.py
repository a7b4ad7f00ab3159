"""Artifacts of executions: checkpoint outputs, ``save()``d values and flow results."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.runs import get_run, result_metadata, saved_artifacts
from kitaru_core.errors import KitaruNotFoundError, echo
from kitaru_core.hints import Hint
from kitaru_core.models import ArtifactInfo
from kitaru_core.naming import SAVED_PREFIX
from kitaru_core.rendering import render_preview


def _info(artifact: Any, *, name: str, exec_id: str | None, checkpoint: str | None) -> ArtifactInfo:
    data_type = getattr(artifact, "data_type", None)
    return ArtifactInfo(
        artifact_id=str(artifact.id),
        name=name,
        type=str(artifact.type) if artifact.type else None,
        data_type=getattr(data_type, "attribute", None) or (str(data_type) if data_type else None),
        exec_id=exec_id,
        checkpoint=checkpoint,
        created_at=artifact.created,
    )


def list_for_execution(exec_id: str) -> list[ArtifactInfo]:
    """Every artifact of an execution: checkpoint outputs, saved values and the result."""
    run = get_run(exec_id)
    client = zenml_client()
    saved = saved_artifacts(run, SAVED_PREFIX)
    saved_names = {artifact_id: name for name, artifact_id in saved.items()}
    items: list[ArtifactInfo] = []
    listed: set[str] = set()
    for call_id, step in (run.steps or {}).items():
        for output, versions in (step.outputs or {}).items():
            for artifact in versions:
                # ZenML also links a value save()d inside a checkpoint as one of its outputs;
                # it is listed once, under the name it was saved with.
                name = saved_names.get(str(artifact.id), f"{call_id}.{output}")
                items.append(_info(artifact, name=name, exec_id=exec_id, checkpoint=call_id))
                listed.add(str(artifact.id))
    for name, artifact_id in saved.items():
        if artifact_id in listed:
            continue
        artifact = client.get_artifact_version(UUID(artifact_id), hydrate=False)
        items.append(_info(artifact, name=name, exec_id=exec_id, checkpoint=None))
    result_id = result_metadata(run).get("artifact_id")
    if result_id:
        artifact = client.get_artifact_version(UUID(result_id), hydrate=False)
        items.append(_info(artifact, name="result", exec_id=exec_id, checkpoint=None))
    return items


def get_with_value(artifact_id: str, *, limit: int) -> ArtifactInfo:
    """One artifact with its value loaded and rendered (bounded to ``limit`` characters)."""
    # A malformed id names no artifact, exactly like an unknown one (SPEC §1.5).
    try:
        key = UUID(str(artifact_id))
        artifact = zenml_client().get_artifact_version(key)
    except (ValueError, KeyError) as exc:
        raise KitaruNotFoundError(
            f"No artifact with id '{echo(artifact_id)}'.",
            hint=Hint(
                sdk="Find artifact ids with `KitaruClient().artifacts.list(exec_id)`.",
                cli="Find artifact ids with `kitaru artifacts list EXEC_ID`.",
                mcp="Find artifact ids with {tool:kitaru_artifacts_list}.",
            ),
            details={"artifact_id": echo(artifact_id)},
        ) from exc
    producer = getattr(artifact, "producer_step_run_id", None)
    info = _info(artifact, name=artifact.name, exec_id=None, checkpoint=None)
    value, truncated = render_preview(artifact.load(), limit=limit)
    update: dict[str, Any] = {"value": value, "truncated": truncated}
    if producer:
        step = zenml_client().zen_store.get_run_step(producer, hydrate=False)
        update.update(exec_id=str(step.pipeline_run_id), checkpoint=step.name)
        if "::" in artifact.name:
            # ZenML names checkpoint outputs "<flow>::<call>::<output>"; show them the way
            # ``list`` does ("<call>.<output>").
            update["name"] = f"{step.name}.{artifact.name.rsplit('::', 1)[-1]}"
    return info.model_copy(update=update)
