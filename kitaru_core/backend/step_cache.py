"""Cheap cache hits on the local SQLite store: the lookup and the record of the cached call.

For every checkpoint call with caching on, ZenML asks the store for the newest completed step
run with the call's cache key (``cache_utils.get_cached_step_run``). It does so through its
generic list query: a count query, a paginated select, eager loads of every relationship and a
full response model per row, with every input and output artifact as a full response too. On
the local store that costs more than running a trivial checkpoint. What the caller reads from
the answer is small: the step run's id, the ids of its input and output artifacts, its cache
expiry, docstring and source code (``StepRunRequestFactory.populate_request``).

On a local SQLite store whose schema the fast path's one guard accepts
(:mod:`kitaru_core.backend.zenml_compat.schema`), Kitaru answers the same question with three
indexed selects over the same tables (its SQLAlchemy Core tables) and the same conditions
(project, cache key, status ``completed``, not expired, newest first), and returns only those
fields. A hit is then recorded in the new execution by
:mod:`kitaru_core.backend.cache_record` instead of ZenML's ``create_run_step``. Any other store
— a server, MySQL — and any error on the way go through ZenML's own code unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from kitaru_core.backend.zenml_compat import database, schema, store_internals

_installed = False
# Switched off by :func:`zenml_path_only` (tests and benchmarks compare both paths with it).
_enabled = True


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


def install() -> None:
    """Route ZenML's cache lookup through :func:`lookup` (once per process)."""
    global _installed
    if _installed:
        return
    store_internals.replace_cache_lookup(_fast_lookup)
    store_internals.replace_create_run_step(_fast_record)
    _installed = True


def _fast_lookup(original: Callable[[str], Any]) -> Callable[[str], Any]:
    def get_cached_step_run(cache_key: str) -> Any:
        store = _local_sqlite_store()
        if store is None:
            return original(cache_key)
        try:
            return lookup(database.sqlite_engine(store), cache_key, _active_project_id())
        except Exception:  # an unexpected schema or state: ZenML's own query decides
            return original(cache_key)

    return get_cached_step_run


def _fast_record(original: Callable[..., Any]) -> Callable[..., Any]:
    """Let :mod:`cache_record` write cache hits on a local SQLite store (ZenML otherwise)."""
    from kitaru_core.backend import cache_record

    @functools.wraps(original)
    def create_run_step(self: Any, step_run: Any) -> Any:
        if _fast_path_applies(self) and cache_record.applies(step_run):
            response = cache_record.record(self, step_run)
            if response is not None:
                return response
        return original(self, step_run)

    return create_run_step


@contextlib.contextmanager
def zenml_path_only() -> Iterator[None]:
    """Within this block, cache lookups and cached step runs go through ZenML's own code."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def _local_sqlite_store() -> Any | None:
    """The active ZenML store if it is a client-side SQL store on SQLite, else ``None``."""
    from zenml.client import Client

    store = Client().zen_store
    return store if _fast_path_applies(store) else None


def _fast_path_applies(store: Any) -> bool:
    """Whether the fast path is on and ``store`` is a SQL store on a SQLite file opened by this
    client (not a server, not a ZenML server process's own store) whose schema the fast path's
    one guard (:func:`~kitaru_core.backend.zenml_compat.schema.fast_path`) accepts."""
    if not _enabled:
        return False
    file = database.sqlite_file(store)
    if file is None or store_internals.is_server_process():
        return False
    try:
        return schema.fast_path(Path(file)).enabled
    except (sqlite3.Error, OSError):
        return False


def _active_project_id() -> UUID:
    from zenml.client import Client

    return Client().active_project.id


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


def _group(pairs: Any) -> dict[str, list[ArtifactRef]]:
    grouped: dict[str, list[ArtifactRef]] = {}
    for name, artifact_id in pairs:
        grouped.setdefault(name, []).append(ArtifactRef(id=artifact_id))
    return grouped
