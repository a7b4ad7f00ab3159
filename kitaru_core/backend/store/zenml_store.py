"""``ZenMLStore``: executions read through ZenML's public client — any store, any server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kitaru_core.backend.status import zenml_values
from kitaru_core.backend.store import views, zenml_rows
from kitaru_core.backend.store.interface import ExecutionStore
from kitaru_core.backend.store.rows import RunRow, StepRow, WaitRow
from kitaru_core.models import ExecutionStatus, StackInfo, StackListItem

if TYPE_CHECKING:
    from kitaru_core.backend.server_changes import ServerChanges

# The public statuses a pending wait moves a run between: ZenML cannot filter on them.
_WAIT_DEPENDENT = (ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
_SCAN_PAGE = 500


class ZenMLStore(ExecutionStore):
    """Every read and write through ZenML's client (imported on first use). The checkpoint
    cache is left to ZenML's own code (the interface's default)."""

    def is_remote(self) -> bool:
        from kitaru_core.backend.recovery import store_is_remote

        return store_is_remote()

    def run_row(self, exec_id: str, *, detail: bool = False) -> RunRow:
        from kitaru_core.backend.runs import get_run

        return zenml_rows.run_row(get_run(exec_id))

    def run_rows(
        self,
        *,
        flow: str | None,
        status: ExecutionStatus | None,
        stack: str | None,
        offset: int,
        size: int,
    ) -> tuple[list[RunRow], bool]:
        filters: dict[str, Any] = {"sort_by": "desc:created", "hydrate": True}
        if flow:
            filters["pipeline"] = flow
        if stack:
            filters["stack"] = stack
        try:
            if status in _WAIT_DEPENDENT:
                return _filtered_window(filters, status, offset, size)
            if status is not None:
                filters["status"] = "oneof:" + json.dumps(zenml_values(status))
            return _window(filters, offset, size)
        except KeyError:
            return [], False  # an unknown flow or stack name has no executions

    def step_rows(self, exec_id: str) -> list[StepRow]:
        from kitaru_core.backend.runs import get_run, steps_of

        return zenml_rows.step_rows(steps_of(get_run(exec_id, hydrate=False)))

    def wait_rows(self, exec_id: str | None = None) -> list[WaitRow]:
        from kitaru_core.backend import waits
        from kitaru_core.backend.runs import get_run

        found = []
        runs: dict[str, RunRow] = {}
        for condition in waits.list_conditions(exec_id):
            run_id = str(condition.run.id)
            if run_id not in runs:
                runs[run_id] = zenml_rows.run_row(get_run(run_id))
            found.append(zenml_rows.wait_row(condition, runs[run_id]))
        return found

    def call_ids(self, exec_id: str) -> set[str]:
        from kitaru_core.backend.runs import get_run

        return set(get_run(exec_id).steps or {})

    def list_stacks(self) -> list[StackListItem]:
        from kitaru_core.backend import stacks

        return stacks.list_stacks()

    def active_stack(self) -> StackInfo:
        from kitaru_core.backend import stacks

        return stacks.current_stack()

    def project_name(self) -> str | None:
        from kitaru_core.backend.bootstrap import active_project_name

        return active_project_name()

    def mark_interrupted(self, exec_id: str, message: str) -> None:
        from kitaru_core.backend.recovery import mark_interrupted

        mark_interrupted(exec_id, message)

    def mark_cancelled(self, exec_id: str) -> None:
        from kitaru_core.backend.run_writes import mark_cancelled

        mark_cancelled(exec_id)

    def stop_run(self, exec_id: str, reason: str) -> None:
        from kitaru_core.backend.cancel import stop_run

        stop_run(exec_id, reason)

    def mark_retried(self, exec_id: str, new_exec_id: str) -> None:
        from kitaru_core.backend.replay import mark_retried

        mark_retried(exec_id, new_exec_id)

    def change_source(self) -> ServerChanges:
        # ZenML's client answers on any store; this module and ZenML load on the first poll.
        from kitaru_core.backend.server_changes import ServerChanges

        return ServerChanges()


def _window(filters: dict[str, Any], offset: int, size: int) -> tuple[list[RunRow], bool]:
    """The rows ``[offset, offset + size)`` of the filtered runs, in one store query."""
    from kitaru_core.backend.bootstrap import zenml_client

    # ZenML pages by number: use the smallest page size whose page holds the whole window (a
    # caller may change ``limit`` between pages, so ``offset`` need not be a multiple of
    # ``size``, and a window split over two pages would leave a gap).
    page_size = size
    while offset // page_size != (offset + size - 1) // page_size:
        page_size += 1
    page_number = offset // page_size + 1
    page = zenml_client().list_pipeline_runs(page=page_number, size=page_size, **filters)
    start = offset - (page_number - 1) * page_size
    rows = [zenml_rows.run_row(run) for run in list(page.items)[start : start + size]]
    return rows, page.total > offset + len(rows)


def _filtered_window(
    filters: dict[str, Any], status: ExecutionStatus, offset: int, size: int
) -> tuple[list[RunRow], bool]:
    """The window of runs whose *public* status is ``status`` (running or waiting).

    A run polling a wait is RUNNING in ZenML but waiting to users, so the store's filter takes
    both sets of statuses and the public status picks; such runs are few (only active ones).
    """
    from kitaru_core.backend.bootstrap import zenml_client

    values = sorted({value for public in _WAIT_DEPENDENT for value in zenml_values(public)})
    filters = {**filters, "status": "oneof:" + json.dumps(values)}
    matching: list[RunRow] = []
    page_number = 1
    while len(matching) <= offset + size:
        page = zenml_client().list_pipeline_runs(page=page_number, size=_SCAN_PAGE, **filters)
        rows = [zenml_rows.run_row(run) for run in page.items]
        matching.extend(row for row in rows if views.public_status(row) == status)
        if page_number >= page.total_pages:
            break
        page_number += 1
    return matching[offset : offset + size], len(matching) > offset + size
