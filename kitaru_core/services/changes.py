"""What changed in the store since the last look: the rule behind live execution updates.

An execution "changed" when its status changed, a checkpoint call started or finished, or one
of its waits opened or closed. :class:`ChangeTracker` answers that by polling: a ``stat`` of the
database file first (nothing written → nothing to do), then one query whose per-execution marks
are compared with the previous poll's. Only the local SQLite store supports this; on a server
connection :meth:`ChangeTracker.poll` reports ``None`` and nothing is watched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru_core.backend.local_changes import ExecutionMark
    from kitaru_core.backend.local_store import LocalStore


@dataclass(frozen=True)
class Changes:
    """The executions that changed since the previous poll, and whether any wait opened or
    closed (which changes the list of pending waits)."""

    executions: frozenset[str] = frozenset()
    waits: bool = False

    def __bool__(self) -> bool:
        return bool(self.executions) or self.waits


@dataclass
class ChangeTracker:
    """Polls the local store for changed executions. Not thread-safe: one poller at a time.

    The first poll only records the current state (there is nothing to compare it with).
    """

    _store: LocalStore | None = None
    _signature: tuple[int, ...] | None = None
    _marks: dict[str, ExecutionMark] | None = None
    _since: datetime = field(default_factory=lambda: datetime.now(UTC))

    def poll(self) -> Changes | None:
        """What changed since the previous poll; ``None`` when the store cannot be watched
        (not the local store, or it cannot be read right now)."""
        import sqlite3

        from kitaru_core.backend import local_changes

        store = self._store or self._open()
        if store is None:
            return None
        try:
            signature = local_changes.file_signature(store)
            if signature == self._signature:
                return Changes()
            now = datetime.now(UTC)
            marks = local_changes.execution_marks(
                store,
                known=[exec_id for exec_id, mark in (self._marks or {}).items() if mark.live],
                since=self._since,
            )
        except sqlite3.Error:
            self._store = None  # replaced or being migrated: open it again next time
            return None
        previous, self._marks = self._marks, marks
        self._signature, self._since = signature, now
        return Changes() if previous is None else _diff(previous, marks)

    def _open(self) -> LocalStore | None:
        from kitaru_core.backend import local_store

        try:
            self._store = local_store.open_local()
        except Exception:  # a configuration problem: the tools report it properly
            self._store = None
        return self._store


def _diff(before: dict[str, ExecutionMark], after: dict[str, ExecutionMark]) -> Changes:
    changed: set[str] = set()
    waits = False
    for exec_id, mark in after.items():
        old = before.get(exec_id)
        if old == mark:
            continue
        # An execution that left the polled window unchanged is not in ``after`` at all, so a
        # missing ``old`` means a new execution (or one written again after a quiet spell).
        changed.add(exec_id)
        old_waits = old.waits if old is not None else ""
        # A pending wait shows in the list only while its execution is waiting, so a status
        # change of an execution with a pending wait changes the list too.
        status_moved = old is not None and old.status != mark.status and ":pending" in mark.waits
        if mark.waits != old_waits or status_moved:
            waits = True
    return Changes(executions=frozenset(changed), waits=waits)
