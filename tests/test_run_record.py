"""A run's plain status updates on the local SQLite store (``backend/run_record.py``).

Kitaru writes the orchestrator run id, ``running``, ``completed`` and the late ``provisioning``
of a dynamic run with one guarded ``UPDATE`` each and builds the response from the run's
previous one. These tests hold that shortcut to ZenML's own ``update_run`` on the same real
store: the same row, each response equal to what ZenML reads back at that moment, ZenML's path
for what it does not cover (a stale response, a reason), and a kill inside the completion's
transaction that leaves the run as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from flows import basic
from runtime_helpers import TESTS_DIR, new_salt

from kitaru_core.backend import run_record

# Columns that differ between two executions of the same flow with different inputs.
PER_RUN = {
    "id",
    "created",
    "updated",
    "name",
    "orchestrator_run_id",
    "start_time",
    "end_time",
    "index",
    "snapshot_id",
    "pipeline_configuration",
    "client_environment",
    "orchestrator_environment",
}
STATUSES = ["orchestrator run id", "running", "completed", "provisioning"]


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch, zenml_client: Any) -> list[tuple[str, Any, Any]]:
    """``(what, response, what ZenML reads back right then)`` of every fast update."""
    seen: list[tuple[str, Any, Any]] = []
    original = run_record.update

    def spy(store: Any, kept: Any, run_update: Any) -> Any:
        response = original(store, kept, run_update)
        if response is not None:
            what = run_update.status.value if run_update.status else "orchestrator run id"
            seen.append((what, response, _zenml_reads(store, kept.id)))
        return response

    monkeypatch.setattr(run_record, "update", spy)
    return seen


def _zenml_reads(store: Any, run_id: UUID) -> Any:
    """The run as ZenML's own ``get_run`` reads it now."""
    with run_record.zenml_path_only():
        return store.get_run(run_id, hydrate=True)


def _run_row(client: Any, exec_id: str) -> dict[str, Any]:
    from sqlalchemy import select
    from zenml.zen_stores.schemas import PipelineRunSchema

    runs = PipelineRunSchema.__table__  # type: ignore[attr-defined]
    with client.zen_store.engine.connect() as connection:
        row = connection.execute(select(runs).where(runs.c.id == UUID(exec_id))).mappings().one()
    return dict(row)


def _run(salt: str) -> str:
    handle = basic.value_flow.run("dict", salt)
    assert handle.wait(timeout=120) == basic.sample("dict")
    return handle.exec_id


def _run_both_ways() -> tuple[str, str]:
    _run(new_salt())  # ZenML's path records the run-end onboarding step once per process
    fast = _run(new_salt())
    with run_record.zenml_path_only():
        zenml = _run(new_salt())
    return fast, zenml


def test_a_run_is_stored_exactly_as_zenml_stores_it(
    zenml_client: Any, fast: list[tuple[str, Any, Any]]
) -> None:
    fast_id, zenml_id = _run_both_ways()
    assert [what for what, response, _ in fast if str(response.id) == fast_id] == STATUSES
    assert not [response for _, response, _ in fast if str(response.id) == zenml_id]
    mine, theirs = _run_row(zenml_client, fast_id), _run_row(zenml_client, zenml_id)
    assert set(mine) == set(theirs)
    same = {key: value for key, value in mine.items() if key not in PER_RUN}
    assert same == {key: value for key, value in theirs.items() if key not in PER_RUN}
    assert mine["status"] == "completed" and not mine["in_progress"]
    for row in (mine, theirs):
        assert row["orchestrator_run_id"]
        assert row["start_time"] <= row["end_time"] <= row["updated"]


def test_every_fast_response_is_what_zenml_reads_back(
    zenml_client: Any, fast: list[tuple[str, Any, Any]]
) -> None:
    fast_id, _ = _run_both_ways()
    mine = [
        (what, response, stored) for what, response, stored in fast if str(response.id) == fast_id
    ]
    assert [what for what, _, _ in mine] == STATUSES
    for what, response, stored in mine:
        assert response.model_dump() == stored.model_dump(), what
    # The completion's response shows the result Kitaru stored in the run's metadata.
    completed = mine[2][1]
    assert completed.status.value == "completed" and completed.run_metadata


def test_a_kept_run_is_read_as_zenml_reads_it(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ZenML re-reads the finished run for the caller: that read is answered from the kept
    response (metadata read again) while the store shows the same; a tag added to the run
    sends the next read to ZenML."""
    store = zenml_client.zen_store
    answered: list[Any] = []
    original = run_record.read

    def spy(store: Any, kept: Any) -> Any:
        response = original(store, kept)
        answered.append(response)
        return response

    monkeypatch.setattr(run_record, "read", spy)
    _run(new_salt())  # the run-end onboarding step, recorded once per process
    answered.clear()
    exec_id = _run(new_salt())
    assert answered and answered[-1] is not None  # the final re-read of the run
    assert answered[-1].model_dump() == _zenml_reads(store, UUID(exec_id)).model_dump()
    zenml_client.create_run_metadata(
        metadata={"extra": {"a": 1}}, resources=[_run_resource(exec_id)]
    )
    read = store.get_run(UUID(exec_id))
    assert answered[-1] is read and read.run_metadata["extra"] == {"a": 1}
    assert read.model_dump() == _zenml_reads(store, UUID(exec_id)).model_dump()
    _tag(zenml_client, exec_id)
    tagged = store.get_run(UUID(exec_id))
    assert answered[-1] is None and [tag.name for tag in tagged.tags] == ["run-record-test"]


def _run_resource(exec_id: str) -> Any:
    from zenml.enums import MetadataResourceTypes
    from zenml.models import RunMetadataResource

    return RunMetadataResource(id=UUID(exec_id), type=MetadataResourceTypes.PIPELINE_RUN)


def _tag(client: Any, exec_id: str) -> None:
    from zenml.utils.tag_utils import add_tags

    add_tags(tags=["run-record-test"], run=UUID(exec_id))


def test_a_stale_response_or_a_reason_is_left_to_zenml(zenml_client: Any) -> None:
    """The guarded write changes nothing when the run changed since the kept response, or
    when the update carries what ZenML's method handles."""
    from zenml.enums import ExecutionStatus
    from zenml.models import PipelineRunUpdate

    store = zenml_client.zen_store
    exec_id = _run(new_salt())
    kept = _zenml_reads(store, UUID(exec_id))
    running = kept.model_copy(
        update={"body": kept.body.model_copy(update={"status": ExecutionStatus.RUNNING})}
    )
    before = _run_row(zenml_client, exec_id)
    update = PipelineRunUpdate(status=ExecutionStatus.COMPLETED)
    assert run_record.update(store, running, update) is None  # the row is not as kept shows
    assert _run_row(zenml_client, exec_id) == before
    reason = PipelineRunUpdate(status=ExecutionStatus.RUNNING, status_reason="why")
    assert not run_record._is_plain(reason)
    assert not run_record._is_plain(PipelineRunUpdate(status=ExecutionStatus.FAILED))
    # Finished: ZenML refuses another status; the kept response stays ZenML's business.
    assert run_record.update(store, kept, PipelineRunUpdate(status=ExecutionStatus.RUNNING)) is None
    assert _run_row(zenml_client, exec_id) == before


def test_off_when_switched_off_or_not_a_local_sqlite_store(
    zenml_client: Any, fast: list[tuple[str, Any, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_record._applies(zenml_client.zen_store)
    assert not run_record._applies(object())  # a REST store has no engine
    with run_record.zenml_path_only():
        _run(new_salt())
    assert fast == []
    monkeypatch.setenv("ZENML_SERVER", "true")  # the store a ZenML server process serves
    assert not run_record._applies(zenml_client.zen_store)


def test_a_kill_inside_the_completion_leaves_the_run_running(
    zenml_client: Any, tmp_path: Path
) -> None:
    """The process dies after the completion's ``UPDATE`` ran but before its transaction
    commits: SQLite rolls it back, so the run is still ``running`` with no end, as a crash of
    ZenML's own method would leave it (Kitaru's crash detection takes it from there)."""
    salt = new_salt()
    marker = tmp_path / "killed"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from kitaru_core.backend import run_record
        planned, read = run_record._new_values, run_record._run_metadata
        completing = []

        def new_values(store, connection, row, run_update):
            values = planned(store, connection, row, run_update)
            completing.append(bool(values) and values.get("status") == "completed")
            return values

        def run_metadata(connection, run_id):
            if completing[-1]:  # the completion's UPDATE ran; its transaction is open
                open({str(marker)!r}, "w").write(str(run_id))
                os.kill(os.getpid(), signal.SIGKILL)
            return read(connection, run_id)

        run_record._new_values = new_values
        run_record._run_metadata = run_metadata
        from flows import basic
        basic.value_flow.run("dict", "warm-" + {salt!r}).wait(timeout=120)
        basic.value_flow.run("dict", {salt!r}).wait(timeout=120)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=dict(os.environ), capture_output=True, timeout=300
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    row = _run_row(zenml_client, marker.read_text())
    assert row["status"] == "running" and row["in_progress"]
    assert row["end_time"] is None and row["orchestrator_run_id"]
