"""Artifact tools: list what an execution stored, read one value (bounded)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from kitaru_core.models import ArtifactInfo, UtcDateTime
from kitaru_mcp.results import DEFAULT_LIMIT, Cursor, Limit, Page, paginate
from kitaru_mcp.tools.execution_views import ExecId

DEFAULT_VALUE_CHARS = 16_000
# Below the result cap with room for the envelope and JSON escaping of a cut value.
MAX_VALUE_CHARS = 50_000


class ArtifactSummary(BaseModel):
    """An artifact without its value (read it with kitaru_artifacts_get)."""

    artifact_id: str
    name: str = Field(
        description="'<call_id>.<output>' for a checkpoint output, the save() name for a saved "
        "value, 'result' for a flow result stored as an artifact."
    )
    type: str | None = None
    data_type: str | None = Field(default=None, description="The Python type of the value.")
    exec_id: str | None = None
    checkpoint: str | None = Field(
        default=None, description="The checkpoint call that produced it (null: the flow body)."
    )
    created_at: UtcDateTime | None = None


class ArtifactPage(Page[ArtifactSummary]):
    """A page of an execution's artifacts, in the order they were produced."""


class ArtifactValue(ArtifactInfo):
    """One artifact with its value as JSON; ``truncated`` when the value was cut to
    ``max_chars`` (it is then the start of the value's JSON text)."""

    hint: str | None = Field(default=None, description="How to read the rest of a cut value.")


def kitaru_artifacts_list(
    exec_id: ExecId,
    name: Annotated[
        str | None,
        Field(description="Only artifacts whose name contains this text.", examples=["result"]),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ArtifactPage:
    """List an execution's artifacts — checkpoint outputs ('<call_id>.<output>'), named values
    stored with save(), and the flow's 'result' — with ids and types but not values.

    Use it to find an artifact_id. Next: kitaru_artifacts_get to read a value. Paged: pass
    `next_cursor` back as `cursor` while it is not null."""
    from kitaru_core.services import artifacts

    items = [
        ArtifactSummary.model_validate(item.model_dump(exclude={"value", "truncated"}))
        for item in artifacts.list_all(exec_id, name=name)
    ]
    return paginate(ArtifactPage, items, kind=f"artifacts:{exec_id}", limit=limit, cursor=cursor)


def kitaru_artifacts_get(
    artifact_id: Annotated[
        str,
        Field(
            description="Artifact id from kitaru_artifacts_list (or a checkpoint's outputs in "
            "kitaru_executions_get).",
            examples=["8d0c7a4e-2b1f-4c3a-9e6d-5f4a3b2c1d0e"],
        ),
    ],
    max_chars: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_VALUE_CHARS,
            description=f"Longest value to return, in characters of JSON (default "
            f"{DEFAULT_VALUE_CHARS}, at most {MAX_VALUE_CHARS}).",
            examples=[DEFAULT_VALUE_CHARS],
        ),
    ] = DEFAULT_VALUE_CHARS,
) -> ArtifactValue:
    """Read one artifact: its value rendered as JSON (pydantic models and dataclasses as
    objects), with the execution and checkpoint call that produced it.

    Big values are cut to max_chars and marked `truncated: true`; ask again with a larger
    max_chars (up to 50000) for more. Next: kitaru_executions_get for the execution it belongs
    to, or {tool:kitaru_executions_replay|replay with an override} to change it."""
    from kitaru_core.services import artifacts

    info = artifacts.get(artifact_id, max_chars=max_chars)
    hint = None
    if info.truncated:
        if max_chars < MAX_VALUE_CHARS:
            hint = (
                f"The value was cut at {max_chars} characters; call again with a larger "
                f"max_chars (up to {MAX_VALUE_CHARS}) to see more."
            )
        else:
            hint = (
                f"The value is longer than {MAX_VALUE_CHARS} characters, the most a tool result "
                "can hold; load it in Python with kitaru_core.load(exec_id, name), where name "
                "is a save() name or a checkpoint call_id."
            )
    return ArtifactValue(**info.model_dump(), hint=hint)


TOOLS = (kitaru_artifacts_list, kitaru_artifacts_get)
