"""What changed in the store since the last look: the rule behind live execution updates.

An execution "changed" when its status changed, a checkpoint call started or finished, or one
of its waits opened or closed. :class:`ChangeTracker` answers that by polling what the store
offers to watch (``ExecutionStore.change_source``). On the local store that is its file: a
``stat`` first (nothing written → nothing to do), then one query whose per-execution marks are
compared with the previous poll's. Through the backend's client (a server connection above all)
:class:`ServerChangeTracker` asks instead, every :data:`SERVER_POLL_SECONDS`, for what was
written since its previous question.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru_core.backend.local_changes import ExecutionMark, LocalChanges
    from kitaru_core.backend.server_changes import ServerChanges, Touched

    ChangeSource = LocalChanges | ServerChanges

# The store is asked this often what to watch (the file, or the backend): a long-lived process
# may see its store change (created by a first flow, a login to a server, another file).
STORE_RECHECK_SECONDS = 5.0
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
    """Polls the store for changed executions. Not thread-safe: one poller at a time.

    What to poll comes from the store (``ExecutionStore.change_source``): the local file's
    marks, or the backend asked what was written lately (:class:`ServerChangeTracker`). The
    store is asked again every :data:`STORE_RECHECK_SECONDS`, or at the next poll when it could
    not be read, so the watcher follows a store that changes under a long-lived process. The
    first poll only records the current state (there is nothing to compare it with).
    """

    # The least pause between two polls this store asks for (0: the watcher's own pace).
    poll_seconds: float = 0.0
    _local: LocalChanges | None = None
    _server: ServerChangeTracker | None = None
    _asked_at: float | None = None
    _signature: tuple[int, ...] | None = None
    _marks: dict[str, ExecutionMark] | None = None
    _since: datetime = field(default_factory=lambda: datetime.now(UTC))

    def poll(self) -> Changes | None:
        """What changed since the previous poll; ``None`` when the store cannot be watched
        right now (it cannot be read, or its configuration is broken: the tools say why)."""
        if self._asking_due():
            source = _store_source()
            if source is not None and not self._adopt(source):
                return self._switch(source)
        if self._server is not None:
            return self._server.poll()
        if self._local is not None:
            return self._poll_local(self._local)
        return None

    def _asking_due(self) -> bool:
        # Asking costs a fraction of a millisecond; the idle local poll, two ``stat`` calls.
        now = time.monotonic()
        watching = self._local is not None or self._server is not None
        if watching and self._asked_at is not None and now - self._asked_at < STORE_RECHECK_SECONDS:
            return False
        self._asked_at = now
        return True

    def _adopt(self, source: ChangeSource) -> bool:
        """Take ``source`` if it is of the kind watched now (or nothing is); whether it was."""
        from kitaru_core.backend.local_changes import LocalChanges

        if isinstance(source, LocalChanges):
            if self._server is not None:
                return False
            # The same file, or another: the marks of either compare with the previous ones
            # (another file's executions only show as changed once).
            self._local = source
            return True
        return self._server is not None

    def _switch(self, source: ChangeSource) -> Changes | None:
        """Watch ``source`` (of the other kind) from now on. Its first picture is taken before
        the source watched so far is polled a last time, so no write between goes unseen."""
        from kitaru_core.backend.local_changes import LocalChanges

        old_local, old_server = self._local, self._server
        if isinstance(source, LocalChanges):
            self._server, self._local, self.poll_seconds = None, source, 0.0
            first = self._poll_local(source)
        else:
            self._local, self._server = None, ServerChangeTracker(source=source)
            self.poll_seconds = self._server.poll_seconds
            first = self._server.poll()
        if old_server is not None:
            return _merged(first, old_server.poll())
        if old_local is not None:
            return _merged(first, self._poll_local(old_local, keep=False))
        return first

    def _poll_local(self, source: LocalChanges, *, keep: bool = True) -> Changes | None:
        """Compare the file's marks with the previous poll's; ``keep``: remember the new ones
        (not for a last look at a file no longer watched)."""
        from kitaru_core.backend.local_changes import StoreUnreadable

        try:
            signature = source.signature()
            if signature == self._signature:
                return Changes()
            now = datetime.now(UTC)
            marks = source.marks(
                known=[exec_id for exec_id, mark in (self._marks or {}).items() if mark.live],
                since=self._since,
            )
        except StoreUnreadable:
            if self._local is source:
                self._local = None  # replaced or being migrated: ask the store next time
            return None
        previous = self._marks
        if keep:
            self._marks, self._signature, self._since = marks, signature, now
        return Changes() if previous is None else _diff(previous, marks)


def _store_source() -> ChangeSource | None:
    """What the store this process uses now offers to watch (``None``: it cannot tell now)."""
    from kitaru_core.backend.store import execution_store

    try:
        return execution_store().change_source()
    except Exception:  # a configuration problem: the tools report it properly
        return None


def _merged(first: Changes | None, second: Changes | None) -> Changes | None:
    if first is None or second is None:
        return first if second is None else second
    return Changes(
        executions=first.executions | second.executions, waits=first.waits or second.waits
    )


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
    # What to ask (``None``: the backend's, made at the first poll).
    source: ServerChanges | None = None
    # (kind, id) -> (status, exec_id) of every row seen and not yet forgotten.
    _seen: dict[tuple[str, str], tuple[str, str]] | None = None
    _since: datetime | None = None

    def poll(self) -> Changes | None:
        """What changed since the previous poll; ``None`` when the store cannot be asked."""
        from kitaru_core.backend.server_changes import ServerChanges
        from kitaru_core.errors import KitaruError

        self.source = self.source or ServerChanges()
        start = self._since or datetime.now(UTC) - _FIRST_LOOKBACK
        try:
            touched = self.source.touched_since(start - _SERVER_SETTLE)
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
