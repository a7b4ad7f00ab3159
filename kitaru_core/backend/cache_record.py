"""Record a cache hit in the new execution with a few plain inserts (local SQLite store only).

A cached checkpoint call is recorded as a step run with status ``cached`` that points at the
step run it reuses (``original_step_run_id``) and lists the same input and output artifacts;
that is what ``executions get`` shows and what resume, retry and replay build on. ZenML writes
it in ``SqlZenStore.create_run_step``, a general-purpose method that validates references one
ORM query at a time, handles retries, model versions, logs and resource requests, commits
several times and finally re-reads the new row into a full response model. For a cache hit on
a local store most of that work has nothing to do, and it costs more than the checkpoint.

:func:`record` writes the very same rows (built by ZenML's own schema classes from the same
request, inserted through the fast path's Core tables of ``zenml_compat/schema.py``) in one
transaction of core inserts, and builds the response from what the caller
already has. It takes the fast way only when every branch it skips is known to be idle; in any
other case — or on any error, after rolling its transaction back — it returns ``None`` and the
caller uses ZenML's method.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kitaru_core.backend.zenml_compat import schema, store_internals

# Facts about a snapshot that never change once it is stored, keyed by snapshot id (every run
# has its own snapshot; the most recent ones are kept).
_snapshots: dict[UUID, SnapshotFacts] = {}
_SNAPSHOTS_KEPT = 32
_user_ids: dict[int, UUID] = {}
_users: dict[UUID, Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class SnapshotFacts:
    """What decides whether a cached step run of this snapshot needs ZenML's full path."""

    is_dynamic: bool
    # A pipeline-level model or a cascading tag makes ZenML link or tag the outputs.
    has_model: bool
    has_cascading_tags: bool
    # A replay's input overrides change how ZenML reads a step's parameters back.
    has_input_overrides: bool
    # The pipeline's configuration: its substitutions complete a step run's configuration.
    configuration: Any

    @property
    def needs_zenml(self) -> bool:
        return (
            not self.is_dynamic
            or self.has_model
            or self.has_cascading_tags
            or self.has_input_overrides
        )


def applies(request: Any) -> bool:
    """Whether the request is a plain cache hit of a dynamic pipeline (checked in memory)."""
    from zenml.enums import ExecutionStatus

    step = request.dynamic_config
    return (
        request.status == ExecutionStatus.CACHED
        and request.original_step_run_id is not None
        and step is not None
        and step.config.model is None
        and request.logs is None
        and request.exception_info is None
    )


def record(store: Any, request: Any) -> Any | None:
    """Write the cached step run of ``request``; its response, or ``None`` to use ZenML's path.

    Nothing is written when ``None`` is returned, so ZenML's method can take over.
    """
    try:
        written = _write(store, request)
    except Exception:  # rolled back: ZenML's method writes it (or raises its own error)
        return None
    if written is None:
        return None
    try:
        return _response(store, request, written)
    except Exception:  # the row is committed: read it back the way ZenML does
        return store.get_run_step(written.step.id, hydrate=True)


@dataclass(frozen=True)
class _Plan:
    """What the checks found out: everything the rows and the response are built from."""

    run: Any  # status, snapshot id, heartbeat flag and start time of the pipeline run
    facts: SnapshotFacts
    parent_ids: list[UUID]
    input_types: dict[tuple[str, UUID], Any]


@dataclass(frozen=True)
class _Written:
    step: Any  # the StepRunSchema instance whose column values were inserted
    plan: _Plan
    # The step's substitutions as ZenML reads them back: with the run's date and time.
    substitutions: dict[str, str]


def _write(store: Any, request: Any) -> _Written | None:
    from sqlalchemy import insert

    user_id = active_user_id(store)
    with store.engine.begin() as connection:  # one transaction: all rows or none
        plan = _plan(connection, request)
        if plan is None:
            return None
        request.user = user_id  # as ZenML's method sets it
        step = _step_row(request, plan)
        connection.execute(insert(_table("step_run")), schema.row_values("step_run", step))
        insert_configuration(connection, request, step.id)
        _insert_links(connection, request, step.id, plan.parent_ids, plan.input_types)
    finalized = plan.facts.configuration.finalize_substitutions(start_time=plan.run.start_time)
    substitutions = {**finalized, **request.dynamic_config.config.substitutions}
    return _Written(step=step, plan=plan, substitutions=substitutions)


def _plan(connection: Any, request: Any) -> _Plan | None:
    """The facts the rows need, or ``None`` when a branch of ZenML's method would do work."""
    from zenml.enums import ExecutionStatus

    run = run_row(connection, request.pipeline_run_id)
    if run is None or run.status != ExecutionStatus.RUNNING.value:
        return None  # ZenML decides (and explains) what a stopped or failed run allows
    facts = snapshot_facts(connection, run.snapshot_id)
    if facts.needs_zenml:
        return None
    retried, parents = steps_by_name(connection, request)
    if retried or parents is None or _has_metadata(connection, request):
        return None
    return _Plan(
        run=run, facts=facts, parent_ids=parents, input_types=_original_inputs(connection, request)
    )


def _step_row(request: Any, plan: _Plan) -> Any:
    """The step run row, built by ZenML's schema from the request (first attempt)."""
    spec, config = request.dynamic_config.spec, request.dynamic_config.config
    step = store_internals.step_run_row(
        request,
        snapshot_id=plan.run.snapshot_id,
        version=1,
        is_retriable=(config.retry.max_retries if config.retry else 0) > 0,
    )
    step.heartbeat_threshold = (
        config.heartbeat_healthy_threshold
        if spec.enable_heartbeat and plan.run.enable_heartbeat
        else None
    )
    return step


def _table(name: str) -> Any:
    """The SQLAlchemy Core table the fast path defines for ``name`` (``zenml_compat.schema``;
    its check guarantees the live table has exactly these columns)."""
    return schema.core_table(name)


def run_row(connection: Any, run_id: UUID) -> Any:
    from sqlalchemy import select

    run = _table("pipeline_run").c
    return connection.execute(
        select(run.status, run.snapshot_id, run.enable_heartbeat, run.start_time).where(
            run.id == run_id
        )
    ).first()


def snapshot_facts(connection: Any, snapshot_id: UUID) -> SnapshotFacts:
    """The facts of one snapshot, read and parsed once per process."""
    facts = _snapshots.get(snapshot_id)
    if facts is not None:
        return facts
    from sqlalchemy import select

    snapshot = _table("pipeline_snapshot").c
    row = connection.execute(
        select(snapshot.is_dynamic, snapshot.pipeline_configuration).where(
            snapshot.id == snapshot_id
        )
    ).one()
    configuration = store_internals.pipeline_configuration(row.pipeline_configuration)
    facts = SnapshotFacts(
        is_dynamic=bool(row.is_dynamic),
        has_model=configuration.model is not None,
        has_cascading_tags=any(
            store_internals.is_cascading_tag(tag) for tag in configuration.tags or []
        ),
        has_input_overrides=bool(
            configuration.step_input_overrides or configuration.step_default_input_overrides
        ),
        configuration=configuration,
    )
    with _lock:
        _snapshots[snapshot_id] = facts
        while len(_snapshots) > _SNAPSHOTS_KEPT:
            del _snapshots[next(iter(_snapshots))]
    return facts


def _has_metadata(connection: Any, request: Any) -> bool:
    """Whether the reused step run published metadata (ZenML links it to the cached run)."""
    from sqlalchemy import select
    from zenml.enums import MetadataResourceTypes

    link = _table("run_metadata_resource").c
    found = connection.execute(
        select(link.id)
        .where(link.resource_id == request.original_step_run_id)
        .where(link.resource_type == MetadataResourceTypes.STEP_RUN.value)
        .limit(1)
    ).first()
    return found is not None


def steps_by_name(connection: Any, request: Any) -> tuple[bool, list[UUID] | None]:
    """Whether this call already has an attempt in the run (ZenML's retry bookkeeping then
    applies), and the ids of its upstream step runs as ZenML finds them (``None`` if one is
    missing) — one query on the (name, run) index."""
    from sqlalchemy import select

    step = _table("step_run").c
    upstream = list(request.dynamic_config.spec.upstream_steps)
    rows = connection.execute(
        select(step.id, step.name)
        .where(step.name.in_([request.name, *upstream]))
        .where(step.pipeline_run_id == request.pipeline_run_id)
    ).all()
    first_by_name: dict[str, UUID] = {}
    for row in rows:
        first_by_name.setdefault(row.name, row.id)
    if request.name in first_by_name:
        return True, None
    if any(name not in first_by_name for name in upstream):
        return False, None
    return False, list(dict.fromkeys(first_by_name[name] for name in upstream))


def _original_inputs(connection: Any, request: Any) -> dict[tuple[str, UUID], Any]:
    """The input rows of the reused step run, by (input name, artifact id)."""
    from sqlalchemy import select

    if not request.inputs:
        return {}
    link = _table("step_run_input_artifact").c
    rows = connection.execute(
        select(
            link.name,
            link.artifact_id,
            link.type,
            link.input_index,
            link.chunk_index,
            link.chunk_size,
        )
        # The names lead the table's primary-key index; the step id alone would scan it.
        .where(link.name.in_(list(request.inputs)))
        .where(link.step_id == request.original_step_run_id)
    ).all()
    found: dict[tuple[str, UUID], Any] = {}
    for row in rows:
        found.setdefault((row.name, row.artifact_id), row)
    return found


def insert_configuration(connection: Any, request: Any, step_id: UUID) -> None:
    from sqlalchemy import insert

    # As ZenML stores it: without the merged config, rebuilt from the pipeline's when read.
    configuration = store_internals.step_configuration_row(
        index=0,
        name=request.name,
        config=request.dynamic_config.model_dump_json(exclude={"config"}),
        step_run_id=step_id,
    )
    connection.execute(
        insert(_table("step_configuration")), schema.row_values("step_configuration", configuration)
    )


def _insert_links(
    connection: Any,
    request: Any,
    step_id: UUID,
    parents: list[UUID],
    original_inputs: dict[tuple[str, UUID], Any],
) -> None:
    """Parent steps, inputs (typed as in the reused step run) and outputs of the new row."""
    from sqlalchemy import insert

    rows_by_table: list[tuple[Any, list[dict[str, Any]]]] = [
        (
            _table("step_run_parents"),
            [{"parent_id": parent, "child_id": step_id} for parent in parents],
        ),
        (
            _table("step_run_input_artifact"),
            [
                _input_row(step_id, name, artifact_id, original_inputs)
                for name, artifact_ids in request.inputs.items()
                for artifact_id in artifact_ids
            ],
        ),
        (
            _table("step_run_output_artifact"),
            [
                {"step_id": step_id, "artifact_id": artifact_id, "name": name}
                for name, artifact_ids in request.outputs.items()
                for artifact_id in dict.fromkeys(artifact_ids)
            ],
        ),
    ]
    for table, rows in rows_by_table:
        if rows:
            connection.execute(insert(table), rows)


def _input_row(
    step_id: UUID, name: str, artifact_id: UUID, original_inputs: dict[tuple[str, UUID], Any]
) -> dict[str, Any]:
    original = original_inputs.get((name, artifact_id))
    if original is None:  # ZenML raises here too; the rollback hands over to its path
        raise LookupError(f"input {name!r} is not an input of the reused step run")
    return {
        "step_id": step_id,
        "artifact_id": artifact_id,
        "name": name,
        "type": original.type,
        "input_index": original.input_index or 0,
        "chunk_index": original.chunk_index,
        "chunk_size": original.chunk_size,
    }


def active_user_id(store: Any) -> UUID:
    """The user a client-side SQL store records as creator (the same for the whole process)."""
    user_id = _user_ids.get(id(store))
    if user_id is None:
        user_id = store_internals.active_user_id(store)
        _user_ids[id(store)] = user_id
    return user_id


def active_user(store: Any) -> Any:
    """The creator's user response, as a step run's or artifact version's response holds it
    (read once per process: a flow's user does not change under it)."""
    user_id = active_user_id(store)
    user = _users.get(user_id)
    if user is None:
        user = store_internals.user_response(store, user_id)
        _users[user_id] = user
    return user


def _response(store: Any, request: Any, written: _Written) -> Any:
    """The response ZenML's ``to_model`` would give for the rows just written."""
    from zenml.enums import ExecutionStatus

    inputs, outputs = _artifacts_of(store, request, written.plan.input_types)
    return step_response(
        written.step,
        request.dynamic_config,
        ExecutionStatus.CACHED,
        substitutions=written.substitutions,
        parent_ids=written.plan.parent_ids,
        user=active_user(store),
        inputs=inputs,
        outputs=outputs,
    )


def step_response(
    step: Any,
    compiled: Any,
    status: Any,
    *,
    substitutions: dict[str, str],
    parent_ids: list[UUID],
    user: Any,
    inputs: dict[str, list[Any]],
    outputs: dict[str, list[Any]],
) -> Any:
    """The full response ZenML's ``StepRunSchema.to_model`` gives for ``step``, a step run
    just written by a fast writer (its ``StepRunSchema`` instance), from what the writer
    holds: the call's compiled step (``compiled``: config and spec), its links and user."""
    from zenml.models import (
        StepRunResponse,
        StepRunResponseBody,
        StepRunResponseMetadata,
        StepRunResponseResources,
    )

    return StepRunResponse(
        id=step.id,
        name=step.name,
        body=StepRunResponseBody(
            user_id=step.user_id,
            project_id=step.project_id,
            type=compiled.config.step_type,
            status=status,
            version=step.version,
            is_retriable=step.is_retriable,
            start_time=step.start_time,
            end_time=step.end_time,
            latest_heartbeat=step.latest_heartbeat,
            created=step.created,
            updated=step.updated,
            model_version_id=step.model_version_id,
            resource_request_id=step.resource_request_id,
            substitutions=substitutions,
            heartbeat_threshold=step.heartbeat_threshold,
        ),
        metadata=StepRunResponseMetadata(
            config=compiled.config.model_copy(update={"substitutions": substitutions}),
            spec=compiled.spec,
            cache_key=step.cache_key,
            cache_expires_at=step.cache_expires_at,
            code_hash=step.code_hash,
            docstring=step.docstring,
            source_code=step.source_code,
            exception_info=None,
            snapshot_id=step.snapshot_id,
            pipeline_run_id=step.pipeline_run_id,
            original_step_run_id=step.original_step_run_id,
            parent_step_ids=parent_ids,
            run_metadata={},
        ),
        resources=StepRunResponseResources(
            user=user, model_version=None, log_collection=[], inputs=inputs, outputs=outputs
        ),
    )


def _artifacts_of(
    store: Any, request: Any, input_types: dict[tuple[str, UUID], Any]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The inputs (typed as in the reused step run, sorted by index) and outputs of the new
    step run, as its response lists them."""
    from zenml.enums import StepRunInputArtifactType

    versions = artifact_versions(
        store, [i for ids in (*request.inputs.values(), *request.outputs.values()) for i in ids]
    )
    inputs: dict[str, list[Any]] = {}
    for name, artifact_ids in request.inputs.items():
        for artifact_id in artifact_ids:
            original = input_types[(name, artifact_id)]
            inputs.setdefault(name, []).append(
                store_internals.step_run_input_response(
                    input_type=StepRunInputArtifactType(original.type),
                    index=original.input_index or 0,
                    chunk_index=original.chunk_index,
                    chunk_size=original.chunk_size,
                    **versions[artifact_id].model_dump(),
                )
            )
    for items in inputs.values():
        items.sort(key=lambda item: item.index or 0)
    outputs = {
        name: [versions[artifact_id] for artifact_id in dict.fromkeys(artifact_ids)]
        for name, artifact_ids in request.outputs.items()
    }
    return inputs, outputs


def artifact_versions(store: Any, artifact_ids: list[UUID]) -> dict[UUID, Any]:
    """The artifact versions as the step run response holds them: ZenML's own ``to_model``
    without metadata (the id, uri, materializer, data type and artifact store, which is what
    loading needs), read in one query with their artifact instead of one query each."""
    if not artifact_ids:
        return {}
    found = store_internals.artifact_version_responses(store, artifact_ids)
    missing = set(artifact_ids) - set(found)
    if missing:
        raise LookupError(f"artifact versions not found: {sorted(map(str, missing))}")
    return found
