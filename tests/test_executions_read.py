"""Reading executions from the real store: get, list, latest, logs and waiting (SPEC §1.3, §4).

Flows live in ``tests/flows_exec/``; each test uses its own salt (and the list tests a flow no
other test runs), so parallel tests never see each other's executions.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flows_exec import approval, listing, records
from flows_exec.support import new_salt

from kitaru_core import KitaruClient
from kitaru_core.errors import KitaruNotFoundError, KitaruValidationError
from kitaru_core.models import ExecutionStatus
from kitaru_core.rendering import PREVIEW_LIMIT
from kitaru_core.services import executions


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    folder = tmp_path / "marks"
    folder.mkdir()
    return str(folder)


# --- get --------------------------------------------------------------------------------------


def test_get_shows_checkpoints_attempts_spec_and_result(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    handle = records.observed_flow.run(workdir, salt)
    execution = executions.get(handle.exec_id)

    assert execution.exec_id == handle.exec_id
    assert execution.flow == "observed_flow"
    assert execution.status == ExecutionStatus.COMPLETED
    assert execution.stack == "default"
    assert execution.started_at is not None and execution.ended_at is not None
    assert execution.started_at <= execution.ended_at
    assert execution.result == {"salt": salt, "total": 6}
    assert execution.failure is None
    assert execution.pending_wait is None
    assert execution.original_exec_id is None

    calls = {call.call_id: call for call in execution.checkpoints}
    assert list(calls) == ["load_rows", "shaky_total"]
    assert calls["load_rows"].attempts == 1
    assert calls["shaky_total"].attempts == 2  # failed once, retried (retries=2)
    for call in calls.values():
        assert call.status == ExecutionStatus.COMPLETED
        assert call.cached is False
        assert call.type == "checkpoint"
        assert [ref.name for ref in call.outputs] == ["output"]

    spec = execution.frozen_spec
    assert spec["flow"] == "observed_flow"
    assert spec["stack"]["value"] == "default"
    assert spec["cache"]["value"] is True

    # The same inputs again: every checkpoint is a cache hit, visible in the listing.
    again = KitaruClient().executions.get(records.observed_flow.run(workdir, salt).exec_id)
    assert again.exec_id != execution.exec_id
    assert [(call.call_id, call.cached) for call in again.checkpoints] == [
        ("load_rows", True),
        ("shaky_total", True),
    ]
    assert again.result == execution.result


def test_get_of_a_failed_checkpoint_carries_the_failure(zenml_client: Any) -> None:
    handle = records.quota_flow.run(new_salt())
    execution = KitaruClient().executions.get(handle.exec_id)

    assert execution.status == ExecutionStatus.FAILED
    assert execution.result is None
    failure = execution.failure
    assert failure is not None
    assert failure.checkpoint == "over_quota"
    assert failure.exception_type == "QuotaExceededError"
    assert "quota exceeded while handling ok" in failure.message
    assert failure.traceback is not None
    assert "flows_exec/records.py" in failure.traceback
    assert "raise QuotaExceededError" in failure.traceback
    assert "/zenml/" not in failure.traceback  # only the user's frames
    statuses = {call.call_id: call.status for call in execution.checkpoints}
    assert statuses == {"first_ok": ExecutionStatus.COMPLETED, "over_quota": ExecutionStatus.FAILED}


def test_get_of_a_flow_body_failure_has_no_checkpoint(zenml_client: Any) -> None:
    handle = records.body_failure_flow.run(new_salt())
    execution = executions.get(handle.exec_id)

    assert execution.status == ExecutionStatus.FAILED
    assert execution.failure is not None
    assert execution.failure.checkpoint is None
    assert execution.failure.exception_type == "LookupError"
    assert "no route for ok" in execution.failure.message
    assert "raise LookupError" in (execution.failure.traceback or "")


def test_get_bounds_a_big_result(zenml_client: Any) -> None:
    handle = records.big_result_flow.run(new_salt(), size=PREVIEW_LIMIT * 3)
    execution = executions.get(handle.exec_id)

    assert execution.status == ExecutionStatus.COMPLETED
    assert isinstance(execution.result, str)
    assert len(execution.result) <= PREVIEW_LIMIT
    assert len(execution.result) > PREVIEW_LIMIT // 2
    # The full value is still stored: the SDK handle gives it back whole.
    assert len(handle.wait(timeout=30)) >= PREVIEW_LIMIT * 3


def test_get_unknown_and_malformed_ids(zenml_client: Any) -> None:
    with pytest.raises(KitaruNotFoundError) as missing:
        executions.get(str(uuid.uuid4()))
    assert missing.value.code == "not_found"
    # A malformed id is the same "no such execution" (every operation: test_exec_id_not_found).
    with pytest.raises(KitaruNotFoundError) as malformed:
        KitaruClient().executions.get("not-an-id")
    assert malformed.value.code == "not_found"
    assert "not-an-id" in malformed.value.message


# --- list and latest --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def listed(zenml_client: Any) -> dict[str, Any]:
    """Eight executions of ``listed_flow``, oldest first: seven completed, then one failed."""
    ids = [listing.listed_flow.run(f"v{index}-{new_salt()}").exec_id for index in range(7)]
    failed = listing.listed_flow.run(f"bad-{new_salt()}", fail=True).exec_id
    return {"ids": [*ids, failed], "failed": failed}


def _all_pages(limits: list[int], **filters: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    for page, limit in enumerate(limits * 10):
        items, cursor = executions.list_executions(limit=limit, cursor=cursor, **filters)
        assert len(items) <= limit
        if cursor is not None:
            assert len(items) == limit, f"short page {page} before the end"
        seen.extend(item.exec_id for item in items)
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


def test_list_is_newest_first_and_filtered_by_flow(listed: dict[str, Any]) -> None:
    items, cursor = executions.list_executions(flow="listed_flow", limit=50)
    assert cursor is None
    assert [item.exec_id for item in items] == list(reversed(listed["ids"]))
    assert all(item.flow == "listed_flow" for item in items)
    starts = [item.started_at for item in items]
    assert starts == sorted(starts, reverse=True)  # type: ignore[type-var]
    # A list item is a summary: status, stack and result, but no checkpoints.
    assert items[0].status == ExecutionStatus.FAILED and items[0].result is None
    assert items[1].status == ExecutionStatus.COMPLETED
    assert items[1].result is not None and items[1].result.startswith("label v6-")
    assert all(item.stack == "default" for item in items)
    assert all(item.checkpoints == [] for item in items)

    client_items = KitaruClient().executions.list(flow="listed_flow", limit=50)
    assert [item.exec_id for item in client_items] == [item.exec_id for item in items]


def test_list_filters_by_status(listed: dict[str, Any]) -> None:
    failed, _ = executions.list_executions(flow="listed_flow", status="failed")
    assert [item.exec_id for item in failed] == [listed["failed"]]
    assert failed[0].status == ExecutionStatus.FAILED

    completed, _ = executions.list_executions(
        flow="listed_flow", status=ExecutionStatus.COMPLETED, limit=50
    )
    assert [item.exec_id for item in completed] == list(reversed(listed["ids"][:-1]))

    assert executions.list_executions(flow="listed_flow", status="cancelled") == ([], None)
    assert executions.list_executions(flow="no_such_flow_" + new_salt()) == ([], None)


def test_list_filters_by_stack(zenml_client: Any) -> None:
    from kitaru_core.sdk_stacks import create_stack, delete_stack

    stack = f"list-{new_salt()}"
    create_stack(stack, activate=False)
    try:
        on_default = records.echo_flow.run(f"default-{new_salt()}").exec_id
        elsewhere = records.echo_flow.run(f"other-{new_salt()}", stack=stack).exec_id

        on_stack, _ = executions.list_executions(flow="echo_flow", stack=stack)
        assert [item.exec_id for item in on_stack] == [elsewhere]
        assert on_stack[0].stack == stack
        default_ids = [
            item.exec_id
            for item in KitaruClient().executions.list(flow="echo_flow", stack="default", limit=50)
        ]
        assert on_default in default_ids
        assert elsewhere not in default_ids
        assert executions.latest(flow="echo_flow", stack=stack).exec_id == elsewhere
        assert executions.list_executions(flow="echo_flow", stack="no-such-stack") == ([], None)
    finally:
        # Other tests in this process expect only the default stack.
        delete_stack(stack, recursive=True, force=True)


@pytest.mark.parametrize("limits", [[2], [3], [8], [1, 4, 2], [3, 2], [2, 1, 4, 3]])
def test_pages_have_no_duplicates_and_no_gaps(listed: dict[str, Any], limits: list[int]) -> None:
    # Changing the limit between pages is allowed: the cursor keeps its position.
    seen = _all_pages(limits, flow="listed_flow")
    assert seen == list(reversed(listed["ids"]))


def test_list_rejects_bad_limits_statuses_and_cursors(listed: dict[str, Any]) -> None:
    for bad in ({"limit": 0}, {"limit": 1000}, {"status": "paused"}, {"cursor": "bogus"}):
        with pytest.raises(KitaruValidationError) as caught:
            executions.list_executions(flow="listed_flow", **bad)
        assert set(caught.value.fields) == set(bad)


def test_latest(listed: dict[str, Any]) -> None:
    client = KitaruClient()
    newest = client.executions.latest(flow="listed_flow")
    assert newest.exec_id == listed["failed"]
    assert newest.checkpoints, "latest returns the full execution"
    assert newest.failure is not None
    latest_completed = executions.latest(flow="listed_flow", status="completed")
    assert latest_completed.exec_id == listed["ids"][-2]
    assert executions.latest(flow="listed_flow", stack="default").exec_id == listed["failed"]

    with pytest.raises(KitaruNotFoundError) as caught:
        client.executions.latest(flow="listed_flow", status="cancelled")
    assert caught.value.code == "not_found"
    assert "flow=listed_flow" in caught.value.message
    assert "status=cancelled" in caught.value.message


# --- logs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logged(zenml_client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    salt = new_salt()
    workdir = str(tmp_path_factory.mktemp("logged"))
    handle = records.observed_flow.run(workdir, salt)
    return {"exec_id": handle.exec_id, "salt": salt}


def test_logs_hold_prints_and_logging_of_flow_and_checkpoints(logged: dict[str, str]) -> None:
    entries, truncated = executions.logs(logged["exec_id"])
    assert truncated is False
    lines = [(entry.checkpoint, entry.level, entry.message) for entry in entries]
    salt = logged["salt"]
    assert lines == [
        (None, "INFO", f"flow body starts {salt}"),
        (None, "WARNING", f"flow scope warning {salt}"),
        ("load_rows", "INFO", f"loading rows for {salt}"),
        ("load_rows", "INFO", f"loaded 3 rows for {salt}"),
        ("shaky_total", "INFO", "attempt 1"),
        ("shaky_total", "INFO", "attempt 2"),
        (None, "INFO", "flow body ends with 6"),
    ]
    stamps = [entry.timestamp for entry in entries]
    assert all(stamps) and stamps == sorted(stamps)  # type: ignore[type-var]


def test_logs_filtered_by_checkpoint(logged: dict[str, str]) -> None:
    entries = KitaruClient().executions.logs(logged["exec_id"], checkpoint="shaky_total")
    assert [entry.message for entry in entries] == ["attempt 1", "attempt 2"]
    assert {entry.checkpoint for entry in entries} == {"shaky_total"}


def test_logs_are_the_tail_by_default_and_bounded(logged: dict[str, str]) -> None:
    tail, truncated = executions.logs(logged["exec_id"], limit=2)
    assert truncated is True
    assert [entry.message for entry in tail] == ["attempt 2", "flow body ends with 6"]
    head, truncated = executions.logs(logged["exec_id"], limit=2, head=True)
    assert truncated is True
    assert head[0].message.startswith("flow body starts")
    with pytest.raises(KitaruValidationError) as caught:
        executions.logs(logged["exec_id"], limit=0)
    assert "limit" in caught.value.fields


def test_logs_of_an_unknown_checkpoint_list_the_valid_ones(logged: dict[str, str]) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        executions.logs(logged["exec_id"], checkpoint="shaky")
    error = caught.value
    assert error.code == "validation_error"
    assert "checkpoint" in error.fields
    assert "load_rows" in error.message and "shaky_total" in error.message


# --- waiting ----------------------------------------------------------------------------------


def test_waiting_lists_question_schema_and_metadata(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    handle = approval.signoff_flow.run(workdir, salt, timeout=0)  # pauses at once
    try:
        mine = [wait for wait in executions.waiting() if wait.exec_id == handle.exec_id]
        assert len(mine) == 1
        info = mine[0]
        assert info.flow == "signoff_flow"
        assert info.name == "approval"
        assert info.question == f"Publish 'draft {salt}'?"
        assert info.schema_ == approval.APPROVAL_SCHEMA
        assert info.metadata == {"salt": salt, "draft": f"draft {salt}"}
        assert info.created_at is not None
        assert info.model_dump(mode="json")["schema"] == approval.APPROVAL_SCHEMA

        execution = KitaruClient().executions.get(handle.exec_id)
        assert execution.status == ExecutionStatus.WAITING
        assert execution.pending_wait is not None
        assert execution.pending_wait.name == "approval"
        assert execution.pending_wait.schema_ == approval.APPROVAL_SCHEMA
        assert KitaruClient().executions.waiting() != []
    finally:
        executions.abort_wait(handle.exec_id)
    assert handle.exec_id not in {wait.exec_id for wait in executions.waiting()}
