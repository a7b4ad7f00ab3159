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
    size = check_limit(limit)
    return list_all(exec_id, name=name)[:size]


def list_all(exec_id: str, *, name: str | None = None) -> list[ArtifactInfo]:
    """Every artifact of the execution, unpaged (for surfaces that page results themselves)."""
    from kitaru_core.backend.artifacts import list_for_execution

    items = list_for_execution(exec_id)
    return [item for item in items if name in item.name] if name else items


def get(artifact_id: str, *, max_chars: int | None = None) -> ArtifactInfo:
    """One artifact with its value rendered as JSON, cut at ``max_chars`` characters."""
    from kitaru_core.backend.artifacts import get_with_value

    limit = check_limit(
        VALUE_LIMIT if max_chars is None else max_chars, field="max_chars", maximum=MAX_VALUE_LIMIT
    )
    return get_with_value(artifact_id, limit=limit)
