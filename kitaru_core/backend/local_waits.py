"""Answering a wait on the local SQLite store without importing ZenML.

``kitaru executions input`` used to import ZenML (~1.2 s) and open its store (~1.2 s) to change
one row. On the local store (see :mod:`kitaru_core.backend.local_store` for when that applies)
:class:`LocalWaits` reads the wait conditions with ``sqlite3`` and records an answer in one
write transaction, setting exactly the columns ZenML's ``resolve_run_wait_condition`` sets. The
rules (validation, idempotency, state errors) stay in ``services/executions.py``, which drives
this class and the ZenML module :mod:`kitaru_core.backend.waits` through the same calls.

Only flows loaded from a file qualify: a flow defined in an interactive session needs the
session checks of ``runtime/interactive.py``, which go through ZenML.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from kitaru_core.backend.local_store import LocalStore, open_local, parse_exec_id
from kitaru_core.errors import KitaruNotFoundError, KitaruStateError
from kitaru_core.hints import NOT_WAITING, PENDING_WAITS
from kitaru_core.naming import INTERACTIVE_KEY

PENDING = "pending"
# ZenML looks the answering user up by this name on a store it reaches directly.
_DEFAULT_USER_ENV = "ZENML_DEFAULT_USER_NAME"
_DEFAULT_USER = "default"


class Condition(Protocol):
    """What :func:`pick_condition` needs of a wait condition (ZenML's or :class:`LocalWait`)."""

    @property
    def name(self) -> str: ...

    @property
    def status(self) -> Any: ...


@dataclass(frozen=True)
class LocalWait:
    """A wait condition row, with the attribute names of ZenML's response model."""

    id: str  # hex, as stored
    name: str
    status: str
    data_schema: dict[str, Any] | None
    resolution: str | None
    result: Any
    poller_lease_expires_at: datetime | None
    run_status: str  # ZenML's status of the run (``running``, ``paused``, …)


C = TypeVar("C", bound=Condition)


def pick_condition(conditions: Sequence[C], exec_id: str, wait: str | None, *, pending: Any) -> C:
    """The named wait among an execution's ``conditions`` (oldest first, any state); ``None``
    picks the first pending one. One rule for both paths (``waits.find_condition``)."""
    if wait is None:
        for condition in conditions:
            if condition.status == pending:
                return condition
        raise KitaruStateError(
            f"Execution {exec_id} is not waiting for input.",
            hint=NOT_WAITING,
            details={"exec_id": exec_id},
        )
    for condition in reversed(conditions):
        if condition.name == wait:
            return condition
    names = sorted({c.name for c in conditions})
    raise KitaruNotFoundError(
        f"Execution {exec_id} has no wait named '{wait}'.",
        hint=f"Its waits: {', '.join(names) or 'none'}.",
        details={"exec_id": exec_id, "wait": wait, "available": names},
    )


def poller_active(expires: datetime | None, run_status: str | None) -> bool:
    """Whether a worker polls the wait: its lease (a naive time means UTC, as ZenML stores
    it) is live, or it has not taken one yet (no lease at all) while its run is running.

    A worker records the wait before its first lease (on a busy machine seconds before), and
    its run stays ``running`` until it gives up and releases the lease; a worker that died
    meanwhile is caught by the crash check before an answer gets here.
    """
    if expires is None:
        return run_status == "running"
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return expires > datetime.now(UTC)


def for_answers(exec_id: str) -> LocalWaits | None:
    """:class:`LocalWaits` for answering ``exec_id``, or ``None`` where ZenML must do it: not
    the local store (or not its schema version), a flow defined outside a file, an unknown
    execution, or SQLite failing. (A crashed execution was marked failed by the read that
    precedes every answer, ``services/executions.get``.)"""
    store = open_local()
    if store is None:
        return None
    try:
        with store.connect() as db:
            row = db.execute(_FILE_LESS, (parse_exec_id(exec_id).hex,)).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None or row[0] is not None else LocalWaits(store)


_FILE_LESS = (
    "SELECT json_extract(COALESCE(s.pipeline_configuration, r.pipeline_configuration), "
    f"'$.extra.{INTERACTIVE_KEY}') FROM pipeline_run r "
    "LEFT JOIN pipeline_snapshot s ON s.id = r.snapshot_id WHERE r.id = ?"
)
_CONDITION_COLUMNS = (
    "w.id, w.name, w.status, w.data_schema_json, w.resolution, w.result_json, "
    "w.poller_lease_expires_at, r.status"
)
_CONDITIONS = "run_wait_condition w JOIN pipeline_run r ON r.id = w.run_id"


class LocalWaits:
    """The wait operations of an answer, on the local store (the ZenML path's counterpart is
    the module :mod:`kitaru_core.backend.waits`; the two take the same calls)."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def list_conditions(self, exec_id: str, *, pending: bool = True) -> list[LocalWait]:
        """The execution's wait conditions, oldest first (only pending ones by default)."""
        with self.store.connect() as db:
            return _conditions(db, parse_exec_id(exec_id).hex, pending=pending)

    def find_condition(self, exec_id: str, wait: str | None) -> LocalWait:
        """The named wait of an execution (any state); ``None`` picks the pending one."""
        conditions = self.list_conditions(exec_id, pending=False)
        return pick_condition(conditions, exec_id, wait, pending=PENDING)

    @staticmethod
    def is_pending(condition: LocalWait) -> bool:
        return condition.status == PENDING

    @staticmethod
    def answered_with(condition: LocalWait) -> tuple[str | None, Any]:
        """``(resolution, result)`` of a resolved condition."""
        return condition.resolution, condition.result

    @staticmethod
    def has_active_poller(condition: LocalWait) -> bool:
        """Whether a worker is polling this wait right now (it will continue by itself)."""
        return poller_active(condition.poller_lease_expires_at, condition.run_status)

    def resolve(self, condition: LocalWait, *, value: Any = None) -> LocalWait | None:
        """Record ``value`` as the answer, durably; ``None`` once done. When another caller
        resolved the wait first, nothing changes and the condition as they left it is
        returned (as ``waits.resolve`` does). The value was validated by the caller."""
        with _one_answer_at_a_time(self.store), _writing(self.store) as db:
            fresh = _condition(db, condition.id)
            if fresh.status != PENDING:
                return fresh
            now = _stored_time(datetime.now(UTC))
            db.execute(
                "UPDATE run_wait_condition SET status = 'resolved', resolution = 'continue', "
                "result_json = ?, resolved_at = ?, resolved_by_user_id = ?, updated = ? "
                "WHERE id = ? AND status = 'pending'",
                (_result_json(value), now, _answering_user(db), now, condition.id),
            )
        return None


def _conditions(db: sqlite3.Connection, run_id: str, *, pending: bool) -> list[LocalWait]:
    where = "w.run_id = ? AND w.status = 'pending'" if pending else "w.run_id = ?"
    rows = db.execute(
        f"SELECT {_CONDITION_COLUMNS} FROM {_CONDITIONS} WHERE {where} ORDER BY w.created, w.id",
        (run_id,),
    ).fetchall()
    return [_to_wait(row) for row in rows]


def _condition(db: sqlite3.Connection, condition_id: str) -> LocalWait:
    row = db.execute(
        f"SELECT {_CONDITION_COLUMNS} FROM {_CONDITIONS} WHERE w.id = ?", (condition_id,)
    ).fetchone()
    if row is None:  # deleted with its run between the read and the answer
        raise KitaruNotFoundError(
            "The wait disappeared before it could be answered (its execution was deleted).",
            hint=PENDING_WAITS,
        )
    return _to_wait(row)


def _to_wait(row: Sequence[Any]) -> LocalWait:
    condition_id, name, status, schema, resolution, result, expires, run_status = row
    return LocalWait(
        id=str(condition_id),
        name=str(name),
        status=str(status),
        data_schema=json.loads(schema) if schema else None,
        resolution=resolution,
        result=json.loads(result) if result is not None else None,
        poller_lease_expires_at=datetime.fromisoformat(expires) if expires else None,
        run_status=str(run_status),
    )


def _result_json(value: Any) -> str | None:
    # As ZenML: no stored result for a gate's answer (None); JSON text otherwise.
    return json.dumps(value) if value is not None else None


def _stored_time(moment: datetime) -> str:
    """A time as ZenML's SQLite columns hold it: naive UTC, always with microseconds."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _answering_user(db: sqlite3.Connection) -> str | None:
    """The user ZenML records for an answer given directly on the database: its default user."""
    name = os.environ.get(_DEFAULT_USER_ENV) or _DEFAULT_USER
    row = db.execute(
        "SELECT id FROM user WHERE name = ? AND is_service_account = 0", (name,)
    ).fetchone()
    return str(row[0]) if row else None


@contextlib.contextmanager
def _writing(store: LocalStore) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``: no other writer can slip in
    between the re-read and the update) and synced to disk on commit (``synchronous=FULL``:
    an accepted answer survives a crash or a power cut)."""
    db = sqlite3.connect(store.database, timeout=30.0, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


@contextlib.contextmanager
def _one_answer_at_a_time(store: LocalStore) -> Iterator[None]:
    """The lock file the ZenML path takes around an answer (``waits._one_answer_at_a_time``),
    so that an answer given here and one given through ZenML are serialized as well."""
    with open(f"{store.database}.kitaru-answers.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield
