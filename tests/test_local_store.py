"""The fast local read path (``SQLiteStore``, guarded by ``backend/local_store.py``) answers
exactly as ZenML does.

Every comparison reads the same real store twice: once with plain SQLite queries, once through
ZenML's client (``ZenMLStore``). A ZenML upgrade that changes the schema fails here (and the
fast path switches itself off for any schema version it was not written for).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flows_exec import approval, listing, records
from flows_exec.support import new_salt
from runtime_helpers import BackgroundRun, pending_wait

from kitaru_core.backend import local_store, runs
from kitaru_core.backend.store import execution_store, zenml_adapter
from kitaru_core.backend.store.sqlite_store import SQLiteStore
from kitaru_core.models import ExecutionStatus
from kitaru_core.services import execution_control, executions, system
from kitaru_core.services import stacks as stack_service


def fast() -> SQLiteStore:
    store = execution_store()
    assert isinstance(store, SQLiteStore), "the fast path should apply to the test store"
    return store


def both_pages(**query: Any) -> tuple[Any, Any]:
    """The same page read by the fast path and by ZenML, as plain data."""
    window = {"flow": None, "status": None, "stack": None, "offset": 0, "size": 20} | query
    quick = fast().list_executions(**window)
    slow = zenml_adapter().list_executions(**window)
    as_data = lambda page: ([item.model_dump() for item in page[0]], page[1])  # noqa: E731
    return as_data(quick), as_data(slow)


@pytest.fixture(scope="module")
def mixed(zenml_client: Any) -> dict[str, Any]:
    """Completed and failed executions of ``compared_flow``, and a retry linked to its original."""
    done = [listing.compared_flow.run(f"fast-{index}-{new_salt()}").exec_id for index in range(3)]
    failed = listing.compared_flow.run(f"fast-bad-{new_salt()}", fail=True).exec_id
    retried = execution_control.retry(failed).exec_id
    for _ in executions.follow(retried, timeout=120):
        pass
    return {"done": done, "failed": failed, "retried": retried}


def test_the_fast_path_reads_without_importing_zenml(mixed: dict[str, Any]) -> None:
    code = (
        "import sys\n"
        "from kitaru_core.services import executions, stacks, system\n"
        "items, _ = executions.list_executions(flow='compared_flow', limit=50)\n"
        "assert items, 'no executions listed'\n"
        "assert stacks.list_stacks() and system.get_status().active_stack\n"
        "assert 'zenml' not in sys.modules, 'zenml was imported'\n"
        # The schema check needs no SQLAlchemy (~0.3 s to import): only the cache writer does.
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "query",
    [
        {"flow": "compared_flow"},
        {"flow": "compared_flow", "size": 2},
        {"flow": "compared_flow", "offset": 1, "size": 3},
        {"flow": "compared_flow", "offset": 4, "size": 5},
        {"flow": "compared_flow", "status": ExecutionStatus.FAILED},
        {"flow": "compared_flow", "status": ExecutionStatus.COMPLETED, "size": 2},
        {"flow": "compared_flow", "status": ExecutionStatus.CANCELLED},
        {"flow": "compared_flow", "stack": "default"},
        {"flow": "compared_flow", "stack": "no-such-stack"},
        {"flow": "no_such_flow"},
    ],
    ids=repr,
)
def test_list_pages_match_zenml(mixed: dict[str, Any], query: dict[str, Any]) -> None:
    quick, slow = both_pages(**query)
    assert quick == slow


def test_list_shows_results_reasons_and_links(mixed: dict[str, Any]) -> None:
    items = {item["exec_id"]: item for item in both_pages(flow="compared_flow", size=50)[0][0]}
    assert items[mixed["done"][0]]["result"].startswith("label fast-0-")
    assert items[mixed["done"][0]]["stack"] == "default"
    assert items[mixed["failed"]]["status"] == ExecutionStatus.FAILED
    assert items[mixed["retried"]]["original_exec_id"] == mixed["failed"]


def both_gets(exec_id: str) -> tuple[Any, Any]:
    quick = fast().get_execution(exec_id)
    return quick.model_dump(), zenml_adapter().get_execution(exec_id).model_dump()


@pytest.mark.parametrize(
    "start",
    [
        lambda workdir, salt: records.observed_flow.run(workdir, salt),  # a retried checkpoint
        lambda workdir, salt: records.quota_flow.run(salt),  # a failed checkpoint
        lambda workdir, salt: records.body_failure_flow.run(salt),  # the flow body raised
        lambda workdir, salt: records.model_flow.run(salt),  # a pydantic result
        lambda workdir, salt: records.big_result_flow.run(salt),  # a truncated preview
    ],
    ids=["retried", "failed-checkpoint", "failed-body", "model", "big-result"],
)
def test_get_matches_zenml(zenml_client: Any, workdir: str, start: Any) -> None:
    salt = new_salt()
    first = start(workdir, salt)
    quick, slow = both_gets(first.exec_id)
    assert quick == slow
    assert quick["checkpoints"]
    state = fast().run_state(first.exec_id)  # what FlowHandle.wait() reads
    assert state == zenml_adapter().run_state(first.exec_id)
    assert state[0] == runs.run_status(first.exec_id)
    if state[1].get("inline"):
        assert state[1]["preview"] == runs.load_result(first.exec_id)
    again = start(workdir, salt)  # the same inputs: cache hits
    quick, slow = both_gets(again.exec_id)
    assert quick == slow


def test_get_of_a_linked_execution_matches_zenml(mixed: dict[str, Any]) -> None:
    quick, slow = both_gets(mixed["retried"])
    assert quick == slow
    assert quick["original_exec_id"] == mixed["failed"]


def test_get_of_an_unknown_or_malformed_id_fails_like_zenml(zenml_client: Any) -> None:
    from kitaru_core.errors import KitaruNotFoundError

    unknown = "00000000-0000-4000-8000-000000000000"
    for store in (fast(), zenml_adapter()):
        with pytest.raises(KitaruNotFoundError, match=unknown):
            store.get_execution(unknown)
        with pytest.raises(KitaruNotFoundError, match="nope"):
            store.get_execution("nope")


def test_a_waiting_execution_is_listed_as_waiting(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    background = BackgroundRun(approval.go_gate_flow, workdir, salt, timeout=60.0)
    condition = pending_wait(zenml_client, salt)
    exec_id = str(condition.run.id)
    try:
        quick, slow = both_pages(flow="go_gate_flow", size=50)
        assert quick == slow
        one, other = both_gets(exec_id)
        assert one == other
        assert one["pending_wait"]["metadata"] == {"salt": salt}
        # ZenML first: it marks any crashed execution (of other tests in this process) failed.
        slow_waits = [w.model_dump() for w in zenml_adapter().pending_waits()]
        waits = fast().pending_waits()
        assert [w.model_dump() for w in waits] == slow_waits
        assert exec_id in [w.exec_id for w in waits]
        assert {item["exec_id"]: item["status"] for item in quick[0]}[exec_id] == "waiting"
        # The status filter follows the public status (the worker's run is RUNNING in ZenML).
        waiting, _ = executions.list_executions(flow="go_gate_flow", status="waiting", limit=50)
        running, _ = executions.list_executions(flow="go_gate_flow", status="running", limit=50)
        assert exec_id in [item.exec_id for item in waiting]
        assert exec_id not in [item.exec_id for item in running]
    finally:
        executions.input(exec_id)
        background.join().wait()


@pytest.fixture(name="workdir")
def workdir_fixture(tmp_path: Path) -> str:
    folder = tmp_path / "marks"
    folder.mkdir()
    return str(folder)


def test_logs_check_the_execution_and_its_calls(mixed: dict[str, Any]) -> None:
    from kitaru_core.errors import KitaruNotFoundError

    assert fast().call_ids(mixed["done"][0]) == {"label"}
    assert zenml_adapter().call_ids(mixed["done"][0]) == {"label"}
    lines, _ = executions.logs(mixed["done"][0], checkpoint="label")
    assert all(line.checkpoint == "label" for line in lines)
    for store in (fast(), zenml_adapter()):
        with pytest.raises(KitaruNotFoundError):
            store.call_ids("00000000-0000-4000-8000-000000000000")


def test_status_and_stacks_match_zenml(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kitaru_core.sdk_stacks import create_stack

    create_stack(f"fast-{new_salt()}", activate=True)
    quick = (system.get_status(), stack_service.list_stacks(), stack_service.current_stack())
    assert any(stack.is_managed and stack.is_active for stack in quick[1])
    monkeypatch.setattr(local_store, "open_local", lambda: None)  # ZenML only
    slow = (system.get_status(), stack_service.list_stacks(), stack_service.current_stack())
    assert quick == slow


def test_a_server_connection_is_left_to_zenml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENML_STORE_URL", "https://kitaru.example.com")
    assert local_store.open_local() is None


def test_a_zenml_repository_is_left_to_zenml(zenml_client: Any, project_dir: Path) -> None:
    assert local_store.open_local() is not None
    (project_dir / ".zen").mkdir()
    assert local_store.open_local() is None


def test_another_schema_version_is_left_to_zenml(zenml_client: Any, tmp_path: Path) -> None:
    from kitaru_core.backend.zenml_compat import schema

    copy = tmp_path / "zenml.db"
    with sqlite3.connect(fast().local.database) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    assert schema.fast_path(copy).enabled
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE alembic_version SET version_num = '0.99.0'")
    schema.forget()  # the check runs once per process and store file
    try:
        state = schema.fast_path(copy)
    finally:
        schema.forget()
    assert not state.enabled and state.revision == "0.99.0"
    assert state.reason is not None and "0.99.0" in state.reason


def test_an_unknown_project_is_left_to_zenml(zenml_client: Any) -> None:
    config = {"active_project_id": None}
    assert local_store._describe(fast().local.database, config, "no-such-project") is None


def test_a_sqlite_failure_hands_the_read_to_zenml(mixed: dict[str, Any], tmp_path: Path) -> None:
    from kitaru_core.errors import KitaruNotFoundError

    # A store whose database file is no SQLite database: every query fails.
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    local = fast().local
    store = SQLiteStore(
        local_store.LocalStore(broken, local.project_id, local.active_stack_id), zenml_adapter
    )
    exec_id = mixed["done"][0]
    assert store.get_execution(exec_id) == zenml_adapter().get_execution(exec_id)
    assert store.call_ids(exec_id) == {"label"}
    # Kitaru's own errors are answers, not failures: they reach the caller.
    with pytest.raises(KitaruNotFoundError):
        fast().call_ids("00000000-0000-4000-8000-000000000000")
