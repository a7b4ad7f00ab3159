"""``SQLiteStore``: the fast local path. Rows are read straight from the local store's SQLite
tables with ``sqlite3`` — no ZenML import, a few queries per answer, none per row.

When it applies is decided by ``local_store.open_local`` (the fast-path guard). A read that
SQLite fails (a store being migrated, a file replaced underneath) is answered by
:class:`ZenMLStore` instead; Kitaru's own errors (not found, bad id) pass through. The rare
status writes (crash marking, cancellation, stopping, the retry link) go through ZenML: the
connection here is read-only. A watcher polls the file itself (``backend/local_changes.py``).

Inside a run on this store, the checkpoint cache is looked up with a few indexed selects
(``cache_lookup.py``) and a cache hit recorded with a few inserts (``backend/cache_record.py``);
a computed call's start and completion (``backend/step_record.py``) and its outputs
(``backend/artifact_record.py``) are written in one transaction each. All of it goes through
the engine of ZenML's own store object, whose file this adapter reads.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from kitaru_core.backend import local_store
from kitaru_core.backend.local_changes import LocalChanges
from kitaru_core.backend.local_store import LocalStore, hex_id, in_list, not_found, timestamp
from kitaru_core.backend.status import zenml_values
from kitaru_core.backend.store.cache_lookup import ASK_ZENML, AskZenML, CachedStepRun, lookup
from kitaru_core.backend.store.interface import ExecutionStore
from kitaru_core.backend.store.rows import OutputRow, RunRow, StepRow, WaitRow
from kitaru_core.backend.zenml_compat.database import sqlite_engine, sqlite_file
from kitaru_core.models import ExecutionStatus, StackInfo, StackListItem
from kitaru_core.naming import LOCAL_LOGS_KEY, ORIGINAL_KEY, RESULT_KEY, SPEC_KEY

if TYPE_CHECKING:
    from kitaru_core.backend.local_waits import LocalWaits

F = TypeVar("F", bound=Callable[..., Any])

_PENDING_WAIT = (
    "EXISTS (SELECT 1 FROM run_wait_condition w WHERE w.run_id = r.id AND w.status = 'pending')"
)
_CONFIG = "COALESCE(s.pipeline_configuration, r.pipeline_configuration)"
# One row per run with what a summary shows. A run's configuration, stack and pipeline come
# from its snapshot when it has one (as in ZenML's own response model).
_RUN_COLUMNS = f"""
    r.id, r.name, r.status, r.status_reason, r.start_time, r.end_time, r.created,
    COALESCE(p_snap.name, p_run.name) AS pipeline_name,
    st.name AS stack_name,
    json_extract({_CONFIG}, '$.extra.' || :original_key) AS original_exec_id,
    json_extract({_CONFIG}, '$.extra.' || :local_logs_key) AS local_logs,
    {_PENDING_WAIT} AS wait_pending
"""
# What a detail adds: why the flow body failed, and the frozen execution spec.
_DETAIL_COLUMNS = (
    f"r.exception_info, json_extract({_CONFIG}, '$.extra.' || :spec_key) AS frozen_spec"
)
_KEYS = {"original_key": ORIGINAL_KEY, "local_logs_key": LOCAL_LOGS_KEY, "spec_key": SPEC_KEY}
_RUN_LINKS = """
    LEFT JOIN pipeline_snapshot s ON s.id = r.snapshot_id
    LEFT JOIN pipeline p_snap ON p_snap.id = s.pipeline_id
    LEFT JOIN pipeline p_run ON p_run.id = r.pipeline_id
    LEFT JOIN stack st ON st.id = COALESCE(s.stack_id, r.stack_id)
"""
_WAIT_COLUMNS = (
    "w.id AS wait_id, w.name AS wait_name, w.question, w.data_schema_json, "
    "w.created AS wait_created"
)
# A step's configuration is its own (dynamic flows) or its snapshot's (compiled ones).
_STEPS = """
    SELECT sr.id, sr.name, sr.status, sr.version, sr.start_time, sr.end_time,
           sr.exception_info,
           COALESCE(
               json_extract(COALESCE(dyn.config, stat.config), '$.step_config_overrides.extra'),
               json_extract(COALESCE(dyn.config, stat.config), '$.config.extra')
           ) AS extra
    FROM step_run sr
    LEFT JOIN step_configuration dyn ON dyn.step_run_id = sr.id
    LEFT JOIN step_configuration stat ON stat.snapshot_id = sr.snapshot_id AND stat.name = sr.name
    WHERE sr.pipeline_run_id = :run AND sr.status != 'retried'
    ORDER BY sr.created, sr.id
"""


def _or_zenml(method: F) -> F:
    """Answer through ZenML when SQLite fails (Kitaru's own errors are answers: they pass)."""

    @functools.wraps(method)
    def guarded(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error:
            return getattr(self.fallback(), method.__name__)(*args, **kwargs)

    return guarded  # type: ignore[return-value]


class SQLiteStore(ExecutionStore):
    """Rows from the local SQLite database (``local``: its file, project and active stack)."""

    def __init__(self, local: LocalStore, fallback: Callable[[], ExecutionStore]) -> None:
        self.local = local
        self.fallback = fallback

    @_or_zenml
    def run_row(self, exec_id: str, *, detail: bool = False) -> RunRow:
        run_id = _run_id(exec_id)
        columns = f"{_RUN_COLUMNS}, {_DETAIL_COLUMNS}" if detail else _RUN_COLUMNS
        with self.local.connect() as db:
            row = db.execute(
                f"SELECT {columns} FROM pipeline_run r {_RUN_LINKS} WHERE r.id = :run",
                {"run": run_id, **_KEYS},
            ).fetchone()
            if row is None:
                raise not_found(exec_id)
            wanted = None if detail else RESULT_KEY
            metadata = _metadata(db, "pipeline_run", [run_id], key=wanted).get(run_id, {})
        return _run_row(row, metadata, detail=detail)

    @_or_zenml
    def run_rows(
        self,
        *,
        flow: str | None,
        status: ExecutionStatus | None,
        stack: str | None,
        offset: int,
        size: int,
    ) -> tuple[list[RunRow], bool]:
        where, params = self._run_filters(flow=flow, status=status, stack=stack)
        query = (
            f"SELECT {_RUN_COLUMNS} FROM pipeline_run r {_RUN_LINKS} WHERE {' AND '.join(where)} "
            "ORDER BY r.created DESC, r.id DESC LIMIT :limit OFFSET :offset"
        )
        params.update(limit=size + 1, offset=offset)
        with self.local.connect() as db:
            rows = db.execute(query, params).fetchall()
            page = rows[:size]
            results = _metadata(db, "pipeline_run", [row["id"] for row in page], key=RESULT_KEY)
        return [_run_row(row, results.get(row["id"], {})) for row in page], len(rows) > size

    def _run_filters(
        self, *, flow: str | None, status: ExecutionStatus | None, stack: str | None
    ) -> tuple[list[str], dict[str, Any]]:
        where = ["r.project_id = :project"]
        params: dict[str, Any] = {"project": self.local.project_id, **_KEYS}
        if flow:
            where.append(
                "r.pipeline_id IN (SELECT id FROM pipeline WHERE name = :flow OR id = :flow_id)"
            )
            params.update(flow=flow, flow_id=hex_id(flow))
        if stack:
            where.append(
                "COALESCE(s.stack_id, r.stack_id) IN "
                "(SELECT id FROM stack WHERE name = :stack OR id = :stack_id)"
            )
            params.update(stack=stack, stack_id=hex_id(stack))
        if status is not None:
            where.append(_status_condition(status, params))
        return where, params

    @_or_zenml
    def step_rows(self, exec_id: str) -> list[StepRow]:
        with self.local.connect() as db:
            rows = db.execute(_STEPS, {"run": _run_id(exec_id)}).fetchall()
            step_ids = [row["id"] for row in rows]
            outputs = _outputs(db, step_ids)
            metadata = _metadata(db, "step_run", step_ids)
        return [
            StepRow(
                call_id=row["name"],
                status=row["status"],
                attempts=row["version"],
                started_at=timestamp(row["start_time"]),
                ended_at=timestamp(row["end_time"]),
                extra=_json(row["extra"]) or {},
                metadata=metadata.get(row["id"], {}),
                exception_info=_json(row["exception_info"]),
                outputs=tuple(outputs.get(row["id"], [])),
            )
            for row in rows
        ]

    @_or_zenml
    def wait_rows(self, exec_id: str | None = None) -> list[WaitRow]:
        if exec_id is None:
            scope, params = "w.project_id = :project", {"project": self.local.project_id}
        else:
            scope, params = "w.run_id = :run", {"run": _run_id(exec_id)}
        with self.local.connect() as db:
            rows = db.execute(
                f"SELECT {_WAIT_COLUMNS}, {_RUN_COLUMNS} FROM run_wait_condition w "
                f"JOIN pipeline_run r ON r.id = w.run_id {_RUN_LINKS} "
                f"WHERE w.status = 'pending' AND {scope} ORDER BY w.created, w.id",
                {**params, **_KEYS},
            ).fetchall()
            waits = _metadata(db, "wait_condition", [row["wait_id"] for row in rows])
        return [
            WaitRow(
                name=row["wait_name"],
                question=row["question"],
                schema=_json(row["data_schema_json"]),
                created_at=timestamp(row["wait_created"]),
                run=_run_row(row, {}),
                metadata=waits.get(row["wait_id"], {}),
            )
            for row in rows
        ]

    @_or_zenml
    def call_ids(self, exec_id: str) -> set[str]:
        run_id = _run_id(exec_id)
        with self.local.connect() as db:
            if db.execute("SELECT 1 FROM pipeline_run WHERE id = ?", (run_id,)).fetchone() is None:
                raise not_found(exec_id)
            rows = db.execute("SELECT name FROM step_run WHERE pipeline_run_id = ?", (run_id,))
            return {str(row[0]) for row in rows}

    @_or_zenml
    def list_stacks(self) -> list[StackListItem]:
        stacks = local_store.list_stacks(self.local)
        if not any(stack.is_active for stack in stacks):
            return self.fallback().list_stacks()  # ZenML repairs a missing active stack
        return stacks

    @_or_zenml
    def active_stack(self) -> StackInfo:
        stack = local_store.active_stack(self.local)
        return stack if stack is not None else self.fallback().active_stack()

    def mark_interrupted(self, exec_id: str, message: str) -> None:
        self.fallback().mark_interrupted(exec_id, message)

    def mark_cancelled(self, exec_id: str) -> None:
        self.fallback().mark_cancelled(exec_id)

    def stop_run(self, exec_id: str, reason: str) -> None:
        self.fallback().stop_run(exec_id, reason)

    def mark_retried(self, exec_id: str, new_exec_id: str) -> None:
        self.fallback().mark_retried(exec_id, new_exec_id)

    def change_source(self) -> LocalChanges:
        return LocalChanges(self.local)

    def keeps_cache_of(self, zen_store: Any) -> bool:
        # Only ZenML's store on this very file: the lookup answers with ZenML's rows and the
        # record writes through ZenML's engine, so both must mean the same database.
        file = sqlite_file(zen_store)
        return file is not None and _same_file(Path(file), self.local.database)

    def cached_step_run(
        self, zen_store: Any, cache_key: str, project_id: UUID
    ) -> CachedStepRun | AskZenML | None:
        if not self.keeps_cache_of(zen_store):
            return ASK_ZENML
        return lookup(sqlite_engine(zen_store), cache_key, project_id)

    def record_cache_hit(self, zen_store: Any, request: Any) -> Any | None:
        from kitaru_core.backend import cache_record

        if not (self.keeps_cache_of(zen_store) and cache_record.applies(request)):
            return None
        return cache_record.record(zen_store, request)

    def record_call_start(self, zen_store: Any, request: Any) -> Any | None:
        from kitaru_core.backend import step_record

        if not (self._records_calls_of(zen_store) and step_record.is_plain_start(request)):
            return None
        return step_record.create(zen_store, request)

    def record_call_completion(self, zen_store: Any, running: Any, update: Any) -> Any | None:
        from kitaru_core.backend import step_record

        if not (self._records_calls_of(zen_store) and step_record.is_plain_success(update)):
            return None
        return step_record.complete(zen_store, running, update)

    def record_output(self, zen_store: Any, request: Any) -> Any | None:
        from kitaru_core.backend import artifact_record, cache_record

        if not (self._records_calls_of(zen_store) and artifact_record.applies(request)):
            return None
        try:
            user = cache_record.active_user(zen_store)
        except Exception:  # ZenML's method finds (or explains) the user
            return None
        return artifact_record.record(zen_store, request, user)

    def _records_calls_of(self, zen_store: Any) -> bool:
        # Not with resource pools: ZenML's methods release a step's resources, these do not.
        return self.keeps_cache_of(zen_store) and not getattr(
            zen_store, "resource_pools_enabled", True
        )

    def waits_for_answers(self, exec_id: str) -> LocalWaits | None:
        from kitaru_core.backend.local_waits import for_answers

        return for_answers(exec_id)

    @_or_zenml
    def project_name(self) -> str | None:
        return local_store.project_name(self.local)

    def local_database(self) -> str | None:
        return str(self.local.database)


def _same_file(first: Path, second: Path) -> bool:
    if first == second:
        return True
    try:  # the same file by another path (a symlink, a relative URL)
        return os.path.samefile(first, second)
    except OSError:
        return False


def _run_id(exec_id: str) -> str:
    return local_store.parse_exec_id(exec_id).hex


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None


def _run_row(row: sqlite3.Row, metadata: dict[str, Any], *, detail: bool = False) -> RunRow:
    extra: dict[str, Any] = {
        ORIGINAL_KEY: row["original_exec_id"],
        LOCAL_LOGS_KEY: row["local_logs"],
    }
    if detail:
        extra[SPEC_KEY] = _json(row["frozen_spec"])
    return RunRow(
        exec_id=str(UUID(row["id"])),
        name=row["name"],
        flow=row["pipeline_name"],
        status=row["status"],
        status_reason=row["status_reason"],
        created=timestamp(row["created"]),
        started_at=timestamp(row["start_time"]),
        ended_at=timestamp(row["end_time"]),
        stack=row["stack_name"],
        wait_pending=bool(row["wait_pending"]),
        extra={key: value for key, value in extra.items() if value is not None},
        metadata=metadata,
        exception_info=_json(row["exception_info"]) if detail else None,
    )


def _status_condition(status: ExecutionStatus, params: dict[str, Any]) -> str:
    """Filter on the public status, as ``views.public_status`` computes it."""
    wanted = in_list("st_", zenml_values(status), params)
    if status == ExecutionStatus.RUNNING:
        return f"(r.status IN ({wanted}) AND NOT {_PENDING_WAIT})"
    if status == ExecutionStatus.WAITING:
        running = in_list("rn_", zenml_values(ExecutionStatus.RUNNING), params)
        return f"(r.status IN ({wanted}) OR (r.status IN ({running}) AND {_PENDING_WAIT}))"
    return f"r.status IN ({wanted})"


def _metadata(
    db: sqlite3.Connection, resource_type: str, ids: list[str], *, key: str | None = None
) -> dict[str, dict[str, Any]]:
    """Resource id → metadata key → value, resolved the way ZenML does: the latest entry of a
    key wins, and entries that are all dicts are merged oldest to newest."""
    if not ids:
        return {}
    params: dict[str, Any] = {"type": resource_type, "key": key}
    resources = in_list("res_", ids, params)
    rows = db.execute(
        "SELECT rr.resource_id, m.key, m.value FROM run_metadata m "
        "JOIN run_metadata_resource rr ON rr.run_metadata_id = m.id "
        f"WHERE rr.resource_type = :type AND rr.resource_id IN ({resources}) "
        "AND (:key IS NULL OR m.key = :key) ORDER BY m.created",
        params,
    ).fetchall()
    entries: dict[str, dict[str, list[Any]]] = {}
    for row in rows:
        per_key = entries.setdefault(row["resource_id"], {})
        per_key.setdefault(row["key"], []).append(json.loads(row["value"]))
    return {
        resource: {name: _resolve(values) for name, values in per_key.items()}
        for resource, per_key in entries.items()
    }


def _resolve(values: list[Any]) -> Any:
    if all(isinstance(value, dict) for value in values):
        merged: dict[str, Any] = {}
        for value in values:
            merged.update(value)
        return merged
    return values[-1]


def _outputs(db: sqlite3.Connection, step_ids: list[str]) -> dict[str, list[OutputRow]]:
    if not step_ids:
        return {}
    params: dict[str, Any] = {}
    steps = in_list("step_", step_ids, params)
    rows = db.execute(
        "SELECT o.step_id, o.name, o.artifact_id, av.type FROM step_run_output_artifact o "
        f"JOIN artifact_version av ON av.id = o.artifact_id WHERE o.step_id IN ({steps})",
        params,
    ).fetchall()
    found: dict[str, list[OutputRow]] = {}
    for row in rows:
        output = OutputRow(
            name=row["name"], artifact_id=str(UUID(row["artifact_id"])), type=row["type"]
        )
        found.setdefault(row["step_id"], []).append(output)
    return found
