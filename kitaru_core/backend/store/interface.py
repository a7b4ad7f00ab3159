"""``ExecutionStore``: what the services read (and the few writes they need) about executions,
waits, logs and stacks, and how a run's checkpoint cache is looked up and its checkpoint calls
(cached or computed) are recorded, whichever store answers.

An adapter only produces rows (``rows.py``) and performs the writes; the operations the
services call are written here once, over those rows, with the view builders of ``views.py``.
So crash detection, the status map and the views cannot differ between adapters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any
from uuid import UUID

from kitaru_core.backend import execution_views
from kitaru_core.backend.store import views
from kitaru_core.backend.store.cache_lookup import ASK_ZENML, AskZenML
from kitaru_core.backend.store.rows import RunRow, StepRow, WaitRow
from kitaru_core.models import (
    Execution,
    ExecutionStatus,
    Failure,
    LogEntry,
    StackInfo,
    StackListItem,
    WaitInfo,
)

if TYPE_CHECKING:
    from kitaru_core.backend.local_changes import LocalChanges
    from kitaru_core.backend.local_waits import LocalWaits
    from kitaru_core.backend.server_changes import ServerChanges
    from kitaru_core.backend.store.cache_lookup import CachedStepRun


class ExecutionStore(ABC):
    """One store of executions. Subclasses implement the row reads and the writes."""

    # ------------------------------------------------------------------ rows (per adapter)
    @abstractmethod
    def run_row(self, exec_id: str, *, detail: bool = False) -> RunRow:
        """One run; ``detail`` also reads its exception info, spec and all its metadata.
        An unknown or malformed id raises ``KitaruNotFoundError``."""

    @abstractmethod
    def run_rows(
        self,
        *,
        flow: str | None,
        status: ExecutionStatus | None,
        stack: str | None,
        offset: int,
        size: int,
    ) -> tuple[list[RunRow], bool]:
        """A page of runs, newest first, filtered on the public status: ``(rows, has_more)``."""

    @abstractmethod
    def step_rows(self, exec_id: str) -> list[StepRow]:
        """The run's checkpoint calls (latest attempt each), oldest first."""

    @abstractmethod
    def wait_rows(self, exec_id: str | None = None) -> list[WaitRow]:
        """Pending waits, oldest first: of one execution, or of every execution."""

    @abstractmethod
    def call_ids(self, exec_id: str) -> set[str]:
        """The invocation ids of every attempt of the execution's checkpoint calls."""

    @abstractmethod
    def list_stacks(self) -> list[StackListItem]:
        """Every stack, oldest first, marked active and Kitaru-managed."""

    @abstractmethod
    def active_stack(self) -> StackInfo:
        """The persisted active stack."""

    @abstractmethod
    def project_name(self) -> str | None:
        """The active project's name (``None`` when it no longer exists)."""

    def local_database(self) -> str | None:
        """The database file this store reads directly; ``None`` when it is reached through
        ZenML's client only (a server, or a local store the fast path does not apply to)."""
        return None

    def is_remote(self) -> bool:
        """Whether the store is a server shared with other config dirs (where a run without a
        liveness record here proves nothing: see ``views.crash_reason``)."""
        return False

    def log_entries(self, exec_id: str) -> list[LogEntry]:
        """The execution's log lines, oldest first. Kitaru keeps them itself, in a file per
        execution on local stacks (ZenML has no client-side logs API), so every adapter reads
        that file."""
        return execution_views.log_entries(exec_id)

    # ----------------------------------------------------------------------------- writes
    @abstractmethod
    def mark_interrupted(self, exec_id: str, message: str) -> None:
        """Mark a crashed execution and its unfinished checkpoint calls failed."""

    @abstractmethod
    def mark_cancelled(self, exec_id: str) -> None:
        """Record that the execution stopped because its cancellation was requested (the flow
        body's process writes it, as the body unwinds)."""

    @abstractmethod
    def stop_run(self, exec_id: str, reason: str) -> None:
        """Mark the execution and its unfinished checkpoint calls stopped, with ``reason``
        (the canceller writes it: the process is gone, was killed, or is not polling)."""

    @abstractmethod
    def mark_retried(self, exec_id: str, new_exec_id: str) -> None:
        """Record on ``exec_id`` the execution that retries it (in the run's metadata)."""

    # --------------------------------------------------------------------- change watching
    @abstractmethod
    def change_source(self) -> LocalChanges | ServerChanges:
        """What a watcher polls to learn what changed (``services/changes.py`` compares the
        answers): the local file's marks, or the backend's client asked what was written."""

    # --------------------------------------------- the cache and a run's checkpoint records
    # ZenML asks its cache questions and writes each checkpoint call from inside a run
    # (``backend/step_cache.py`` and ``backend/step_record.py`` hook them); ``zen_store`` is the
    # ZenML store that run writes to. By default ZenML's own code answers and writes.
    def keeps_cache_of(self, zen_store: Any) -> bool:
        """Whether this adapter looks up and records the cache hits, and records the computed
        calls, of ``zen_store`` itself (``False``: ZenML's own code does)."""
        return False

    def cached_step_run(
        self, zen_store: Any, cache_key: str, project_id: UUID
    ) -> CachedStepRun | AskZenML | None:
        """ZenML's cache lookup: the newest completed, unexpired step run of ``project_id``
        with ``cache_key`` (``None``: a miss), or :data:`ASK_ZENML`."""
        return ASK_ZENML

    def record_cache_hit(self, zen_store: Any, request: Any) -> Any | None:
        """Write the cached step run that ``request`` (a ZenML step run request) describes and
        return its response; ``None``: nothing was written, ZenML's own method records it."""
        return None

    def record_call_start(self, zen_store: Any, request: Any) -> Any | None:
        """Write the running step run that ``request`` (a ZenML step run request) starts — a
        computed call — and return its response; ``None``: nothing was written, ZenML's own
        ``create_run_step`` writes it."""
        return None

    def record_call_completion(self, zen_store: Any, running: Any, update: Any) -> Any | None:
        """Write ``update`` (a ZenML step run update) to the step run of ``running`` (the
        response its start returned) and return the updated response; ``None``: nothing was
        written, ZenML's own ``update_run_step`` writes it."""
        return None

    def record_output(self, zen_store: Any, request: Any) -> Any | None:
        """Write the artifact version of ``request`` (a ZenML artifact version request: a
        computed call's output) and return its response; ``None``: nothing was written (the
        request as it was), ZenML's own ``create_artifact_version`` writes it."""
        return None

    def waits_for_answers(self, exec_id: str) -> LocalWaits | None:
        """A faster way to answer ``exec_id``'s waits than :meth:`wait_operations`, where
        there is one (``services/executions.answer`` drives either through the same calls)."""
        return None

    def wait_operations(self) -> Any:
        """Find, check and resolve (or abort) waits through ZenML's client: the module
        ``backend/waits.py``, whose functions take the same calls as ``LocalWaits``."""
        from kitaru_core.backend import waits

        return waits

    # ------------------------------------------------------- operations (once, over rows)
    def get_execution(self, exec_id: str) -> Execution:
        """One execution in full: checkpoints, pending wait, failure, frozen spec, metadata."""
        run = self.checked(self.run_row(exec_id, detail=True))
        waiting = views.public_status(run) == ExecutionStatus.WAITING
        pending = self.wait_rows(exec_id) if waiting else []
        return views.detail(run, self.step_rows(exec_id), pending[0] if pending else None)

    def list_executions(
        self,
        *,
        flow: str | None = None,
        status: ExecutionStatus | None = None,
        stack: str | None = None,
        offset: int = 0,
        size: int = 50,
    ) -> tuple[list[Execution], bool]:
        """A page of execution summaries, newest first: ``(items, has_more)``."""
        query: dict[str, Any] = {"flow": flow, "status": status, "stack": stack}
        rows, has_more = self.run_rows(**query, offset=offset, size=size)
        if self._mark_crashed(rows):  # read the page again: the filter may now differ
            rows, has_more = self.run_rows(**query, offset=offset, size=size)
        return [views.summary(row) for row in rows], has_more

    def latest(
        self,
        *,
        flow: str | None = None,
        status: ExecutionStatus | None = None,
        stack: str | None = None,
    ) -> Execution | None:
        """The newest execution that matches, in full (``None`` when none does)."""
        items, _ = self.list_executions(flow=flow, status=status, stack=stack, size=1)
        return self.get_execution(items[0].exec_id) if items else None

    def run_state(self, exec_id: str) -> tuple[ExecutionStatus, dict[str, Any]]:
        """The public status and the result record (``{}`` until it has one): what a handle
        polls. A crashed execution is marked failed first, so a poller sees it fail."""
        run = self.checked(self.run_row(exec_id))
        return views.public_status(run), views.result_record(run)

    def failure(self, exec_id: str) -> Failure | None:
        """Where and why the execution failed (``None`` when it did not)."""
        run = self.checked(self.run_row(exec_id, detail=True))
        return views.failure(run, self.step_rows(exec_id))

    def pending_waits(self) -> list[WaitInfo]:
        """Every pending wait of a waiting execution, oldest first. A worker that died while
        polling leaves its wait pending: its execution is marked failed, the wait left out."""
        found = []
        for wait in self.wait_rows():
            if self._mark_crashed([wait.run]):
                continue
            if views.public_status(wait.run) == ExecutionStatus.WAITING:
                found.append(views.wait_info(wait))
        return found

    def checked(self, run: RunRow) -> RunRow:
        """``run`` as it stands once a crash is marked (a dead worker's run reads failed)."""
        if self._mark_crashed([run]):
            return self.run_row(run.exec_id, detail=True)
        return run

    def _mark_crashed(self, runs: list[RunRow]) -> bool:
        """Mark each run whose process is gone failed; whether there was one."""
        marked = False
        remote = self.is_remote() if runs else False
        for run in runs:
            reason = views.crash_reason(run, remote=remote)
            if reason is not None:
                self.mark_interrupted(run.exec_id, views.interrupted_message(reason))
                marked = True
        return marked
