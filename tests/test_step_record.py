"""A computed checkpoint's completion on the local SQLite store (``backend/step_record.py``).

Kitaru marks a computed step run completed and links its outputs with one update and one insert
in one transaction, and builds the response from the one its creation returned. These tests hold
that shortcut to ZenML's own ``update_run_step`` on the same real store: the same rows, the
same response as ZenML reads back, the same view in ``executions get``, ZenML's path for what it
does not cover (checkpoint metadata), and a completion that survives a SIGKILL right after it.
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
from flows import cache_paths
from runtime_helpers import TESTS_DIR, checkpoint_calls, new_salt

from kitaru_core.backend import step_cache, step_record
from kitaru_core.backend.store import execution_store
from kitaru_core.models import ExecutionStatus

# Columns that differ between two executions of the same flow with different inputs.
PER_RUN = {
    "id",
    "created",
    "updated",
    "start_time",
    "end_time",
    "pipeline_run_id",
    "snapshot_id",
    "cache_key",
    "latest_heartbeat",
}
CALL_IDS = ["make_items", "measure", "measure_2", "measure_3", "measure_4", "noted"]


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    return str(tmp_path)


@pytest.fixture
def completed(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The responses the fast path returned (it returns ``None`` when ZenML's path is used)."""
    responses: list[Any] = []
    original = step_record.complete

    def spy(store: Any, running: Any, update: Any) -> Any:
        response = original(store, running, update)
        if response is not None:
            responses.append(response)
        return response

    monkeypatch.setattr(step_record, "complete", spy)
    return responses


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The responses the fast creation returned."""
    responses: list[Any] = []
    original = step_record.create

    def spy(store: Any, request: Any) -> Any:
        response = original(store, request)
        if response is not None:
            responses.append(response)
        return response

    monkeypatch.setattr(step_record, "create", spy)
    return responses


def _tables() -> dict[str, Any]:
    from zenml.zen_stores.schemas import (
        StepRunInputArtifactSchema,
        StepRunOutputArtifactSchema,
        StepRunParentsSchema,
        StepRunSchema,
    )
    from zenml.zen_stores.schemas.pipeline_snapshot_schemas import StepConfigurationSchema

    schemas = {
        "steps": StepRunSchema,
        "inputs": StepRunInputArtifactSchema,
        "outputs": StepRunOutputArtifactSchema,
        "parents": StepRunParentsSchema,
        "configs": StepConfigurationSchema,
    }
    return {name: schema.__table__ for name, schema in schemas.items()}  # type: ignore[attr-defined]


def stored_calls(client: Any, exec_id: str) -> dict[str, dict[str, Any]]:
    """Every stored column of the step runs of one execution and their links, by call id: an
    input as the name of the call that produced it (artifact ids are new in every run)."""
    from sqlalchemy import select

    t = _tables()
    steps, inputs, outputs, parents = t["steps"], t["inputs"], t["outputs"], t["parents"]
    rows: dict[str, dict[str, Any]] = {}
    with client.zen_store.engine.connect() as connection:
        found = (
            connection.execute(select(steps).where(steps.c.pipeline_run_id == UUID(exec_id)))
            .mappings()
            .all()
        )
        names = {step["id"]: step["name"] for step in found}
        producers = {
            row.artifact_id: names[row.step_id]
            for row in connection.execute(
                select(outputs.c.artifact_id, outputs.c.step_id).where(
                    outputs.c.step_id.in_(list(names))
                )
            )
        }
        for step in found:
            links = connection.execute(
                select(outputs.c.name).where(outputs.c.step_id == step["id"])
            ).all()
            rows[step["name"]] = {
                "row": {key: value for key, value in step.items() if key not in PER_RUN},
                "outputs": sorted(name for (name,) in links),
                "inputs": sorted(
                    (
                        row.name,
                        producers.get(row.artifact_id),
                        row.type,
                        row.input_index,
                        row.chunk_index,
                        row.chunk_size,
                    )
                    for row in connection.execute(
                        select(inputs).where(inputs.c.step_id == step["id"])
                    )
                ),
                "parents": sorted(
                    names[row.parent_id]
                    for row in connection.execute(
                        select(parents.c.parent_id).where(parents.c.child_id == step["id"])
                    )
                ),
                "config": _config(connection, step["id"]),
                "times": (step["start_time"], step["end_time"], step["updated"]),
            }
    return rows


def _config(connection: Any, step_id: UUID) -> list[Any]:
    from sqlalchemy import select

    configs = _tables()["configs"]
    return connection.execute(
        select(configs.c.config, configs.c.index).where(configs.c.step_run_id == step_id)
    ).all()


def _new_count() -> int:
    """A list length no other run uses: every call of the flow then computes (``noted``'s
    input depends on the length only)."""
    return 10 + int(new_salt()[:6], 16) % 100_000


def _run_both_ways(workdir: str) -> tuple[str, str]:
    """The same flow on new inputs: once with the fast completion, once with ZenML's."""
    fast = cache_paths.fan_flow.run(workdir, new_salt(), count=_new_count())
    fast.wait(timeout=120)
    with step_record.zenml_path_only():
        zenml = cache_paths.fan_flow.run(workdir, new_salt(), count=_new_count())
        zenml.wait(timeout=120)
    return fast.exec_id, zenml.exec_id


def test_a_computed_call_is_stored_exactly_as_zenml_stores_it(
    zenml_client: Any, workdir: str, created: list[Any], completed: list[Any]
) -> None:
    fast, zenml = _run_both_ways(workdir)

    # Every call started on the fast path; every one completed on it except the one that logs
    # metadata (ZenML's path).
    assert sorted(response.name for response in created) == sorted(CALL_IDS)
    assert sorted(response.name for response in completed) == sorted(CALL_IDS[:-1])
    fast_rows, zenml_rows = stored_calls(zenml_client, fast), stored_calls(zenml_client, zenml)
    assert sorted(fast_rows) == sorted(zenml_rows) == sorted(CALL_IDS)
    for call_id in CALL_IDS:
        mine, theirs = fast_rows[call_id], zenml_rows[call_id]
        for part in ("row", "outputs", "inputs", "parents"):
            assert mine[part] == theirs[part], (call_id, part)
        # The configuration holds the call's parameters (this run's inputs): same shape.
        assert [index for _, index in mine["config"]] == [index for _, index in theirs["config"]]
        assert mine["row"]["status"] == "completed"
        assert mine["outputs"] == ["output"], call_id
        start, end, updated = mine["times"]
        assert start <= end <= updated, call_id
    assert fast_rows["measure"]["inputs"] == [("items", "make_items", "step_output", 0, None, None)]
    # ``noted`` reads ``measure``'s output and follows ``measure_2``, the last call before it.
    assert fast_rows["noted"]["parents"] == ["measure", "measure_2"]


def test_the_fast_responses_are_what_zenml_reads_back(
    zenml_client: Any, workdir: str, created: list[Any], completed: list[Any]
) -> None:
    _run_both_ways(workdir)
    assert len(completed) == len(CALL_IDS) - 1
    for response in completed:
        stored = zenml_client.zen_store.get_run_step(response.id, hydrate=True)
        assert response.model_dump() == stored.model_dump(), response.name
    # A start's response is the stored row as it was then: running, no end, no outputs.
    assert len(created) == len(CALL_IDS)
    for response in created:
        stored = zenml_client.zen_store.get_run_step(response.id, hydrate=True).model_dump()
        started = response.model_dump()
        assert started["body"]["status"] == "running" and started["body"]["end_time"] is None
        assert started["resources"]["outputs"] == {}
        for key in ("status", "end_time", "updated", "latest_heartbeat"):
            del started["body"][key], stored["body"][key]
        del started["resources"]["outputs"], stored["resources"]["outputs"]
        started["metadata"]["run_metadata"] = stored["metadata"]["run_metadata"]  # ``noted``
        assert started == stored, response.name


def test_executions_get_shows_the_same_checkpoints_either_way(
    zenml_client: Any, workdir: str
) -> None:
    fast, zenml = _run_both_ways(workdir)
    views = [checkpoint_calls(exec_id) for exec_id in (fast, zenml)]
    assert [sorted(view) for view in views] == [sorted(CALL_IDS)] * 2
    for call_id in CALL_IDS:
        by_fast, by_zenml = (view[call_id] for view in views)
        assert by_fast.status == by_zenml.status == ExecutionStatus.COMPLETED
        assert by_fast.cached is by_zenml.cached is False
        assert len(by_fast.outputs) == len(by_zenml.outputs) == 1
    from kitaru_core.backend.runs import load_result

    for exec_id in (fast, zenml):
        result = load_result(exec_id)
        count = result["scores"][0] // 2
        assert result["scores"] == [2 * count, 3 * count, 4 * count]
        assert result["note"] == f"score {2 * count}"


def test_a_recorded_completion_is_reused_by_a_cached_rerun(
    zenml_client: Any, workdir: str, completed: list[Any]
) -> None:
    salt, count = new_salt(), _new_count()
    first = cache_paths.fan_flow.run(workdir, salt, count=count)
    assert first.wait(timeout=120)["note"] == f"score {2 * count}"
    assert len(completed) == len(CALL_IDS) - 1  # computed, and completed by the fast path
    again = cache_paths.fan_flow.run(workdir, salt, count=count)
    calls = checkpoint_calls(again.exec_id)
    assert all(call.cached for call in calls.values())
    assert again.wait(timeout=60) == first.wait(timeout=1)


def test_off_when_switched_off_or_not_a_local_sqlite_store(
    zenml_client: Any,
    workdir: str,
    created: list[Any],
    completed: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = zenml_client.zen_store
    step_cache.use_store(execution_store)  # the run's store choice, as a flow body makes it
    assert _kitaru_records(store)
    assert not _kitaru_records(object())  # a REST store has no engine
    with step_record.zenml_path_only():
        assert not _kitaru_records(store)
        cache_paths.fan_flow.run(workdir, new_salt(), count=_new_count()).wait(timeout=120)
    assert completed == created == []
    monkeypatch.setenv("ZENML_SERVER", "true")  # the store a ZenML server process serves
    assert not _kitaru_records(store)


def _kitaru_records(zen_store: Any) -> bool:
    """Whether the hooks put ``zen_store``'s computed calls to Kitaru's record."""
    return step_record._recording_store(zen_store) is not None


def test_a_step_that_is_not_running_is_left_to_zenml(zenml_client: Any, workdir: str) -> None:
    """The guarded write changes nothing when the row is no longer ``running``."""
    from zenml.enums import ExecutionStatus as ZenStatus
    from zenml.models import StepRunUpdate

    from kitaru_core.backend.zenml_compat.store_internals import utc_now

    exec_id = cache_paths.fan_flow.run(workdir, new_salt(), count=_new_count()).exec_id
    step = zenml_client.zen_store.get_run_step(
        _step_id(zenml_client, exec_id, "make_items"), hydrate=True
    )
    assert step.status == ZenStatus.COMPLETED
    running = step.model_copy(
        update={"body": step.body.model_copy(update={"status": ZenStatus.RUNNING})}
    )
    running.resources.outputs = {}  # type: ignore[union-attr]
    running.metadata.run_metadata = {}  # type: ignore[union-attr]
    update = StepRunUpdate(status=ZenStatus.COMPLETED, end_time=utc_now(), outputs={})
    before = stored_calls(zenml_client, exec_id)["make_items"]
    assert step_record.complete(zenml_client.zen_store, running, update) is None
    assert stored_calls(zenml_client, exec_id)["make_items"] == before


def _step_id(client: Any, exec_id: str, name: str) -> UUID:
    from sqlalchemy import select
    from zenml.zen_stores.schemas import StepRunSchema

    steps = StepRunSchema.__table__  # type: ignore[attr-defined]
    with client.zen_store.engine.connect() as connection:
        return connection.execute(
            select(steps.c.id)
            .where(steps.c.pipeline_run_id == UUID(exec_id))
            .where(steps.c.name == name)
        ).scalar_one()


def test_a_completion_survives_a_kill_right_after_it(zenml_client: Any, workdir: str) -> None:
    """The process dies right after ``make_items`` returned: its completion is committed (by
    the fast path: the child writes a line per fast completion) and a rerun reuses it."""
    salt = new_salt()
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from kitaru_core.backend import step_record
        original = step_record.complete

        def complete(*args):
            response = original(*args)
            if response is not None:
                with open({str(Path(workdir) / "fast.lines")!r}, "a") as file:
                    file.write(response.name + "\\n")
            return response

        step_record.complete = complete
        from flows.cache_paths import crash_after_hit
        crash_after_hit.run({workdir!r}, {salt!r}, crash=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=dict(os.environ), capture_output=True, timeout=180
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    assert (Path(workdir) / "fast.lines").read_text().split() == ["make_items"]

    runs = zenml_client.list_pipeline_runs(
        pipeline_name="crash_after_hit", sort_by="desc:created", size=1
    ).items
    killed = stored_calls(zenml_client, str(runs[0].id))
    assert killed["make_items"]["row"]["status"] == "completed"
    assert killed["make_items"]["outputs"] == ["output"]
    # A new run of the same input is a cache hit of the completion the killed process wrote.
    again = cache_paths.crash_after_hit.run(workdir, salt, crash=False)
    assert again.wait(timeout=60) == f"{salt}-0"
    assert checkpoint_calls(again.exec_id)["make_items"].cached is True
    assert (Path(workdir) / "make_items.calls").read_text().count("x") == 1


def test_a_kill_inside_the_start_transaction_leaves_nothing_half_written(
    zenml_client: Any, workdir: str
) -> None:
    """The process dies after the second call's step row is inserted but before its
    transaction commits: SQLite rolls it back, so the killed run holds the first call complete
    and nothing of the second; a fresh run computes the second call once more and finishes."""
    salt, count = new_salt(), _new_count()
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from kitaru_core.backend import cache_record
        original = cache_record.insert_configuration
        seen = []

        def insert_configuration(*args):
            original(*args)
            seen.append(1)
            if len(seen) == 2:  # ``measure``: its step row is in the open transaction
                os.kill(os.getpid(), signal.SIGKILL)

        cache_record.insert_configuration = insert_configuration
        from flows.cache_paths import fan_flow
        fan_flow.run({workdir!r}, {salt!r}, count={count})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=dict(os.environ), capture_output=True, timeout=180
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]

    runs = zenml_client.list_pipeline_runs(
        pipeline_name="fan_flow", sort_by="desc:created", size=1
    ).items
    killed = stored_calls(zenml_client, str(runs[0].id))
    assert sorted(killed) == ["make_items"]
    assert killed["make_items"]["row"]["status"] == "completed"
    again = cache_paths.fan_flow.run(workdir, salt, count=count)
    assert again.wait(timeout=120)["scores"] == [2 * count, 3 * count, 4 * count]
    calls = checkpoint_calls(again.exec_id)
    assert calls["make_items"].cached is True and calls["measure"].cached is False
    assert (Path(workdir) / "make_items.calls").read_text().count("x") == 1


def _attempts(client: Any, exec_id: str) -> list[dict[str, Any]]:
    """Every stored column of every attempt of one execution's step runs, by version."""
    from sqlalchemy import select

    steps = _tables()["steps"]
    with client.zen_store.engine.connect() as connection:
        found = connection.execute(
            select(steps).where(steps.c.pipeline_run_id == UUID(exec_id)).order_by(steps.c.version)
        ).mappings()
        return [{key: value for key, value in row.items() if key not in PER_RUN} for row in found]


def test_a_retried_call_is_stored_exactly_as_zenml_stores_it(
    zenml_client: Any, tmp_path: Path, created: list[Any], completed: list[Any]
) -> None:
    """The first attempt starts on the fast path and fails through ZenML's; the second
    attempt's start is ZenML's (retry bookkeeping), its completion the fast one."""
    from flows import basic

    folders = [tmp_path / "fast", tmp_path / "zenml"]
    for folder in folders:
        folder.mkdir()
    fast = basic.retry_flow.run(str(folders[0]))
    assert fast.wait(timeout=120) == "succeeded on attempt 2"
    with step_record.zenml_path_only():
        zenml = basic.retry_flow.run(str(folders[1]))
        assert zenml.wait(timeout=120) == "succeeded on attempt 2"

    assert [response.name for response in created] == ["flaky_step"]
    assert [response.name for response in completed] == ["flaky_step"]
    assert completed[0].version == 2
    mine, theirs = _attempts(zenml_client, fast.exec_id), _attempts(zenml_client, zenml.exec_id)
    assert [row["status"] for row in mine] == ["retried", "completed"]
    assert mine == theirs


@pytest.fixture
def artifacts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The artifact version responses the fast path returned."""
    from kitaru_core.backend import artifact_record

    responses: list[Any] = []
    original = artifact_record.record

    def spy(store: Any, request: Any, user: Any) -> Any:
        response = original(store, request, user)
        if response is not None:
            responses.append(response)
        return response

    monkeypatch.setattr(artifact_record, "record", spy)
    return responses


def _output_versions(client: Any, exec_id: str) -> dict[str, dict[str, Any]]:
    """The artifact version row of each call's output, by call id, with its artifact's name."""
    from sqlalchemy import select
    from zenml.zen_stores.schemas import ArtifactSchema, ArtifactVersionSchema

    t = _tables()
    steps, outputs = t["steps"], t["outputs"]
    versions = ArtifactVersionSchema.__table__  # type: ignore[attr-defined]
    named = ArtifactSchema.__table__  # type: ignore[attr-defined]
    with client.zen_store.engine.connect() as connection:
        rows = connection.execute(
            select(steps.c.name.label("call"), named.c.name.label("artifact"), versions)
            .join(outputs, outputs.c.step_id == steps.c.id)
            .join(versions, versions.c.id == outputs.c.artifact_id)
            .join(named, named.c.id == versions.c.artifact_id)
            .where(steps.c.pipeline_run_id == UUID(exec_id))
        ).mappings()
        return {row["call"]: dict(row) for row in rows}


def test_an_output_artifact_is_stored_exactly_as_zenml_stores_it(
    zenml_client: Any, workdir: str, artifacts: list[Any]
) -> None:
    fast, zenml = _run_both_ways(workdir)

    assert len(artifacts) == len(CALL_IDS)  # every output of the fast run, none of ZenML's
    mine, theirs = _output_versions(zenml_client, fast), _output_versions(zenml_client, zenml)
    assert sorted(mine) == sorted(theirs) == sorted(CALL_IDS)
    # Differ with the value or the version (the numbering is checked below).
    per_version = {"id", "created", "updated", "uri", "content_hash", "item_count"}
    per_version |= {"version", "version_number"}
    for call_id in CALL_IDS:
        ours = {k: v for k, v in mine[call_id].items() if k not in per_version}
        zenmls = {k: v for k, v in theirs[call_id].items() if k not in per_version}
        assert ours == zenmls, call_id
        # Numbered as ZenML numbers them: the next number of the artifact, as text too.
        assert mine[call_id]["version"] == str(mine[call_id]["version_number"])
    by_artifact: dict[UUID, list[int]] = {}
    for rows in (mine, theirs):
        for row in rows.values():
            by_artifact.setdefault(row["artifact_id"], []).append(row["version_number"])
    for numbers in by_artifact.values():
        assert len(numbers) == len(set(numbers))
    # The response is what ZenML reads back, but for the producer (linked on completion).
    for response in artifacts:
        stored = zenml_client.zen_store.get_artifact_version(response.id, hydrate=True)
        assert stored.producer_step_run_id is not None
        expected = stored.model_dump()
        for key in ("producer_step_run_id", "producer_pipeline_run_id"):
            expected["resources"][key] = None
        assert response.model_dump() == expected


def test_a_cache_hit_response_names_its_user_as_zenml_does(
    zenml_client: Any, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru_core.backend import cache_record

    hits: list[Any] = []
    original = cache_record.record

    def spy(store: Any, request: Any) -> Any:
        response = original(store, request)
        if response is not None:
            hits.append(response)
        return response

    monkeypatch.setattr(cache_record, "record", spy)
    salt, count = new_salt(), _new_count()
    cache_paths.fan_flow.run(workdir, salt, count=count).wait(timeout=120)
    cache_paths.fan_flow.run(workdir, salt, count=count).wait(timeout=120)
    assert hits
    for response in hits:
        stored = zenml_client.zen_store.get_run_step(response.id, hydrate=True)
        assert response.resources.user == stored.resources.user is not None
