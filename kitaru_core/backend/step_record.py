"""Record a computed checkpoint call — its start and its completion — in one transaction each
(local SQLite store only).

**Start.** ZenML's ``SqlZenStore.create_run_step`` is general purpose: it validates references
one ORM query at a time, handles retries, logs, model versions and resource requests, commits
several times and re-reads the new row into a full response model. For the first attempt of a
computed call of a dynamic pipeline on a local store most of that has nothing to do.
:func:`create` writes the very same rows (built by ZenML's schema classes from the request and
typed as ZenML types them) with a few core inserts in one transaction, and builds the response
from what it has, as :mod:`kitaru_core.backend.cache_record` does for a cache hit.

**Completion.** When a checkpoint's body has run and its outputs are stored, ZenML marks the
step run ``completed`` and links its outputs in ``SqlZenStore.update_run_step``: it loads the
row through the ORM, checks every output link one query at a time, commits, re-reads the row,
asks whether the pipeline run's status changes (never, for a dynamic pipeline without a
requested status) and converts the row into a full response model by lazy-loading every
relationship — about twenty statements, to return a response that differs from the one the
creation gave for the same row a few milliseconds earlier only in its status, end and update
times, heartbeat and outputs. So the response the creation returned (either path's) is kept, and
:func:`complete` writes the update with one ``UPDATE`` of the columns ZenML's
``StepRunSchema.update`` sets and one insert of the output links (in one transaction, guarded on
the row still being ``running``); the response is the kept one with what the update changed.

**Which store.** The hooks here only put each write to the execution store's adapter chosen
for the run (``ExecutionStore.record_call_start``, ``record_call_completion`` and
``record_output``), through the same store choice the cache hooks ask
(:func:`kitaru_core.backend.step_cache.run_store`). ``SQLiteStore``, chosen by the fast path's
one guard for a local SQLite store whose schema it knows, calls :func:`create`,
:func:`complete` and :func:`kitaru_core.backend.artifact_record.record`; ``ZenMLStore`` (a
server, MySQL, an unknown schema), a ZenML server process and :func:`zenml_path_only` leave
every write to ZenML's own method, untouched. Each record still takes only a plain start or a
plain success of a dynamic pipeline's step with no metadata, no model version, no resource
request, no logs and no retry bookkeeping; anything else — and any error, after the
transaction rolled back — goes through ZenML's own method.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kitaru_core.backend import step_cache
from kitaru_core.backend.fast_switch import FastSwitch
from kitaru_core.backend.step_cache import RunStore
from kitaru_core.backend.zenml_compat import schema, store_internals

# Responses of step runs created ``running`` in this process, by id, until their update; a
# step that never completes (a crash, a failure) is dropped once newer ones push it out.
_running: OrderedDict[UUID, Any] = OrderedDict()
_RUNNING_KEPT = 256
_lock = threading.Lock()
_installed = False
# Off within ``zenml_path_only()`` (tests and benchmarks compare both paths with it).
_switch = FastSwitch()
zenml_path_only = _switch.zenml_path_only


def install() -> None:
    """Put the start and the completion of computed calls, and their outputs' artifact
    versions, to the run's execution store (once per process; one switch for all three)."""
    global _installed
    if _installed:
        return
    store_internals.replace_create_run_step(_fast_create)
    store_internals.replace_update_run_step(_fast_update)
    store_internals.replace_create_artifact_version(_fast_artifact)
    _installed = True


def _fast_create(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_run_step(self: Any, step_run: Any) -> Any:
        store = _recording_store(self)
        # Not guarded (nor below): a record that fails rolls back and answers None itself, and
        # one that failed after writing must not be written a second time by ZenML.
        response = store.record_call_start(self, step_run) if store is not None else None
        if response is None:
            response = original(self, step_run)
        if store is not None and _is_running(response):
            with _lock:
                _running[response.id] = response
                while len(_running) > _RUNNING_KEPT:
                    _running.popitem(last=False)
        return response

    return create_run_step


def _fast_update(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def update_run_step(self: Any, step_run_id: UUID, step_run_update: Any) -> Any:
        with _lock:
            running = _running.pop(step_run_id, None)
        store = _recording_store(self) if running is not None else None
        if store is not None:
            response = store.record_call_completion(self, running, step_run_update)
            if response is not None:
                return response
        return original(self, step_run_id, step_run_update)

    return update_run_step


def _fast_artifact(original: Callable[..., Any]) -> Callable[..., Any]:
    """Let the run's store write a call's plain outputs (ZenML's method otherwise)."""

    @functools.wraps(original)
    def create_artifact_version(self: Any, artifact_version: Any) -> Any:
        store = _recording_store(self)
        response = store.record_output(self, artifact_version) if store is not None else None
        return response if response is not None else original(self, artifact_version)

    return create_artifact_version


def _recording_store(zen_store: Any) -> RunStore | None:
    """The run's adapter, which records the computed calls of ``zen_store`` (``SQLiteStore``
    on the local store it reads), or ``None`` when ZenML's own methods do: switched off here,
    or the run's store choice leaves them to ZenML (:func:`step_cache.run_store`)."""
    return step_cache.run_store(zen_store) if _switch.on else None


def _is_running(response: Any) -> bool:
    from zenml.enums import ExecutionStatus

    return getattr(response, "status", None) == ExecutionStatus.RUNNING


def is_plain_start(request: Any) -> bool:
    """Whether the request starts a computed checkpoint call of a dynamic pipeline (checked in
    memory): running, no step-level model, no logs, no outputs yet, not a cache hit."""
    from zenml.enums import ExecutionStatus

    step = request.dynamic_config
    return (
        request.status == ExecutionStatus.RUNNING
        and request.original_step_run_id is None
        and step is not None
        and step.config.model is None
        and request.logs is None
        and request.exception_info is None
        and not request.outputs
    )


def is_plain_success(update: Any) -> bool:
    """Whether the update only marks the step completed with its outputs (what a successful
    checkpoint sends); any other field has side effects ZenML's method handles."""
    from zenml.enums import ExecutionStatus

    return (
        update.status == ExecutionStatus.COMPLETED
        and update.end_time is not None
        and update.exception_info is None
        and update.cache_expires_at is None
        and not update.loaded_artifact_versions
        and not update.add_logs
    )


def complete(store: Any, running: Any, update: Any) -> Any | None:
    """Mark the step run of ``running`` (the response its creation returned) completed with
    the outputs of ``update``; the response ZenML would return, or ``None`` (nothing written)
    when ZenML's method must do it."""
    if running.metadata is None or running.resources is None:
        return None  # not a hydrated response: ZenML's method builds the full one
    if running.model_version_id is not None or running.metadata.run_metadata:
        return None
    try:
        # Read first (they must exist, as ZenML checks): the transaction then stays short.
        versions = _output_versions(store, update.outputs)
        written = _write(store, running.id, update)
    except Exception:  # rolled back: ZenML's method writes it (or raises its own error)
        return None
    if written is None:
        return None
    return _response(running, update, versions, written)


def _output_versions(store: Any, outputs: dict[str, list[UUID]]) -> dict[UUID, Any]:
    artifact_ids = [artifact_id for ids in outputs.values() for artifact_id in ids]
    if not artifact_ids:
        return {}
    found = store_internals.artifact_version_responses(store, artifact_ids)
    missing = set(artifact_ids) - set(found)
    if missing:
        raise LookupError(f"artifact versions not found: {sorted(map(str, missing))}")
    return found


def _write(store: Any, step_id: UUID, update: Any) -> dict[str, Any] | None:
    """The update and the output links in one transaction; the new column values of the row,
    or ``None`` (rolled back) when the row is not a plain running step of a dynamic run."""
    from sqlalchemy import insert, select
    from sqlalchemy import update as sql_update
    from zenml.enums import ExecutionStatus

    step = schema.core_table("step_run")
    with store.engine.begin() as connection:  # one transaction: all of it or nothing
        row = connection.execute(
            select(
                step.c.status,
                step.c.snapshot_id,
                step.c.latest_heartbeat,
                step.c.model_version_id,
                step.c.resource_request_id,
            ).where(step.c.id == step_id)
        ).first()
        if row is None or not _plain_running(connection, row, step_id):
            return None
        values = {
            "status": ExecutionStatus.COMPLETED.value,
            "end_time": update.end_time,
            "updated": store_internals.utc_now(),  # as ``StepRunSchema.update`` sets it
        }
        changed = connection.execute(
            sql_update(step)
            .where(step.c.id == step_id)
            .where(step.c.status == ExecutionStatus.RUNNING.value)
            .values(**values)
        ).rowcount
        if changed != 1:  # changed under us (a stop request): let ZenML decide
            raise LookupError("the step run is no longer running")
        links = _output_links(step_id, update.outputs)
        if links:
            connection.execute(insert(schema.core_table("step_run_output_artifact")), links)
    return {**values, "latest_heartbeat": row.latest_heartbeat}


def _plain_running(connection: Any, row: Any, step_id: UUID) -> bool:
    """A running step of a dynamic pipeline (whose run status the update leaves alone), with
    no model version, resource request, metadata or outputs yet (ZenML's response would show
    them)."""
    from zenml.enums import ExecutionStatus

    from kitaru_core.backend import cache_record

    if row.status != ExecutionStatus.RUNNING.value:
        return False
    if row.model_version_id is not None or row.resource_request_id is not None:
        return False
    if not cache_record.snapshot_facts(connection, row.snapshot_id).is_dynamic:
        return False
    return not _has_metadata_or_outputs(connection, step_id)


def _has_metadata_or_outputs(connection: Any, step_id: UUID) -> bool:
    from sqlalchemy import select
    from zenml.enums import MetadataResourceTypes

    metadata = schema.core_table("run_metadata_resource").c
    outputs = schema.core_table("step_run_output_artifact").c
    found = connection.execute(
        select(metadata.id)
        .where(metadata.resource_id == step_id)
        .where(metadata.resource_type == MetadataResourceTypes.STEP_RUN.value)
        .limit(1)
    ).first()
    if found is not None:
        return True
    linked = connection.execute(
        select(outputs.step_id).where(outputs.step_id == step_id).limit(1)
    ).first()
    return linked is not None


def _output_links(step_id: UUID, outputs: dict[str, list[UUID]]) -> list[dict[str, Any]]:
    """One link per artifact: ZenML skips an artifact already linked to the step, under any
    name, so the first name wins."""
    links: dict[UUID, dict[str, Any]] = {}
    for name, artifact_ids in outputs.items():
        for artifact_id in artifact_ids:
            links.setdefault(
                artifact_id, {"step_id": step_id, "artifact_id": artifact_id, "name": name}
            )
    return list(links.values())


def _response(running: Any, update: Any, versions: dict[UUID, Any], written: dict[str, Any]) -> Any:
    """The response ZenML's ``to_model`` gives for the updated row: the running one with the
    new status, times, heartbeat and outputs."""
    from zenml.enums import ExecutionStatus

    body = running.body.model_copy(
        update={
            "status": ExecutionStatus.COMPLETED,
            "end_time": written["end_time"],
            "updated": written["updated"],
            "latest_heartbeat": written["latest_heartbeat"],
        }
    )
    outputs: dict[str, list[Any]] = {}
    for link in _output_links(running.id, update.outputs):
        outputs.setdefault(link["name"], []).append(versions[link["artifact_id"]])
    resources = running.resources.model_copy(update={"outputs": outputs})
    return running.model_copy(update={"body": body, "resources": resources})


# ------------------------------------------------------------------------------- creation


def create(store: Any, request: Any) -> Any | None:
    """Write the running step run of ``request`` as ZenML's ``create_run_step`` would (first
    attempt of a computed call); its response, or ``None`` (nothing written) when ZenML's
    method must do it."""
    from kitaru_core.backend import cache_record

    try:
        artifact_ids = [i for ids in request.inputs.values() for i in ids]
        # Read first (they must exist, as ZenML checks): the transaction then stays short.
        versions = cache_record.artifact_versions(store, artifact_ids)
        user = cache_record.active_user(store)
        written = _write_running(store, request, user.id)
    except Exception:  # rolled back: ZenML's method writes it (or raises its own error)
        return None
    if written is None:
        return None
    try:
        return _running_response(request, written, versions, user)
    except Exception:  # the row is committed: read it back the way ZenML does
        return store.get_run_step(written.step.id, hydrate=True)


@dataclass(frozen=True)
class _Running:
    """What the creation wrote: the step row (ZenML's schema instance), its parents and input
    links, and its substitutions as ZenML reads them back (with the run's date and time)."""

    step: Any
    parents: list[UUID]
    inputs: list[dict[str, Any]]
    substitutions: dict[str, str]


def _write_running(store: Any, request: Any, user_id: UUID) -> _Running | None:
    from sqlalchemy import insert
    from zenml.enums import ExecutionStatus

    from kitaru_core.backend import cache_record

    with store.engine.begin() as connection:  # one transaction: all rows or none
        run = cache_record.run_row(connection, request.pipeline_run_id)
        if run is None or run.status != ExecutionStatus.RUNNING.value:
            return None  # ZenML decides (and explains) what a stopped or failed run allows
        facts = cache_record.snapshot_facts(connection, run.snapshot_id)
        if facts.needs_zenml:
            return None
        retried, parents = cache_record.steps_by_name(connection, request)
        if retried or parents is None:
            return None  # a retry's bookkeeping, or a parent ZenML would not find
        request.user = user_id  # as ZenML's method sets it
        step = _running_row(request, run)
        inputs = _input_rows(request, step.id)
        if inputs is None:
            return None
        step_table = schema.core_table("step_run")
        connection.execute(insert(step_table), schema.row_values("step_run", step))
        cache_record.insert_configuration(connection, request, step.id)
        if parents:
            connection.execute(
                insert(schema.core_table("step_run_parents")),
                [{"parent_id": parent, "child_id": step.id} for parent in parents],
            )
        if inputs:
            connection.execute(insert(schema.core_table("step_run_input_artifact")), inputs)
    finalized = facts.configuration.finalize_substitutions(start_time=run.start_time)
    substitutions = {**finalized, **request.dynamic_config.config.substitutions}
    return _Running(step, parents, inputs, substitutions)


def _running_row(request: Any, run: Any) -> Any:
    """The step run row, built by ZenML's schema from the request (first attempt)."""
    spec, config = request.dynamic_config.spec, request.dynamic_config.config
    step = store_internals.step_run_row(
        request,
        snapshot_id=run.snapshot_id,
        version=1,
        is_retriable=(config.retry.max_retries if config.retry else 0) > 0,
    )
    step.heartbeat_threshold = (
        config.heartbeat_healthy_threshold
        if spec.enable_heartbeat and run.enable_heartbeat
        else None
    )
    return step


def _input_rows(request: Any, step_id: UUID) -> list[dict[str, Any]] | None:
    """The input links of a computed call, typed from its configuration as ZenML does; ``None``
    when an input is not another call's output or an external artifact (ZenML's method handles
    overrides, lazy loaders and manual loads)."""
    from zenml.enums import StepRunInputArtifactType

    config, spec = request.dynamic_config.config, request.dynamic_config.spec
    rows: list[dict[str, Any]] = []
    for name, artifact_ids in request.inputs.items():
        if name in spec.normalized_inputs:
            kind = StepRunInputArtifactType.STEP_OUTPUT
        elif name in config.external_input_artifacts:
            kind = StepRunInputArtifactType.EXTERNAL
        else:
            return None
        for index, artifact_id in enumerate(artifact_ids):
            chunk_index = chunk_size = None
            if kind == StepRunInputArtifactType.STEP_OUTPUT:
                input_spec = spec.normalized_inputs[name][index]
                chunk_index, chunk_size = input_spec.chunk_index, input_spec.chunk_size
            rows.append(
                {
                    "step_id": step_id,
                    "artifact_id": artifact_id,
                    "name": name,
                    "type": kind.value,
                    "input_index": index if kind == StepRunInputArtifactType.STEP_OUTPUT else 0,
                    "chunk_index": chunk_index,
                    "chunk_size": chunk_size,
                }
            )
    return rows


def _running_response(request: Any, written: _Running, versions: dict[UUID, Any], user: Any) -> Any:
    """The response ZenML's ``to_model`` gives for the rows just written."""
    from zenml.enums import ExecutionStatus, StepRunInputArtifactType

    from kitaru_core.backend import cache_record

    inputs: dict[str, list[Any]] = {}
    for link in written.inputs:
        inputs.setdefault(link["name"], []).append(
            store_internals.step_run_input_response(
                input_type=StepRunInputArtifactType(link["type"]),
                index=link["input_index"],
                chunk_index=link["chunk_index"],
                chunk_size=link["chunk_size"],
                **versions[link["artifact_id"]].model_dump(),
            )
        )
    for items in inputs.values():
        items.sort(key=lambda item: item.index or 0)
    return cache_record.step_response(
        written.step,
        request.dynamic_config,
        ExecutionStatus.RUNNING,
        substitutions=written.substitutions,
        parent_ids=written.parents,
        user=user,
        inputs=inputs,
        outputs={},
    )
