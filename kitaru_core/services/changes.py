"""What changed in the store since the last look: the rule behind live execution updates.

An execution "changed" when its status changed, a checkpoint call started or finished, or one
of its waits opened or closed. :class:`ChangeTracker` answers that by polling: a ``stat`` of the
database file first (nothing written → nothing to do), then one query whose per-execution marks
are compared with the previous poll's. That is the local SQLite store; on any other store (a
server connection) :class:`ServerChangeTracker` asks the backend instead, every
:data:`SERVER_POLL_SECONDS`, for what was written since its previous question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru_core.backend.local_changes import ExecutionMark
    from kitaru_core.backend.local_store import LocalStore
    from kitaru_core.backend.server_changes import Touched

# A server is asked every this many seconds: each question is three list calls over the
# network, so not four times a second as the local file is looked at.
SERVER_POLL_SECONDS = 2.0
# Rows stamped this long before the previous answer are asked for again: a row may commit a
# little after its ``updated`` time, and the filter only has whole seconds.
_SERVER_SETTLE = timedelta(seconds=5)
# The first question reaches this far back: tolerates a server clock a little behind ours.
_FIRST_LOOKBACK = timedelta(minutes=1)
# Statuses after which a run or checkpoint call changes no more (waits: anything not pending).
_FINAL = frozenset({"completed", "cached", "failed", "cancelled", "stopped", "skipped", "retried"})


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

    # The least pause between two polls this store asks for (0: the watcher's own pace).
    poll_seconds: float = 0.0
    _store: LocalStore | None = None
    _server: ServerChangeTracker | None = None
    _signature: tuple[int, ...] | None = None
    _marks: dict[str, ExecutionMark] | None = None
    _since: datetime = field(default_factory=lambda: datetime.now(UTC))

    def poll(self) -> Changes | None:
        """What changed since the previous poll; ``None`` when the store cannot be watched
        (not the local store, or it cannot be read right now)."""
        from kitaru_core.backend import local_changes

        if self._server is not None:
            return self._server.poll()
        store = self._store or self._open()
        if store is None:
            if not self._is_remote():
                return None  # a local store that cannot be read right now: try again later
            self._server = ServerChangeTracker()
            self.poll_seconds = self._server.poll_seconds
            return self._server.poll()
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
        except local_changes.StoreUnreadable:
            self._store = None  # replaced or being migrated: open it again next time
            return None
        previous, self._marks = self._marks, marks
        self._signature, self._since = signature, now
        return Changes() if previous is None else _diff(previous, marks)

    @staticmethod
    def _is_remote() -> bool:
        """Whether the store is one the SQLite watcher cannot read (a server connection)."""
        from kitaru_core.backend import local_store

        try:
            return local_store.local_database() is None
        except Exception:  # a configuration problem: the tools report it properly
            return False

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


@dataclass
class ServerChangeTracker:
    """Polls a store through the backend (a server connection) for changed executions: what
    was written since the previous poll, compared by status with what was seen before. Not
    thread-safe: one poller at a time. The first poll only records what it sees."""

    poll_seconds: float = SERVER_POLL_SECONDS
    # (kind, id) -> (status, exec_id) of every row seen and not yet forgotten.
    _seen: dict[tuple[str, str], tuple[str, str]] | None = None
    _since: datetime | None = None

    def poll(self) -> Changes | None:
        """What changed since the previous poll; ``None`` when the store cannot be asked."""
        from kitaru_core.backend import server_changes
        from kitaru_core.errors import KitaruError

        start = self._since or datetime.now(UTC) - _FIRST_LOOKBACK
        try:
            touched = server_changes.touched_since(start - _SERVER_SETTLE)
        except KitaruError:  # unreachable or misconfigured: the tools say why
            return None
        first, seen = self._seen is None, dict(self._seen or {})
        changed: set[str] = set()
        waits = False
        for row in touched:
            before = seen.get((row.kind, row.id))
            if before is not None and before[0] == row.status:
                continue  # rewritten (a heartbeat, a poll of the wait) but not changed
            seen[(row.kind, row.id)] = (row.status, row.exec_id)
            changed.add(row.exec_id)
            # The pending-waits list changes when a wait opens or closes, or when the
            # execution of a pending wait changes status (it lists waiting executions only).
            if row.kind == "wait" or (
                row.kind == "execution" and _has_pending_wait(seen, row.exec_id)
            ):
                waits = True
        self._seen = _forget_settled(seen, touched)
        self._since = max((row.updated for row in touched), default=start)
        return Changes() if first else Changes(executions=frozenset(changed), waits=waits)


def _has_pending_wait(seen: dict[tuple[str, str], tuple[str, str]], exec_id: str) -> bool:
    return any(
        kind == "wait" and status == "pending" and owner == exec_id
        for (kind, _), (status, owner) in seen.items()
    )


def _forget_settled(
    seen: dict[tuple[str, str], tuple[str, str]], touched: list[Touched]
) -> dict[tuple[str, str], tuple[str, str]]:
    """Keep what may still change or was just answered (it is asked for again once more,
    within the settling margin); forget finished rows that left the window."""
    recent = {(row.kind, row.id) for row in touched}
    return {
        key: value for key, value in seen.items() if key in recent or not _settled(key[0], value[0])
    }


def _settled(kind: str, status: str) -> bool:
    return status != "pending" if kind == "wait" else status in _FINAL
