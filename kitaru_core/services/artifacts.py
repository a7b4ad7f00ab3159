"""Artifact operations: list an execution's artifacts, read one value (bounded)."""

from __future__ import annotations

from kitaru_core.models import ArtifactInfo
from kitaru_core.requests.executions import check_limit

VALUE_LIMIT = 16_000
MAX_VALUE_LIMIT = 80_000


def list_artifacts(
    exec_id: str, *, name: str | None = None, limit: int | None = None
) -> list[ArtifactInfo]:
    """The execution's artifacts (optionally only those whose name contains ``name``)."""
    from kitaru_core.backend.artifacts import list_for_execution

    size = check_limit(limit)
    items = list_for_execution(exec_id)
    if name:
        items = [item for item in items if name in item.name]
    return items[:size]


def get(artifact_id: str, *, max_chars: int | None = None) -> ArtifactInfo:
    """One artifact with its value rendered as JSON, cut at ``max_chars`` characters."""
    from kitaru_core.backend.artifacts import get_with_value

    limit = check_limit(max_chars or VALUE_LIMIT, field="max_chars", maximum=MAX_VALUE_LIMIT)
    return get_with_value(artifact_id, limit=limit)
