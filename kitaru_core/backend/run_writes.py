"""What an execution writes to the store: its result, its cancellation, and which records
ZenML keeps per checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from kitaru_core.naming import RESULT_KEY
from kitaru_core.rendering import render_preview


def mark_cancelled(exec_id: str) -> None:
    """Record that the run stopped because its cancellation was requested."""
    from zenml.enums import ExecutionStatus as ZenStatus
    from zenml.models import PipelineRunUpdate

    from kitaru_core.backend.bootstrap import zenml_client

    zenml_client().zen_store.update_run(
        UUID(exec_id),
        PipelineRunUpdate(status=ZenStatus.STOPPED, status_reason="Cancelled by request."),
    )


def record_result(
    exec_id: str, flow_name: str, value: Any, known_artifact: Callable[[Any], Any]
) -> None:
    """Store the flow's return value: plain JSON values inline in the run's metadata, anything
    else (pydantic models, objects) as an artifact, with a JSON preview either way.

    ``known_artifact(value)`` is the artifact already holding ``value`` (a checkpoint's output
    returned as is), or ``None``: then the value is saved as a new artifact.
    """
    from zenml import save_artifact
    from zenml.client import Client
    from zenml.enums import MetadataResourceTypes
    from zenml.models import RunMetadataResource

    preview, truncated = render_preview(value)
    record: dict[str, Any] = {"preview": preview, "truncated": truncated, "inline": False}
    if not truncated and is_plain_json(value):
        record["inline"] = True
    elif value is not None:
        artifact = known_artifact(value)
        if artifact is None:
            artifact = save_artifact(value, name=f"{flow_name}_result")
        record["artifact_id"] = str(artifact.id)
    Client().create_run_metadata(
        metadata={RESULT_KEY: record},
        resources=[RunMetadataResource(id=UUID(exec_id), type=MetadataResourceTypes.PIPELINE_RUN)],
    )


def is_plain_json(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged (same types, same content)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return not isinstance(value, float) or value == value  # NaN does not round-trip
    if type(value) is list:
        return all(is_plain_json(item) for item in value)
    if type(value) is dict:
        return all(type(k) is str and is_plain_json(v) for k, v in value.items())
    return False


def store_options(local: bool) -> dict[str, Any]:
    """What ZenML records per checkpoint: no artifact metadata or visualizations (Kitaru never
    shows them) and, on a local stack, no ZenML log storage (Kitaru keeps the logs itself)."""
    return {
        "enable_artifact_metadata": False,
        "enable_artifact_visualization": False,
        "enable_step_logs": not local,
        "enable_pipeline_logs": not local,
    }
