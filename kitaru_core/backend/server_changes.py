"""Change detection through the ZenML client, for stores the SQLite watcher cannot read
(a Kitaru/ZenML server connection above all).

There is no change feed on a server, so the watcher asks, at a modest pace, for what was
written since its previous question: executions (runs), checkpoint calls (steps) and waits
whose ``updated`` time is at or after a moment. Three small filtered list calls, answered from
the server's indexes; the service layer compares the statuses with what it saw before, so a
heartbeat or a wait being polled (which rewrite ``updated``) announces nothing.

:class:`ServerChanges` is that question as ``ZenMLStore.change_source`` hands it to the watcher.
It works on any store ZenML's client reaches, a local one included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kitaru_core.backend.bootstrap import zenml_client

Kind = Literal["execution", "call", "wait"]

# The most rows of each kind one poll reads: more than that written within one poll interval
# is far beyond what a Kitaru store sees; the excess is simply announced at the next poll.
_PAGE_SIZE = 1000
# ZenML's datetime filter format (whole seconds, UTC as stored).
_FILTER_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Touched:
    """One row written at or after the moment asked about."""

    kind: Kind
    id: str
    exec_id: str
    status: str
    updated: datetime  # as the store stamped it, in UTC


class ServerChanges:
    """What a watcher polls on a store reached through ZenML's client (the client is the
    process's own, so this holds nothing)."""

    def touched_since(self, moment: datetime) -> list[Touched]:
        """See :func:`touched_since`."""
        return touched_since(moment)


def touched_since(moment: datetime) -> list[Touched]:
    """Executions, checkpoint calls and waits of the active project written at or after
    ``moment`` (rounded down to the second), oldest first within each kind."""
    client = zenml_client()
    since = "gte:" + moment.astimezone(UTC).strftime(_FILTER_FORMAT)
    common: dict[str, Any] = {"updated": since, "size": _PAGE_SIZE, "sort_by": "asc:updated"}
    runs = client.list_pipeline_runs(**common).items
    # Hydrated: the checkpoint call's execution and the wait's run are in the metadata.
    calls = client.list_run_steps(**common, hydrate=True).items
    waits = client.list_run_wait_conditions(**common, hydrate=True).items
    return [
        *_touched("execution", runs, lambda run: run.id),
        *_touched("call", calls, lambda call: call.pipeline_run_id),
        *_touched("wait", waits, lambda wait: wait.run.id),
    ]


def _touched(kind: Kind, rows: Iterable[Any], exec_id_of: Any) -> list[Touched]:
    return [
        Touched(
            kind=kind,
            id=str(row.id),
            exec_id=str(exec_id_of(row)),
            status=str(getattr(row.status, "value", row.status)),
            updated=_utc(row.updated),
        )
        for row in rows
    ]


def _utc(moment: datetime) -> datetime:
    # ZenML hands back naive UTC times.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
