"""Record a run's plain status updates in one statement (local SQLite store only).

A dynamic pipeline run on the local orchestrator calls ZenML's ``SqlZenStore.update_run`` four
times: the orchestrator run id, ``running``, ``completed`` and, once the run is over, a late
``provisioning`` that changes nothing but the update time. Each call commits twice, loads the
row through the ORM and re-reads the whole run into a full response model by lazy-loading every
relationship (snapshot, stack, pipeline, user, tags, logs, metadata, wait conditions, outputs):
about twenty statements and ~9 ms, to return a response that differs from the one the previous
call returned only in a few fields of the row.

So the last full response of each run this process created or updated is kept, and
:func:`update` writes the next plain update with one ``UPDATE`` of the columns ZenML's
``PipelineRunSchema.update_status`` and ``update`` set, guarded on the row still being as the
kept response shows it (same status and update time: nothing else wrote the run since), in one
transaction that also checks that nothing the response shows besides the row changed (tags,
logs, visualizations, a pending wait, outputs; the snapshot, stack, pipeline and user not
updated since) and reads the run's metadata. The response is the kept one with what the update
changed. With the same check, :func:`read` answers ``get_run`` of a kept run (ZenML re-reads
the finished run for the caller of every pipeline run).

Only on a local SQLite store that the fast path's one guard accepts
(:func:`~kitaru_core.backend.zenml_compat.schema.fast_path`), for a dynamic pipeline's run, for
an update that sets either the orchestrator run id or a status of ``provisioning``, ``running`` or
``completed`` (no reason, exception, outputs, tags or logs), with no status listeners; a finished
status also needs analytics off and the run-end onboarding steps already recorded (ZenML's
method would report or write them). Anything else, and any error after a rollback, goes through
ZenML's method, whose response is kept for the next call.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from kitaru_core.backend.fast_switch import FastSwitch
from kitaru_core.backend.zenml_compat import database, schema, store_internals

# The last full response of each run created or updated in this process, by id.
_kept: OrderedDict[UUID, Any] = OrderedDict()
_KEPT = 64
_lock = threading.Lock()
_installed = False
# Off within ``zenml_path_only()`` (tests and benchmarks compare both paths with it).
_switch = FastSwitch()
zenml_path_only = _switch.zenml_path_only


def install() -> None:
    """Route plain run updates here (once per process)."""
    global _installed
    if _installed:
        return
    store_internals.replace_get_or_create_run(_keeping_created)
    store_internals.replace_update_run(_fast_update)
    store_internals.replace_get_run(_fast_get)
    _installed = True


def _keep(response: Any) -> None:
    if getattr(response, "metadata", None) is None or response.resources is None:
        return  # not a hydrated response: nothing to build the next one from
    with _lock:
        _kept[response.id] = response
        _kept.move_to_end(response.id)
        while len(_kept) > _KEPT:
            _kept.popitem(last=False)


def _keeping_created(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_or_create_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        run, created = original(self, *args, **kwargs)
        if _switch.on and _applies(self):  # kept only where the next update can use it
            _keep(run)
        return run, created

    return get_or_create_run


def _fast_update(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def update_run(self: Any, run_id: UUID, run_update: Any) -> Any:
        with _lock:
            kept = _kept.pop(run_id, None)
        fast = _switch.on and _applies(self)
        response = None
        if kept is not None and fast and _is_plain(run_update):
            response = update(self, kept, run_update)
        if response is None:
            response = original(self, run_id, run_update)
        if fast:
            _keep(response)
        return response

    return update_run


def _is_plain(update: Any) -> bool:
    """An orchestrator run id and/or a status without side effects ZenML's method handles."""
    from zenml.enums import ExecutionStatus

    plain_statuses = {
        None,
        ExecutionStatus.PROVISIONING,
        ExecutionStatus.RUNNING,
        ExecutionStatus.COMPLETED,
    }
    return (
        update.status in plain_statuses
        and (update.status is not None or bool(update.orchestrator_run_id))
        and update.status_reason is None
        and update.exception_info is None
        and not update.outputs  # ``{}`` (a run returning nothing) deletes no output: none exist
        and not update.add_tags
        and not update.remove_tags
        and not update.add_logs
        # ZenML checks a new orchestrator run id after committing the status: keep them apart
        and (update.status is None or not update.orchestrator_run_id)
    )


def _applies(store: Any) -> bool:
    """Whether ``store`` is a SQL store on a SQLite file opened by this client (not a server
    process) whose schema the one guard accepts, without resource pools."""
    if store_internals.is_server_process():
        return False
    file = database.sqlite_file(store)
    if file is None or getattr(store, "resource_pools_enabled", True):
        return False
    try:
        return schema.fast_path(Path(file)).enabled
    except (sqlite3.Error, OSError):
        return False


def update(store: Any, kept: Any, run_update: Any) -> Any | None:
    """Apply ``run_update`` to the run of ``kept`` (the last response ZenML gave for it) as
    ZenML's ``update_run`` would; the response it would return, or ``None`` (nothing written)
    when ZenML's method must do it."""
    try:
        written = _write(store, kept, run_update)
    except Exception:  # rolled back: ZenML's method writes it (or raises its own error)
        return None
    if written is None:
        return None
    return _response(kept, written)


def _write(store: Any, kept: Any, run_update: Any) -> dict[str, Any] | None:
    """The update in one transaction; the new column values and the run's metadata, or
    ``None`` (rolled back) when the run is not as ``kept`` shows it or ZenML must decide."""
    from sqlalchemy import update as sql_update

    if not _plain_response(kept):
        return None
    run = schema.core_table("pipeline_run")
    with store.engine.begin() as connection:  # one transaction: checked, written, read
        row = _state(connection, kept)
        if row is None or not _as_kept(row, kept):
            return None
        values = _new_values(store, connection, row, run_update)
        if values is None:
            return None
        changed = connection.execute(
            sql_update(run)
            .where(run.c.id == kept.id)
            .where(run.c.status == row.status)
            .where(run.c.updated == row.updated)
            .values(**values)
        ).rowcount
        if changed != 1:  # written under us: let ZenML decide
            raise LookupError("the run changed")
        return {**_current(row), **values, "run_metadata": _run_metadata(connection, kept.id)}


def _plain_response(kept: Any) -> bool:
    """Whether ``kept`` is a full response of a run that shows nothing but its row, its
    snapshot, stack, pipeline, user and metadata (the parts :func:`_state` checks)."""
    if kept.metadata is None or kept.resources is None:
        return False
    resources = kept.resources
    present = ("snapshot", "stack", "pipeline", "user")
    absent = (
        "source_snapshot",
        "build",
        "schedule",
        "code_reference",
        "model_version",
        "trigger",
        "original_run",
        "parent_run",
        "active_wait_condition",
    )
    return (
        all(getattr(resources, part) is not None for part in present)
        and all(getattr(resources, part) is None for part in absent)
        and not (resources.tags or resources.log_collection or resources.visualizations)
        and not resources.outputs
        and kept.metadata.exception_info is None
    )


def _state(connection: Any, kept: Any) -> Any:
    """In one statement: the run's row, whether anything its response would show besides the
    row exists (tags, logs, visualizations, a pending wait, outputs), and when its snapshot,
    stack, pipeline and user were last updated."""
    from sqlalchemy import exists, select
    from zenml.enums import RunWaitConditionStatus, TaggableResourceTypes

    run = schema.core_table("pipeline_run").c
    tags, logs = schema.core_table("tag_resource").c, schema.core_table("logs").c
    shown = schema.core_table("curated_visualization").c
    waits = schema.core_table("run_wait_condition").c
    outputs = schema.core_table("pipeline_run_output").c
    resources = kept.resources

    def updated(table: str, row_id: UUID) -> Any:
        columns = schema.core_table(table).c
        return select(columns.updated).where(columns.id == row_id).scalar_subquery()

    return connection.execute(
        select(
            run.status,
            run.status_reason,
            run.end_time,
            run.updated,
            run.in_progress,
            run.orchestrator_run_id,
            run.exception_info,
            run.snapshot_id,
            run.model_version_id,
            exists()
            .where(
                tags.resource_id == kept.id,
                tags.resource_type == TaggableResourceTypes.PIPELINE_RUN.value,
            )
            .label("tagged"),
            exists().where(logs.pipeline_run_id == kept.id).label("logged"),
            exists().where(shown.resource_id == kept.id).label("shown"),
            exists()
            .where(waits.run_id == kept.id, waits.status == RunWaitConditionStatus.PENDING.value)
            .label("waiting"),
            exists().where(outputs.pipeline_run_id == kept.id).label("has_outputs"),
            updated("pipeline_snapshot", resources.snapshot.id).label("snapshot_updated"),
            updated("stack", resources.stack.id).label("stack_updated"),
            updated("pipeline", resources.pipeline.id).label("pipeline_updated"),
            updated("user", resources.user.id).label("user_updated"),
        ).where(run.id == kept.id)
    ).first()


def _current(row: Any) -> dict[str, Any]:
    return {
        "status": row.status,
        "status_reason": row.status_reason,
        "end_time": row.end_time,
        "updated": row.updated,
        "in_progress": bool(row.in_progress),
        "orchestrator_run_id": row.orchestrator_run_id,
    }


def _as_kept(row: Any, kept: Any) -> bool:
    """Whether the store shows what ``kept`` shows: nothing wrote the run since (every ZenML
    write of the row sets its update time), nothing was added to it, and its snapshot, stack,
    pipeline and user are unchanged."""
    body, metadata, resources = kept.body, kept.metadata, kept.resources
    return (
        row.status == body.status.value
        and row.updated == body.updated
        and row.status_reason == body.status_reason
        and bool(row.in_progress) == body.in_progress
        and row.end_time == metadata.end_time
        and row.orchestrator_run_id == metadata.orchestrator_run_id
        and row.exception_info is None
        and row.model_version_id is None
        and not (row.tagged or row.logged or row.shown or row.waiting or row.has_outputs)
        and row.snapshot_id == resources.snapshot.id
        and row.snapshot_updated == resources.snapshot.body.updated
        and row.stack_updated == resources.stack.body.updated
        and row.pipeline_updated == resources.pipeline.body.updated
        and row.user_updated == resources.user.body.updated
    )


def _new_values(store: Any, connection: Any, row: Any, run_update: Any) -> dict[str, Any] | None:
    """The columns ZenML's ``update_status`` and ``update`` set, or ``None`` where ZenML
    decides (or raises)."""
    from kitaru_core.backend import cache_record

    if not cache_record.snapshot_facts(connection, row.snapshot_id).is_dynamic:
        return None  # a static run's status follows its steps
    values: dict[str, Any] = {}
    if run_update.status is not None:
        status = _status_values(store, connection, row, run_update.status)
        if status is None:
            return None
        values.update(status)
    if run_update.orchestrator_run_id:
        if not _is_placeholder(row.status) or row.orchestrator_run_id not in (
            None,
            run_update.orchestrator_run_id,
        ):
            return None  # ZenML raises its error
        values["orchestrator_run_id"] = run_update.orchestrator_run_id
    values["updated"] = store_internals.utc_now()  # as ``PipelineRunSchema.update`` sets it
    return values


def _is_placeholder(status: str) -> bool:
    from zenml.enums import ExecutionStatus

    return status in {ExecutionStatus.INITIALIZING.value, ExecutionStatus.PROVISIONING.value}


def _status_values(store: Any, connection: Any, row: Any, requested: Any) -> dict[str, Any] | None:
    """``update_status`` of a dynamic run, for the plain statuses: ``{}`` when it ignores the
    request (``provisioning`` once the run has started)."""
    from zenml.enums import ExecutionStatus

    current = ExecutionStatus(row.status)
    if requested == ExecutionStatus.PROVISIONING and current != ExecutionStatus.INITIALIZING:
        return {}
    if current.is_finished or current == ExecutionStatus.STOPPING or current == requested:
        return None  # ZenML refuses, keeps a stop's reason, or re-sets the same status
    if store_internals.has_run_status_listeners():
        return None
    if requested.is_finished and not _run_end_is_quiet(store, connection, row.snapshot_id):
        return None
    now = store_internals.utc_now()
    values: dict[str, Any] = {
        "status": requested.value,
        "in_progress": not requested.is_finished,
        "status_reason": None,  # cleared when the status changes
        "updated": now,
    }
    if requested.is_finished and row.end_time is None:
        values["end_time"] = now
    return values


def _run_end_is_quiet(store: Any, connection: Any, snapshot_id: UUID) -> bool:
    """Whether ZenML's method would neither report the run's end (analytics) nor write
    onboarding steps for it (they are recorded already)."""
    if store_internals.analytics_opted_in():
        return False
    flavors = _stack_flavors(connection, snapshot_id)
    if "orchestrator" not in flavors or "artifact_store" not in flavors:
        return False
    needed = store_internals.run_end_onboarding_steps(
        flavors["orchestrator"], flavors["artifact_store"]
    )
    return needed <= store_internals.onboarding_steps_recorded(store)


def _stack_flavors(connection: Any, snapshot_id: UUID) -> dict[str, str]:
    from sqlalchemy import select

    snapshot = schema.core_table("pipeline_snapshot")
    composition = schema.core_table("stack_composition")
    component = schema.core_table("stack_component")
    rows = connection.execute(
        select(component.c.type, component.c.flavor)
        .join(composition, composition.c.component_id == component.c.id)
        .join(snapshot, snapshot.c.stack_id == composition.c.stack_id)
        .where(snapshot.c.id == snapshot_id)
    ).all()
    return {str(kind): str(flavor) for kind, flavor in rows}


def _run_metadata(connection: Any, run_id: UUID) -> dict[str, Any]:
    from sqlalchemy import select
    from zenml.enums import MetadataResourceTypes

    metadata = schema.core_table("run_metadata")
    links = schema.core_table("run_metadata_resource")
    rows = connection.execute(
        select(metadata.c.key, metadata.c.value, metadata.c.created)
        .join(links, links.c.run_metadata_id == metadata.c.id)
        .where(links.c.resource_id == run_id)
        .where(links.c.resource_type == MetadataResourceTypes.PIPELINE_RUN.value)
    ).all()
    return store_internals.resolved_run_metadata([tuple(row) for row in rows])


def _response(kept: Any, written: dict[str, Any]) -> Any:
    """The response ZenML's ``to_model`` gives for the updated row: the kept one with the new
    status, times, orchestrator run id and metadata."""
    from zenml.enums import ExecutionStatus

    body = kept.body.model_copy(
        update={
            "status": ExecutionStatus(written["status"]),
            "status_reason": written["status_reason"],
            "updated": written["updated"],
            "in_progress": written["in_progress"],
        }
    )
    metadata = kept.metadata.model_copy(
        update={
            "end_time": written["end_time"],
            "orchestrator_run_id": written["orchestrator_run_id"],
            "run_metadata": written["run_metadata"],
        }
    )
    return kept.model_copy(update={"body": body, "metadata": metadata})


# ------------------------------------------------------------------------------------ reads


def _fast_get(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_run(
        self: Any,
        run_id: UUID,
        hydrate: bool = True,
        include_full_metadata: bool = False,
        include_python_packages: bool = False,
    ) -> Any:
        fast = _switch.on and _applies(self)
        plain = fast and hydrate and not include_full_metadata and not include_python_packages
        if plain:
            with _lock:
                kept = _kept.get(run_id)
            response = read(self, kept) if kept is not None else None
            if response is not None:
                return response
        response = original(
            self,
            run_id,
            hydrate=hydrate,
            include_full_metadata=include_full_metadata,
            include_python_packages=include_python_packages,
        )
        if plain:
            _keep(response)
        return response

    return get_run


def read(store: Any, kept: Any) -> Any | None:
    """The run of ``kept`` as ZenML's ``get_run`` would return it (hydrated, default options),
    when the store still shows what ``kept`` shows (with the run's metadata read again); else
    ``None``: ZenML's method reads it."""
    if not _plain_response(kept):
        return None
    try:
        with store.engine.connect() as connection:
            row = _state(connection, kept)
            if row is None or not _as_kept(row, kept):
                return None
            run_metadata = _run_metadata(connection, kept.id)
    except Exception:  # ZenML's method reads it (or raises its own error)
        return None
    metadata = kept.metadata.model_copy(update={"run_metadata": run_metadata})
    return kept.model_copy(update={"metadata": metadata})
