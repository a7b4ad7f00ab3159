"""Pydantic domain models: the language between the layers and every surface."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def as_utc(moment: datetime) -> datetime:
    """``moment`` as a timezone-aware UTC datetime.

    ZenML stores and returns naive datetimes that mean UTC, so a naive value is taken as UTC;
    an aware one is converted. Strict clients check timestamps against RFC 3339, which needs
    an offset: aware UTC values serialise as ``…Z``.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# Every model field that holds a point in time uses this type, so no surface can leak a naive
# timestamp, whichever read path (ZenML client, local SQLite, log files) produced it.
UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExecutionStatus(StrEnum):
    """The five public execution statuses, rendered as the bare word everywhere."""

    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in (
            ExecutionStatus.COMPLETED,
            ExecutionStatus.FAILED,
            ExecutionStatus.CANCELLED,
        )


class StackInfo(_Model):
    """The SDK's small view of a stack."""

    id: str
    name: str
    is_active: bool


class StackListItem(StackInfo):
    """A stack in ``list`` output: adds whether Kitaru created (manages) it."""

    is_managed: bool


class StackComponentInfo(_Model):
    type: str
    name: str
    flavor: str
    configuration: dict[str, Any] = Field(default_factory=dict)
    is_managed: bool = False


class StackDetails(StackListItem):
    """``stack show``: components, flavors, key configuration and connector."""

    stack_type: str
    components: list[StackComponentInfo] = Field(default_factory=list)
    connector: dict[str, Any] | None = None


class ArtifactRef(_Model):
    artifact_id: str
    name: str
    type: str | None = None


class Failure(_Model):
    """Why an execution failed: where, which exception, the message and the traceback."""

    checkpoint: str | None = None
    exception_type: str | None = None
    message: str
    traceback: str | None = None


class LlmUsage(_Model):
    """What one ``llm()`` call used: the model, tokens and cost (``None`` where unknown)."""

    model: str | None = None
    model_alias: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    mocked: bool = False


class CheckpointCall(_Model):
    call_id: str
    name: str
    type: str = "checkpoint"
    status: ExecutionStatus
    attempts: int = 1
    started_at: UtcDateTime | None = None
    ended_at: UtcDateTime | None = None
    cached: bool = False
    outputs: list[ArtifactRef] = Field(default_factory=list)
    llm_usage: LlmUsage | None = None  # set on ``llm_call`` checkpoints once the call returned
    # What the user recorded with ``log(**metadata)`` inside this call (Kitaru's own keys left
    # out); a cached call shows what its original call logged.
    metadata: dict[str, Any] = Field(default_factory=dict)


class PendingWait(_Model):
    name: str
    question: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: UtcDateTime | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Execution(_Model):
    exec_id: str
    flow: str
    status: ExecutionStatus
    status_reason: str | None = None
    started_at: UtcDateTime | None = None
    ended_at: UtcDateTime | None = None
    stack: str | None = None
    result: Any = None
    checkpoints: list[CheckpointCall] = Field(default_factory=list)
    pending_wait: PendingWait | None = None
    failure: Failure | None = None
    frozen_spec: dict[str, Any] = Field(default_factory=dict)
    original_exec_id: str | None = None
    # What the user recorded with ``log(**metadata)`` at flow scope (Kitaru's own keys left out).
    metadata: dict[str, Any] = Field(default_factory=dict)


class LogEntry(_Model):
    timestamp: UtcDateTime | None = None
    level: str = "INFO"
    checkpoint: str | None = None
    message: str


class ReplayPlan(_Model):
    """What a replay does with each recorded checkpoint call."""

    from_checkpoint: str
    reused: list[str] = Field(default_factory=list)
    overridden: list[str] = Field(default_factory=list)
    rerun: list[str] = Field(default_factory=list)


class WaitInfo(PendingWait):
    """A pending wait together with its execution, as ``executions waiting`` lists it."""

    exec_id: str
    flow: str


class ExecutionPage(_Model):
    """One page of executions, newest first; pass ``next_cursor`` back for the next page."""

    items: list[Execution]
    count: int
    next_cursor: str | None = None


class ArtifactInfo(_Model):
    """A stored artifact with its value rendered (bounded in size)."""

    artifact_id: str
    name: str
    type: str | None = None
    data_type: str | None = None
    exec_id: str | None = None
    checkpoint: str | None = None
    value: Any = None
    truncated: bool = False
    created_at: UtcDateTime | None = None


class StartedExecution(_Model):
    """An execution started (or continued) in the background."""

    exec_id: str
    status: ExecutionStatus
    flow: str | None = None
    log_file: str | None = None


class DeploymentTag(_Model):
    name: str
    exclusive: bool


class Deployment(_Model):
    """One immutable deployed version of a flow and its routing tags."""

    flow: str
    version: int
    tags: list[DeploymentTag] = Field(default_factory=list)
    created_at: UtcDateTime | None = None
    stack: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    input_schema: dict[str, Any] = Field(default_factory=dict)
    local: bool = False
    snapshot_id: str
    target: str | None = None


class CurlCommand(_Model):
    """A copy-pasteable command that starts a deployed version on the active server."""

    flow: str
    version: int
    command: str
    warning: str


class FlowParameter(_Model):
    """One input of a flow, with its JSON-schema type."""

    name: str
    type: str | None = None  # e.g. ``string``, ``integer | null``, ``array[string]``
    # ``None`` when unknown: an execution records the values it got, not which were optional.
    required: bool | None = None


class FlowLastExecution(_Model):
    exec_id: str
    status: ExecutionStatus
    started_at: UtcDateTime | None = None


class FlowDeployment(_Model):
    """A deployed version of a flow and its routing tags."""

    version: int
    tags: list[DeploymentTag] = Field(default_factory=list)
    local: bool = False


class FlowInfo(_Model):
    """A flow the store knows (it ran or was deployed): how to start it, and its state."""

    name: str
    target: str | None = None  # ``/path/file.py:flow`` (or ``module:flow``) to run it again
    parameters: list[FlowParameter] = Field(default_factory=list)
    last_execution: FlowLastExecution | None = None
    deployments: list[FlowDeployment] = Field(default_factory=list)
