"""The cache lookup of the fast path: ZenML's question, answered with three indexed selects.

For every checkpoint call with caching on, ZenML asks the store for the newest completed step
run with the call's cache key (``cache_utils.get_cached_step_run``). It does so through its
generic list query: a count query, a paginated select, eager loads of every relationship and a
full response model per row, with every input and output artifact as a full response too. On
the local store that costs more than running a trivial checkpoint. What the caller reads from
the answer is small: the step run's id, the ids of its input and output artifacts, its cache
expiry, docstring and source code (``StepRunRequestFactory.populate_request``).

:func:`lookup` answers the same question over the same tables (the fast path's SQLAlchemy Core
tables of :mod:`kitaru_core.backend.zenml_compat.schema`) with the same conditions and returns
only those fields. ``SQLiteStore.cached_step_run`` calls it; ``backend/step_cache.py`` holds
the hook that asks the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final
from uuid import UUID

from kitaru_core.backend.zenml_compat import schema, store_internals


class AskZenML(Enum):
    """The type of :data:`ASK_ZENML` (an enum of one, so a type checker narrows on it)."""

    ASK_ZENML = "ask_zenml"


# What an adapter answers a cache lookup it leaves to ZenML's own code (``None`` is a miss).
# Defined here, below the interface, because the hooks of ``step_cache.py`` compare with it.
ASK_ZENML: Final = AskZenML.ASK_ZENML


@dataclass(frozen=True)
class ArtifactRef:
    """An input or output artifact of a cached step run: all ZenML reads from it is the id."""

    id: UUID


@dataclass(frozen=True)
class CachedStepRun:
    """The fields of a cache hit that ZenML copies into the new (cached) step run."""

    id: UUID
    cache_expires_at: datetime | None
    docstring: str | None
    source_code: str | None
    inputs: dict[str, list[ArtifactRef]] = field(default_factory=dict)
    outputs: dict[str, list[ArtifactRef]] = field(default_factory=dict)


def lookup(engine: Any, cache_key: str, project_id: UUID) -> CachedStepRun | None:
    """The newest completed, unexpired step run of ``project_id`` with ``cache_key``.

    The same conditions and order as ZenML's ``get_cached_step_run`` (which lists step runs
    filtered by project, cache key, ``cache_expired=False`` and status ``completed``, newest
    ``created`` first), answered with the ``cache_key`` index.
    """
    from sqlalchemy import or_, select
    from zenml.enums import ExecutionStatus

    run = schema.core_table("step_run").c
    hit_query = (
        select(run.id, run.cache_expires_at, run.docstring, run.source_code)
        .where(run.cache_key == cache_key)
        .where(run.project_id == project_id)
        .where(run.status == ExecutionStatus.COMPLETED.value)
        .where(
            or_(run.cache_expires_at.is_(None), run.cache_expires_at > store_internals.utc_now())
        )
        .order_by(run.created.desc(), run.id.desc())
        .limit(1)
    )
    inputs_table = schema.core_table("step_run_input_artifact").c
    outputs_table = schema.core_table("step_run_output_artifact").c
    with engine.connect() as connection:
        hit = connection.execute(hit_query).first()
        if hit is None:
            return None
        inputs = connection.execute(
            select(inputs_table.name, inputs_table.artifact_id, inputs_table.input_index)
            .where(inputs_table.step_id == hit.id)
            .order_by(inputs_table.input_index)
        ).all()
        outputs = connection.execute(
            select(outputs_table.name, outputs_table.artifact_id).where(
                outputs_table.step_id == hit.id
            )
        ).all()
    return CachedStepRun(
        id=hit.id,
        cache_expires_at=hit.cache_expires_at,
        docstring=hit.docstring,
        source_code=hit.source_code,
        inputs=_group((row.name, row.artifact_id) for row in inputs),
        outputs=_group((row.name, row.artifact_id) for row in outputs),
    )


def _group(pairs: Iterable[tuple[str, UUID]]) -> dict[str, list[ArtifactRef]]:
    grouped: dict[str, list[ArtifactRef]] = {}
    for name, artifact_id in pairs:
        grouped.setdefault(name, []).append(ArtifactRef(id=artifact_id))
    return grouped
