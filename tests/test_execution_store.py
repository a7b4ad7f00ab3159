"""The execution store (``kitaru_core/backend/store``): both adapters, one set of answers.

Real flows run first on the session's real store — completed, failed, waiting, a crashed
process, cached calls, an ``llm()`` call, ``log()`` metadata and printed lines — and then every
read of the interface is made through ``SQLiteStore`` (plain SQLite queries) and ``ZenMLStore``
(ZenML's client) on that same store, and must give the same answer. The writes (crash marking,
cancellation, stopping, the retry link), the checkpoint cache's lookup and the record of a
computed call are held to the same rule, and the adapter choice to "one adapter per store".
What a watcher polls also comes from the adapter, and the watcher follows the store's choice
when it changes.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flows_catalog.logged import logged_flow
from flows_exec import approval, listing, records
from flows_exec.common import marks
from flows_exec.support import FLOWS_DIR, new_salt, poll
from runtime_helpers import BackgroundRun, pending_wait

from kitaru_core import liveness
from kitaru_core.backend import local_store, step_cache
from kitaru_core.backend.local_changes import LocalChanges
from kitaru_core.backend.replay import RETRIED_KEY
from kitaru_core.backend.server_changes import ServerChanges
from kitaru_core.backend.store import execution_store, zenml_adapter
from kitaru_core.backend.store.cache_lookup import ASK_ZENML
from kitaru_core.backend.store.interface import ExecutionStore
from kitaru_core.backend.store.sqlite_store import SQLiteStore
from kitaru_core.backend.store.zenml_store import ZenMLStore
from kitaru_core.errors import KitaruNotFoundError
from kitaru_core.models import ExecutionStatus
from kitaru_core.services import changes

ADAPTERS = ["sqlite", "zenml"]
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def adapter(name: str) -> ExecutionStore:
    if name == "zenml":
        return zenml_adapter()
    store = execution_store()
    assert isinstance(store, SQLiteStore), "the fast path should apply to the test store"
    return store


def other(name: str) -> ExecutionStore:
    return adapter("zenml" if name == "sqlite" else "sqlite")


def both(read: Any) -> tuple[Any, Any]:
    """``read(store)`` through each adapter, as plain data."""
    answers = [read(adapter(name)) for name in ADAPTERS]
    return tuple(_plain(answer) for answer in answers)  # type: ignore[return-value]


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@pytest.fixture(scope="module")
def finished(zenml_client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Finished executions: completed, failed, a cached re-run, llm usage and logged metadata."""
    value = f"store-{new_salt()}"
    found = {
        "completed": listing.compared_flow.run(value).exec_id,
        "failed": listing.compared_flow.run(f"store-bad-{new_salt()}", fail=True).exec_id,
        "cached": listing.compared_flow.run(value).exec_id,  # the same input: a cache hit
    }
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KITARU_LLM_MOCK_RESPONSE", "a mocked summary")
        handle = logged_flow.run(str(tmp_path_factory.mktemp("logged")), new_salt())
        assert handle.wait() == 3
    found["logged"] = handle.exec_id
    observed = records.observed_flow.run(str(tmp_path_factory.mktemp("observed")), new_salt())
    assert observed.wait()["total"] == 6
    found["observed"] = observed.exec_id
    return found


@pytest.mark.parametrize("kind", ["completed", "failed", "cached", "logged"])
def test_every_read_of_a_finished_execution_is_the_same(
    finished: dict[str, str], kind: str
) -> None:
    exec_id = finished[kind]
    quick, slow = both(lambda store: store.get_execution(exec_id))
    assert quick == slow
    assert quick["checkpoints"]
    assert both(lambda store: store.run_state(exec_id)) == (
        [quick["status"], _result(exec_id)],
        [quick["status"], _result(exec_id)],
    )
    quick, slow = both(lambda store: store.call_ids(exec_id))
    assert quick == slow and quick
    quick, slow = both(lambda store: store.failure(exec_id))
    assert quick == slow
    assert (quick is not None) == (kind == "failed")


def _result(exec_id: str) -> dict[str, Any]:
    return adapter("sqlite").run_state(exec_id)[1]


def test_the_views_show_what_each_kind_of_execution_holds(finished: dict[str, str]) -> None:
    for name in ADAPTERS:
        store = adapter(name)
        failed = store.get_execution(finished["failed"])
        assert failed.status == ExecutionStatus.FAILED
        assert failed.failure is not None and failed.failure.checkpoint == "label"
        cached = store.get_execution(finished["cached"])
        assert cached.status == ExecutionStatus.COMPLETED
        assert [call.cached for call in cached.checkpoints] == [True]
        assert store.get_execution(finished["completed"]).checkpoints[0].cached is False
        logged = store.get_execution(finished["logged"])
        calls = {call.call_id: call for call in logged.checkpoints}
        # llm() usage shows as llm_usage on both paths, not as user metadata.
        assert calls["ask"].llm_usage is not None and calls["ask"].llm_usage.mocked
        assert calls["ask"].metadata == {}
        assert calls["fetch_rows"].metadata["source"] == "warehouse"
        assert {"phase", "salt", "big"} == set(logged.metadata)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"flow": "compared_flow", "size": 2},
        {"flow": "compared_flow", "offset": 1, "size": 3},
        {"flow": "compared_flow", "status": ExecutionStatus.FAILED},
        {"flow": "compared_flow", "status": ExecutionStatus.COMPLETED, "size": 2},
        {"flow": "compared_flow", "stack": "default"},
        {"flow": "compared_flow", "stack": "no-such-stack"},
        {"flow": "no_such_flow"},
    ],
    ids=repr,
)
def test_pages_are_the_same(finished: dict[str, str], query: dict[str, Any]) -> None:
    quick, slow = both(lambda store: store.list_executions(**query))
    assert quick == slow


def test_latest_is_the_same(finished: dict[str, str]) -> None:
    quick, slow = both(lambda store: store.latest(flow="compared_flow"))
    assert quick == slow
    failed = ExecutionStatus.FAILED
    quick, slow = both(lambda store: store.latest(flow="compared_flow", status=failed))
    assert quick == slow and quick["status"] == "failed"
    assert both(lambda store: store.latest(flow="no_such_flow")) == (None, None)


def test_unknown_and_malformed_ids_are_not_found_on_both(zenml_client: Any) -> None:
    for name in ADAPTERS:
        store = adapter(name)
        for exec_id in (UNKNOWN, "nope"):
            for read in (store.get_execution, store.run_state, store.call_ids, store.failure):
                with pytest.raises(KitaruNotFoundError, match=exec_id):
                    read(exec_id)


@pytest.fixture
def waiting(zenml_client: Any, tmp_path: Path) -> Iterator[str]:
    """An execution whose worker polls a pending wait (RUNNING in ZenML, waiting to users)."""
    salt = new_salt()
    background = BackgroundRun(approval.go_gate_flow, str(tmp_path), salt, timeout=60.0)
    condition = pending_wait(zenml_client, salt)
    exec_id = str(condition.run.id)
    try:
        yield exec_id
    finally:
        from kitaru_core.services import executions

        executions.input(exec_id)
        background.join().wait()


def test_a_waiting_execution_reads_the_same(waiting: str) -> None:
    quick, slow = both(lambda store: store.get_execution(waiting))
    assert quick == slow
    assert quick["status"] == "waiting" and quick["pending_wait"]["name"]
    quick, slow = both(lambda store: store.pending_waits())
    assert quick == slow
    assert waiting in [wait["exec_id"] for wait in quick]
    # The status filter follows the public status on both (ZenML itself says RUNNING).
    for status, listed in ((ExecutionStatus.WAITING, True), (ExecutionStatus.RUNNING, False)):
        query = {"flow": "go_gate_flow", "status": status, "size": 50}
        quick, slow = both(lambda store, query=query: store.list_executions(**query))
        assert quick == slow
        assert (waiting in [item["exec_id"] for item in quick[0]]) is listed


def _crash(workdir: Path) -> tuple[str, int]:
    """A flow run by a script that is killed in its second checkpoint: ``(exec_id, pid)``."""
    salt = new_salt()
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(FLOWS_DIR.parent)!r})
        from flows_exec.slow import ticking_flow
        ticking_flow.run({str(workdir)!r}, {salt!r}, steps=3, delay=0.1, hold=1, hold_delay=60)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        poll(lambda: marks(str(workdir), "tick1"), "the second checkpoint to start")
    finally:
        process.kill()
        process.wait(timeout=30)
    # Raw rows: reading them marks nothing.
    rows, _ = zenml_adapter().run_rows(
        flow="ticking_flow", status=None, stack=None, offset=0, size=50
    )
    for row in rows:
        record = liveness.read(row.exec_id)
        if record is not None and record["pid"] == process.pid:
            return row.exec_id, process.pid
    raise AssertionError("the killed script's execution was not found")


@pytest.mark.parametrize("read", ["state", "list"])
@pytest.mark.parametrize("first", ADAPTERS)
def test_a_crashed_process_is_detected_and_marked_by_either(
    zenml_client: Any, tmp_path: Path, first: str, read: str
) -> None:
    exec_id, pid = _crash(tmp_path)
    assert adapter("zenml").run_row(exec_id).status == "running"  # as the dead process left it
    if read == "state":  # what a handle polls: it must see the failure
        assert adapter(first).run_state(exec_id)[0] == ExecutionStatus.FAILED
    else:  # a list filtered on "running" marks it, and no longer shows it
        query = {"flow": "ticking_flow", "status": ExecutionStatus.RUNNING, "size": 50}
        items, _ = adapter(first).list_executions(**query)
        assert exec_id not in [item.exec_id for item in items]
    assert adapter("zenml").run_row(exec_id).status == "failed"  # marked in the store
    crashed = adapter(first).get_execution(exec_id)
    assert crashed.status_reason is not None and f"pid {pid}" in crashed.status_reason
    assert {call.call_id: call.status for call in crashed.checkpoints} == {
        "tick0": ExecutionStatus.COMPLETED,
        "tick1": ExecutionStatus.FAILED,
    }
    assert other(first).get_execution(exec_id) == crashed
    assert exec_id not in [wait.exec_id for wait in adapter(first).pending_waits()]


def test_crash_detection_trusts_no_missing_record_on_a_server() -> None:
    """Without a liveness record here, an old active run is crashed on the local store (every
    process shares this config dir) but not on a server (it may run elsewhere)."""
    from datetime import UTC, datetime, timedelta

    from kitaru_core.backend.store import views
    from kitaru_core.backend.store.rows import RunRow
    from kitaru_core.naming import LOCAL_LOGS_KEY

    old = datetime.now(UTC) - timedelta(hours=1)
    run = RunRow(
        exec_id=str(uuid.uuid4()),
        name="r",
        flow="f",
        status="running",
        status_reason=None,
        created=old,
        started_at=old,
        ended_at=None,
        stack="default",
        wait_pending=False,
        extra={LOCAL_LOGS_KEY: True},
    )
    assert views.crash_reason(run, remote=False) is not None
    assert views.crash_reason(run, remote=True) is None
    # Finished runs and runs not started by a local Kitaru process are never "crashed".
    assert views.crash_reason(dataclasses.replace(run, status="completed"), remote=False) is None
    assert views.crash_reason(dataclasses.replace(run, extra={}), remote=False) is None


def test_stacks_are_the_same(zenml_client: Any) -> None:
    quick, slow = both(lambda store: store.list_stacks())
    assert quick == slow and any(stack["is_active"] for stack in quick)
    assert both(lambda store: store.active_stack()) == (slow_active := _active(), slow_active)


def _active() -> Any:
    return zenml_adapter().active_stack().model_dump()


def test_the_adapter_is_chosen_by_the_fast_path_guard(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(execution_store(), SQLiteStore)
    assert execution_store() is execution_store()  # one adapter per store
    monkeypatch.setattr(local_store, "open_local", lambda: None)  # as on a server
    assert isinstance(execution_store(), ZenMLStore)
    assert execution_store() is zenml_adapter()


def test_one_adapter_per_store_and_another_for_another_store(
    zenml_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = execution_store()
    assert isinstance(session, SQLiteStore)
    assert execution_store() is session
    copy = _copy_of_store(tmp_path)
    monkeypatch.setenv("ZENML_STORE_URL", f"sqlite:///{copy}")  # this process switches store
    switched = execution_store()
    assert isinstance(switched, SQLiteStore) and switched is not session
    assert switched.local.database == copy and session.local.database != copy
    assert execution_store() is switched
    monkeypatch.setenv("ZENML_STORE_URL", "https://kitaru.invalid")  # a server
    assert execution_store() is zenml_adapter()
    monkeypatch.delenv("ZENML_STORE_URL")  # back to the session's store: its adapter again
    assert execution_store() is session


def test_log_lines_are_the_same(finished: dict[str, str]) -> None:
    for kind in ("completed", "observed"):
        quick, slow = both(lambda store, kind=kind: store.log_entries(finished[kind]))
        assert quick == slow
    messages = [entry["message"] for entry in quick]
    assert any(message.startswith("flow body starts") for message in messages)
    assert "attempt 2" in messages
    assert {"load_rows", "shaky_total"} <= {entry["checkpoint"] for entry in quick}
    assert both(lambda store: store.log_entries(UNKNOWN)) == ([], [])


@pytest.mark.parametrize("first", ADAPTERS)
def test_a_cancellation_reads_the_same_whichever_adapter_wrote_it(
    zenml_client: Any, tmp_path: Path, first: str
) -> None:
    exec_id, _ = _crash(tmp_path)  # a run left RUNNING, as a flow body is when it is cancelled
    adapter(first).mark_cancelled(exec_id)
    assert adapter("zenml").run_row(exec_id).status == "stopped"  # written in the store
    quick, slow = both(lambda store: store.get_execution(exec_id))
    assert quick == slow
    assert quick["status"] == ExecutionStatus.CANCELLED
    assert quick["status_reason"] == "Cancelled by request."
    assert both(lambda store: store.run_state(exec_id)[0]) == (
        ExecutionStatus.CANCELLED,
        ExecutionStatus.CANCELLED,
    )


@pytest.mark.parametrize("first", ADAPTERS)
def test_a_stopped_execution_reads_the_same_whichever_adapter_wrote_it(
    zenml_client: Any, tmp_path: Path, first: str
) -> None:
    exec_id, _ = _crash(tmp_path)  # a run left RUNNING, its second call unfinished
    reason = f"Cancelled by request; stopped by the {first} adapter."
    adapter(first).stop_run(exec_id, reason)
    assert adapter("zenml").run_row(exec_id).status == "stopped"  # written in the store
    quick, slow = both(lambda store: store.get_execution(exec_id))
    assert quick == slow
    assert quick["status"] == ExecutionStatus.CANCELLED and quick["status_reason"] == reason
    assert {call["call_id"]: call["status"] for call in quick["checkpoints"]} == {
        "tick0": ExecutionStatus.COMPLETED,
        "tick1": ExecutionStatus.CANCELLED,  # the unfinished call is stopped with it
    }


@pytest.mark.parametrize("first", ADAPTERS)
def test_the_retry_link_reads_the_same_whichever_adapter_wrote_it(
    zenml_client: Any, first: str
) -> None:
    failed = listing.compared_flow.run(f"store-retry-{new_salt()}", fail=True).exec_id
    retry = listing.compared_flow.run(f"store-retry-{new_salt()}").exec_id
    assert RETRIED_KEY not in adapter("zenml").run_row(failed, detail=True).metadata
    adapter(first).mark_retried(failed, retry)
    quick, slow = both(lambda store: store.run_row(failed, detail=True).metadata[RETRIED_KEY])
    assert quick == slow == retry
    quick, slow = both(lambda store: store.get_execution(failed))
    assert quick == slow and quick["status"] == ExecutionStatus.FAILED


def test_each_adapter_offers_what_a_watcher_polls(zenml_client: Any) -> None:
    quick = adapter("sqlite")
    assert isinstance(quick, SQLiteStore)
    source = quick.change_source()
    assert isinstance(source, LocalChanges) and source.store == quick.local
    assert source.signature() == source.signature()  # nothing written between: the same
    assert isinstance(adapter("zenml").change_source(), ServerChanges)


def test_the_watcher_follows_the_stores_choice(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that moves to ZenML's client (as after a login to a server) and back is watched
    through each adapter's source in turn, and what ran around each move is announced."""
    monkeypatch.setattr(changes, "STORE_RECHECK_SECONDS", 0.0)  # ask the store at every poll
    tracker = changes.ChangeTracker()
    assert tracker.poll() == changes.Changes()  # the first picture, of the local file
    assert tracker.poll_seconds == 0.0
    with monkeypatch.context() as server:
        server.setattr(local_store, "open_local", lambda: None)  # as on a server
        before = listing.compared_flow.run(f"store-watch-{new_salt()}").exec_id
        moved = tracker.poll()  # the file's last look, and the backend's first picture
        assert tracker.poll_seconds == changes.SERVER_POLL_SECONDS
        during = listing.compared_flow.run(f"store-watch-{new_salt()}").exec_id
        seen = tracker.poll()
    after = listing.compared_flow.run(f"store-watch-{new_salt()}").exec_id
    back = tracker.poll()  # the backend's last answer, and the file again
    assert tracker.poll_seconds == 0.0
    assert moved is not None and before in moved.executions
    assert seen is not None and during in seen.executions
    assert back is not None and after in back.executions
    latest = listing.compared_flow.run(f"store-watch-{new_salt()}").exec_id
    found = tracker.poll()
    assert found is not None and latest in found.executions and after not in found.executions


def _artifact_ids(by_name: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {name: [artifact.id for artifact in items] for name, items in by_name.items()}


def test_the_cache_lookup_is_sqlites_and_left_to_zenml_by_zenml(
    finished: dict[str, str], zenml_client: Any
) -> None:
    from zenml.orchestrators import cache_utils

    zen_store, project = zenml_client.zen_store, zenml_client.active_project.id
    quick, slow = adapter("sqlite"), adapter("zenml")
    assert quick.keeps_cache_of(zen_store) and not slow.keeps_cache_of(zen_store)
    steps = zenml_client.get_pipeline_run(finished["observed"]).steps
    assert steps
    for call_id, step in steps.items():
        with step_cache.zenml_path_only():  # ZenML's own query, not the hook
            theirs = cache_utils.get_cached_step_run(step.cache_key)
        mine = quick.cached_step_run(zen_store, step.cache_key, project)
        assert mine is not None and mine is not ASK_ZENML and theirs is not None, call_id
        assert mine.id == theirs.id
        for field in ("cache_expires_at", "docstring", "source_code"):
            assert getattr(mine, field) == getattr(theirs, field), field
        assert _artifact_ids(mine.inputs) == _artifact_ids(theirs.inputs)
        assert _artifact_ids(mine.outputs) == _artifact_ids(theirs.outputs)
        assert slow.cached_step_run(zen_store, step.cache_key, project) is ASK_ZENML
    assert quick.cached_step_run(zen_store, "no-such-key", project) is None  # a miss
    # A store that is not this file (a server's client has no engine): ZenML's code answers.
    assert not quick.keeps_cache_of(object())
    assert quick.cached_step_run(object(), step.cache_key, project) is ASK_ZENML
    assert slow.record_cache_hit(zen_store, object()) is None


def _spy_on_records(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The names of the step runs (and artifacts) Kitaru's own record wrote, by write: only
    what it did write (it answers ``None`` when ZenML's method must do it)."""
    from kitaru_core.backend import artifact_record, step_record

    written: dict[str, list[str]] = {"start": [], "completion": [], "output": []}
    for module, name, kind in (
        (step_record, "create", "start"),
        (step_record, "complete", "completion"),
        (artifact_record, "record", "output"),
    ):
        original = getattr(module, name)

        def spy(*args: Any, _original: Any = original, _kind: str = kind) -> Any:
            response = _original(*args)
            if response is not None:
                written[_kind].append(response.name)
            return response

        monkeypatch.setattr(module, name, spy)
    return written


def test_a_computed_call_is_recorded_by_sqlite_and_left_to_zenml_by_zenml(
    zenml_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A computed call's start, completion and output artifact: written by Kitaru's record with
    ``SQLiteStore`` chosen, by ZenML's own methods with ``ZenMLStore`` chosen (as on a server or
    an unknown schema), and stored the same either way."""
    from flows import cache_paths
    from test_step_record import CALL_IDS, stored_calls

    def run_fan_flow() -> str:
        count = 10 + int(new_salt()[:6], 16) % 100_000  # new inputs: every call computes
        handle = cache_paths.fan_flow.run(str(tmp_path), new_salt(), count=count)
        handle.wait(timeout=120)
        return handle.exec_id

    written = _spy_on_records(monkeypatch)
    by_sqlite = run_fan_flow()
    assert step_cache._store is adapter("sqlite")  # the run's choice, handed to the hooks
    assert sorted(written["start"]) == sorted(CALL_IDS)
    # ``noted`` logs metadata: its completion is ZenML's (SQLiteStore declines it).
    assert sorted(written["completion"]) == sorted(CALL_IDS[:-1])
    assert len(written["output"]) == len(CALL_IDS)
    before = {kind: list(names) for kind, names in written.items()}
    with monkeypatch.context() as server:
        server.setattr(local_store, "open_local", lambda: None)  # as on a server
        by_zenml = run_fan_flow()
        assert step_cache._store is zenml_adapter()
    assert written == before  # nothing of the second run went through Kitaru's record
    mine, theirs = stored_calls(zenml_client, by_sqlite), stored_calls(zenml_client, by_zenml)
    assert sorted(mine) == sorted(theirs) == sorted(CALL_IDS)
    for call_id in CALL_IDS:
        for part in ("row", "outputs", "inputs", "parents"):
            assert mine[call_id][part] == theirs[call_id][part], (call_id, part)
        assert mine[call_id]["row"]["status"] == "completed"


def test_the_zenml_adapter_leaves_every_record_to_zenml(zenml_client: Any) -> None:
    """ZenML's own methods write what an adapter declines: the ZenML adapter any call, and
    ``SQLiteStore`` a call on a store that is not its file (a server's client)."""
    zen_store = zenml_client.zen_store
    for store, of in ((adapter("zenml"), zen_store), (adapter("sqlite"), object())):
        assert not store.keeps_cache_of(of)
        assert store.record_call_start(of, object()) is None
        assert store.record_call_completion(of, object(), object()) is None
        assert store.record_output(of, object()) is None


def _copy_of_store(folder: Path) -> Path:
    """A consistent copy of the session's store file (SQLite's backup API)."""
    import sqlite3

    original = local_store.local_database()
    assert original is not None
    copy = folder / "zenml.db"
    with sqlite3.connect(original) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy
