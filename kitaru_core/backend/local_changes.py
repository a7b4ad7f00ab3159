"""Cheap change detection on the local SQLite store, without importing ZenML.

Two levels, so that watching an idle store costs almost nothing:

* :func:`file_signature` — the database file's (and its WAL's) size and modification time: two
  ``stat`` calls. Every committed write changes it, so an unchanged signature means nothing
  changed and no query is needed.
* :func:`execution_marks` — one query giving, for each execution that may be changing, a small
  "mark" (its status, how many checkpoint calls exist and have finished, and its wait
  conditions with their statuses). Two marks differ exactly when something a client watching
  the execution cares about changed. Heartbeats and wait polling (``last_polled_at``) write
  to the store too, but leave every mark as it was.

:class:`LocalChanges` is the pair as ``SQLiteStore.change_source`` hands it to the watcher
(``services/changes.py``), which compares the marks.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from kitaru_core.backend.local_store import LocalStore, in_list
from kitaru_core.backend.status import ACTIVE

# ZenML statuses of runs that can still change by themselves (besides ACTIVE): a paused run
# waits for input, retrying and cancelling ones are on their way elsewhere.
_LIVE = sorted(ACTIVE | {"paused", "retrying", "cancelling"})
# Rows written less than this long before the previous poll are read again: ZenML stamps
# ``updated`` before it commits, so a row may become visible a little after its timestamp.
_SETTLE = timedelta(seconds=5)


class StoreUnreadable(Exception):
    """The database cannot be read right now (replaced, or being migrated): try again later."""


@dataclass(frozen=True)
class ExecutionMark:
    """What a watcher compares between two polls for one execution."""

    status: str
    calls: int
    finished_calls: int
    waits: str  # "<wait id>:<status>" of each wait condition, in creation order

    @property
    def live(self) -> bool:
        """Whether the execution may still change without a new run being written."""
        return self.status in _LIVE or ":pending" in self.waits


@dataclass(frozen=True)
class LocalChanges:
    """What a watcher polls on the local store: its file's signature, then the marks."""

    store: LocalStore

    def signature(self) -> tuple[int, ...]:
        """See :func:`file_signature`."""
        return file_signature(self.store)

    def marks(self, *, known: Collection[str], since: datetime) -> dict[str, ExecutionMark]:
        """See :func:`execution_marks` (raises :class:`StoreUnreadable` likewise)."""
        return execution_marks(self.store, known=known, since=since)


def file_signature(store: LocalStore) -> tuple[int, ...]:
    """Size and modification time of the database and its write-ahead log (if any)."""
    found: list[int] = []
    for path in (store.database, store.database.with_name(store.database.name + "-wal")):
        try:
            stat = os.stat(path)
        except OSError:
            found += [-1, -1]
        else:
            found += [stat.st_size, stat.st_mtime_ns]
    return tuple(found)


def stored_time(moment: datetime) -> str:
    """``moment`` in the form ZenML stores times in SQLite (naive UTC), for comparisons."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def execution_marks(
    store: LocalStore, *, known: Collection[str], since: datetime
) -> dict[str, ExecutionMark]:
    """Marks of the executions that are live, were ``known`` (live at the previous poll), or
    had a run, checkpoint call or wait written since ``since`` (minus a settling margin).

    Keys are exec_ids in their public form (UUID with dashes). Raises
    :class:`StoreUnreadable` when the database cannot be read right now.
    """
    params: dict[str, Any] = {
        "project": store.project_id,
        "since": stored_time(since - _SETTLE),
    }
    live = in_list("live_", _LIVE, params)
    known_ids = in_list("known_", [UUID(exec_id).hex for exec_id in known], params) or "NULL"
    query = f"""
        SELECT r.id, r.status,
               (SELECT COUNT(*) FROM step_run sr
                 WHERE sr.pipeline_run_id = r.id AND sr.status != 'retried') AS calls,
               (SELECT COUNT(*) FROM step_run sr
                 WHERE sr.pipeline_run_id = r.id
                   AND sr.status IN ('completed', 'cached', 'failed')) AS finished_calls,
               (SELECT COALESCE(group_concat(w.id || ':' || w.status, ','), '')
                  FROM (SELECT id, status FROM run_wait_condition
                         WHERE run_id = r.id ORDER BY created, id) w) AS waits
        FROM pipeline_run r
        WHERE r.project_id = :project AND (
            r.status IN ({live})
            OR r.id IN ({known_ids})
            OR r.updated >= :since
            OR EXISTS (SELECT 1 FROM step_run sr
                        WHERE sr.pipeline_run_id = r.id AND sr.updated >= :since)
            OR EXISTS (SELECT 1 FROM run_wait_condition w
                        WHERE w.run_id = r.id AND (w.status = 'pending' OR w.updated >= :since))
        )
    """
    try:
        with store.connect() as db:
            rows = db.execute(query, params).fetchall()
    except sqlite3.Error as exc:
        raise StoreUnreadable(str(exc)) from exc
    return {
        str(UUID(row["id"])): ExecutionMark(
            status=row["status"],
            calls=row["calls"],
            finished_calls=row["finished_calls"],
            waits=row["waits"],
        )
        for row in rows
    }
