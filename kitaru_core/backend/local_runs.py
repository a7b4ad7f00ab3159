"""Executions read straight from the local SQLite store, without importing ZenML: list, get,
pending waits and checkpoint call ids (see :mod:`kitaru_core.backend.local_store` for when
this applies). Each answer is built by the same view builders as the ZenML path
(``execution_views.py``), and ``tests/test_local_store.py`` compares the two on a real store.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC
from typing import Any
from uuid import UUID

from kitaru_core.backend.execution_views import (
    checkpoint_call,
    checkpoint_failure,
    flow_failure,
    user_metadata,
)
from kitaru_core.backend.local_store import (
    LocalStore,
    hex_id,
    in_list,
    not_found,
    parse_exec_id,
    timestamp,
)
from kitaru_core.backend.status import ACTIVE, STATUS_MAP, zenml_values
from kitaru_core.models import (
    ArtifactRef,
    CheckpointCall,
    Execution,
    ExecutionStatus,
    Failure,
    PendingWait,
    WaitInfo,
)
from kitaru_core.runtime import liveness
from kitaru_core.runtime.naming import (
    LOCAL_LOGS_KEY,
    ORIGINAL_KEY,
    RESULT_KEY,
    SPEC_KEY,
    user_text,
)

_PENDING_WAIT = (
    "EXISTS (SELECT 1 FROM run_wait_condition w WHERE w.run_id = r.id AND w.status = 'pending')"
)
# One row per run with what an execution summary shows. A run's configuration, stack and
# pipeline come from its snapshot when it has one (as in ZenML's own response model).
_RUN_COLUMNS = f"""
    r.id, r.name, r.status, r.status_reason, r.start_time, r.end_time, r.created,
    COALESCE(p_snap.name, p_run.name) AS pipeline_name,
    st.name AS stack_name,
    json_extract(COALESCE(s.pipeline_configuration, r.pipeline_configuration),
                 '$.extra.' || :original_key) AS original_exec_id,
    json_extract(COALESCE(s.pipeline_configuration, r.pipeline_configuration),
                 '$.extra.' || :local_logs_key) AS local_logs,
    {_PENDING_WAIT} AS wait_pending
"""
# The configuration keys the run columns read.
_KEYS = {"original_key": ORIGINAL_KEY, "local_logs_key": LOCAL_LOGS_KEY}
# What the run columns read besides the run itself.
_RUN_LINKS = """
    LEFT JOIN pipeline_snapshot s ON s.id = r.snapshot_id
    LEFT JOIN pipeline p_snap ON p_snap.id = s.pipeline_id
    LEFT JOIN pipeline p_run ON p_run.id = r.pipeline_id
    LEFT JOIN stack st ON st.id = COALESCE(s.stack_id, r.stack_id)
"""
_RUN_JOINS = "FROM pipeline_run r " + _RUN_LINKS


def list_runs(
    store: LocalStore,
    *,
    flow: str | None,
    status: ExecutionStatus | None,
    stack: str | None,
    offset: int,
    size: int,
) -> tuple[list[Execution], bool] | None:
    """A page of executions, newest first: ``(items, has_more)``.

    ``None`` when an execution on the page looks crashed: marking it failed is a write, which
    the ZenML path does (it then shows it failed).
    """
    where, params = _run_filters(store, flow=flow, status=status, stack=stack)
    query = (
        f"SELECT {_RUN_COLUMNS} {_RUN_JOINS} WHERE {' AND '.join(where)} "
        "ORDER BY r.created DESC, r.id DESC LIMIT :limit OFFSET :offset"
    )
    params.update(limit=size + 1, offset=offset)
    with store.connect() as db:
        rows = db.execute(query, params).fetchall()
        page = rows[:size]
        if any(_looks_crashed(row) for row in page):
            return None
        results = _run_metadata(db, [row["id"] for row in page], RESULT_KEY)
    items = [_summary(row, results.get(row["id"])) for row in page]
    return items, len(rows) > size


def _run_filters(
    store: LocalStore, *, flow: str | None, status: ExecutionStatus | None, stack: str | None
) -> tuple[list[str], dict[str, Any]]:
    where = ["r.project_id = :project"]
    params: dict[str, Any] = {"project": store.project_id, **_KEYS}
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


def _status_condition(status: ExecutionStatus, params: dict[str, Any]) -> str:
    """Filter on the public status, as :func:`_public_status` computes it."""
    wanted = in_list("st_", zenml_values(status), params)
    if status == ExecutionStatus.RUNNING:
        return f"(r.status IN ({wanted}) AND NOT {_PENDING_WAIT})"
    if status == ExecutionStatus.WAITING:
        running = in_list("rn_", zenml_values(ExecutionStatus.RUNNING), params)
        return f"(r.status IN ({wanted}) OR (r.status IN ({running}) AND {_PENDING_WAIT}))"
    return f"r.status IN ({wanted})"


def _public_status(row: sqlite3.Row) -> ExecutionStatus:
    # A worker polling a wait() keeps its run RUNNING with a pending wait condition (SPEC §1.2).
    status = STATUS_MAP[row["status"]]
    if status == ExecutionStatus.RUNNING and row["wait_pending"]:
        return ExecutionStatus.WAITING
    return status


def _looks_crashed(row: sqlite3.Row) -> bool:
    """The same check as the ZenML path's crash detection (``recovery.reconcile``)."""
    if row["status"] not in ACTIVE or not row["local_logs"]:
        return False
    created = timestamp(row["created"])
    reason = liveness.death_reason(
        str(UUID(row["id"])),
        created=created.replace(tzinfo=UTC).timestamp() if created else None,
        resuming=row["status"] == "resuming",
    )
    return reason is not None


def _run_metadata(db: sqlite3.Connection, run_ids: list[str], key: str) -> dict[str, Any]:
    """``key``'s value for each run that has it."""
    found = _metadata(db, "pipeline_run", run_ids, key=key)
    return {run_id: values[key] for run_id, values in found.items()}


def _metadata_of(db: sqlite3.Connection, resource_type: str, resource_id: str) -> dict[str, Any]:
    """All metadata of one resource (a run, a wait condition, …)."""
    return _metadata(db, resource_type, [resource_id]).get(resource_id, {})


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


def _summary(row: sqlite3.Row, result: Any) -> Execution:
    status = _public_status(row)
    record = result if isinstance(result, dict) else {}
    reason = row["status_reason"]
    return Execution(
        exec_id=str(UUID(row["id"])),
        flow=user_text(row["pipeline_name"] or row["name"]),
        status=status,
        status_reason=user_text(reason) if reason else None,
        started_at=timestamp(row["start_time"]),
        ended_at=timestamp(row["end_time"]),
        stack=row["stack_name"],
        result=record.get("preview") if status == ExecutionStatus.COMPLETED else None,
        original_exec_id=row["original_exec_id"],
    )


def run_state(store: LocalStore, exec_id: str) -> tuple[ExecutionStatus, dict[str, Any]] | None:
    """An execution's public status and its result record (``{}`` until it has one), or
    ``None`` when it looks crashed (the ZenML path marks it)."""
    run_id = parse_exec_id(exec_id).hex
    with store.connect() as db:
        row = db.execute(
            f"SELECT {_RUN_COLUMNS} {_RUN_JOINS} WHERE r.id = :run", {"run": run_id, **_KEYS}
        ).fetchone()
        if row is None:
            raise not_found(exec_id)
        if _looks_crashed(row):
            return None
        record = _run_metadata(db, [run_id], RESULT_KEY).get(run_id)
    return _public_status(row), record if isinstance(record, dict) else {}


def get_execution(store: LocalStore, exec_id: str) -> Execution | None:
    """One execution in full, or ``None`` when it looks crashed (the ZenML path marks it)."""
    run_id = parse_exec_id(exec_id).hex
    params = {"run": run_id, "spec_key": SPEC_KEY, **_KEYS}
    with store.connect() as db:
        row = db.execute(
            f"SELECT {_RUN_COLUMNS}, r.exception_info, "
            "json_extract(COALESCE(s.pipeline_configuration, r.pipeline_configuration), "
            "'$.extra.' || :spec_key) AS frozen_spec "
            f"{_RUN_JOINS} WHERE r.id = :run",
            params,
        ).fetchone()
        if row is None:
            raise not_found(exec_id)
        if _looks_crashed(row):
            return None
        steps = _steps(db, run_id)
        status = _public_status(row)
        pending = _pending_wait(db, run_id) if status == ExecutionStatus.WAITING else None
        run_metadata = _metadata_of(db, "pipeline_run", run_id)
    result = run_metadata.get(RESULT_KEY)
    failure = None
    if status == ExecutionStatus.FAILED:
        failure = _failure(row, steps)
    summary = _summary(row, result)
    return summary.model_copy(
        update={
            "checkpoints": [call for call, _ in steps.values()],
            "pending_wait": pending,
            "failure": failure,
            "frozen_spec": json.loads(row["frozen_spec"]) if row["frozen_spec"] else {},
            "metadata": user_metadata(run_metadata),
        }
    )


def _steps(db: sqlite3.Connection, run_id: str) -> dict[str, tuple[CheckpointCall, Any]]:
    """The run's checkpoint calls by invocation id (latest attempt each, retried ones left
    out), with each one's stored exception info. A step's configuration is its own (dynamic
    flows) or its snapshot's (compiled ones)."""
    rows = db.execute(
        """
        SELECT sr.id, sr.name, sr.status, sr.version, sr.start_time, sr.end_time,
               sr.exception_info,
               COALESCE(
                   json_extract(COALESCE(dyn.config, stat.config),
                                '$.step_config_overrides.extra'),
                   json_extract(COALESCE(dyn.config, stat.config), '$.config.extra')
               ) AS extra
        FROM step_run sr
        LEFT JOIN step_configuration dyn ON dyn.step_run_id = sr.id
        LEFT JOIN step_configuration stat
               ON stat.snapshot_id = sr.snapshot_id AND stat.name = sr.name
        WHERE sr.pipeline_run_id = :run AND sr.status != 'retried'
        ORDER BY sr.created, sr.id
        """,
        {"run": run_id},
    ).fetchall()
    outputs = _outputs(db, [row["id"] for row in rows])
    # Every call shows what the user logged; llm_call ones also their usage and cost.
    metadata = _metadata(db, "step_run", [row["id"] for row in rows])
    steps: dict[str, tuple[CheckpointCall, Any]] = {}
    for row in rows:
        call = checkpoint_call(
            row["name"],
            extra=json.loads(row["extra"]) if row["extra"] else {},
            status=row["status"],
            attempts=row["version"],
            started_at=timestamp(row["start_time"]),
            ended_at=timestamp(row["end_time"]),
            outputs=outputs.get(row["id"], []),
            metadata=metadata.get(row["id"]),
        )
        info = json.loads(row["exception_info"]) if row["exception_info"] else None
        steps[row["name"]] = (call, (row["status"], info))
    return steps


def _outputs(db: sqlite3.Connection, step_ids: list[str]) -> dict[str, list[ArtifactRef]]:
    if not step_ids:
        return {}
    params: dict[str, Any] = {}
    steps = in_list("step_", step_ids, params)
    rows = db.execute(
        "SELECT o.step_id, o.name, o.artifact_id, av.type FROM step_run_output_artifact o "
        f"JOIN artifact_version av ON av.id = o.artifact_id WHERE o.step_id IN ({steps})",
        params,
    ).fetchall()
    found: dict[str, list[ArtifactRef]] = {}
    for row in rows:
        ref = ArtifactRef(
            artifact_id=str(UUID(row["artifact_id"])), name=row["name"], type=row["type"]
        )
        found.setdefault(row["step_id"], []).append(ref)
    return found


def _failure(row: sqlite3.Row, steps: dict[str, tuple[CheckpointCall, Any]]) -> Failure:
    run_info = json.loads(row["exception_info"]) if row["exception_info"] else None
    for invocation_id, (_, (status, info)) in steps.items():
        if status == "failed":
            return checkpoint_failure(invocation_id, info, run_info)
    reason = row["status_reason"]
    return flow_failure(run_info, user_text(reason) if reason else None)


def _pending_wait(db: sqlite3.Connection, run_id: str) -> PendingWait | None:
    row = db.execute(
        f"SELECT {_WAIT_COLUMNS} FROM run_wait_condition w "
        "WHERE w.run_id = :run AND w.status = 'pending' ORDER BY w.created, w.id LIMIT 1",
        {"run": run_id},
    ).fetchone()
    return None if row is None else _to_pending_wait(db, row)


_WAIT_COLUMNS = (
    "w.id AS wait_id, w.name AS wait_name, w.question, w.data_schema_json, "
    "w.created AS wait_created"
)


def _to_pending_wait(db: sqlite3.Connection, row: sqlite3.Row) -> PendingWait:
    schema = row["data_schema_json"]
    return PendingWait(
        name=row["wait_name"],
        question=row["question"],
        schema=json.loads(schema) if schema else None,
        metadata=_metadata_of(db, "wait_condition", row["wait_id"]),
        created_at=timestamp(row["wait_created"]),
    )


def list_waits(store: LocalStore) -> list[WaitInfo] | None:
    """Every pending wait of a waiting execution, oldest first; ``None`` when one of their
    executions looks crashed (the ZenML path marks it failed and leaves its wait out)."""
    with store.connect() as db:
        rows = db.execute(
            f"SELECT {_WAIT_COLUMNS}, {_RUN_COLUMNS} FROM run_wait_condition w "
            f"JOIN pipeline_run r ON r.id = w.run_id {_RUN_LINKS} "
            "WHERE w.status = 'pending' AND w.project_id = :project ORDER BY w.created, w.id",
            {"project": store.project_id, **_KEYS},
        ).fetchall()
        if any(_looks_crashed(row) for row in rows):
            return None
        return [
            WaitInfo(
                exec_id=str(UUID(row["id"])),
                flow=user_text(row["pipeline_name"] or row["name"]),
                **_to_pending_wait(db, row).model_dump(by_alias=True),
            )
            for row in rows
            if _public_status(row) == ExecutionStatus.WAITING
        ]


def call_ids(store: LocalStore, exec_id: str) -> set[str]:
    """The invocation ids of the execution's checkpoint calls (every attempt's)."""
    run_id = parse_exec_id(exec_id).hex
    with store.connect() as db:
        if db.execute("SELECT 1 FROM pipeline_run WHERE id = ?", (run_id,)).fetchone() is None:
            raise not_found(exec_id)
        rows = db.execute("SELECT name FROM step_run WHERE pipeline_run_id = ?", (run_id,))
        return {str(row[0]) for row in rows}
