"""The plain facts an execution store reads: what both adapters produce, and all the view
builders (``views.py``) consume. No rule lives here: a status is ZenML's raw value, metadata is
what was stored, and deciding what they mean is the views' job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OutputRow:
    """One output artifact of a checkpoint call."""

    name: str
    artifact_id: str
    type: str


@dataclass(frozen=True)
class RunRow:
    """One execution (a ZenML pipeline run).

    ``extra`` is the run's configured extra and ``metadata`` its run metadata; a summary read
    may hold only the keys a summary shows (the result record, the original execution, …).
    """

    exec_id: str
    name: str
    flow: str | None  # the pipeline's name (``None`` when the run has none)
    status: str  # ZenML's status value: "running", "paused", "completed", …
    status_reason: str | None
    created: datetime | None  # aware, UTC
    started_at: datetime | None
    ended_at: datetime | None
    stack: str | None
    wait_pending: bool  # the run has a pending wait condition
    extra: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    exception_info: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StepRow:
    """One checkpoint call (the latest attempt of a step run)."""

    call_id: str  # the invocation id
    status: str  # ZenML's status value
    attempts: int | None
    started_at: datetime | None
    ended_at: datetime | None
    extra: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    exception_info: Mapping[str, Any] | None = None
    outputs: tuple[OutputRow, ...] = ()


@dataclass(frozen=True)
class WaitRow:
    """One wait condition, with the execution it belongs to."""

    name: str
    question: str | None
    schema: Mapping[str, Any] | None
    created_at: datetime | None
    run: RunRow
    metadata: Mapping[str, Any] = field(default_factory=dict)
