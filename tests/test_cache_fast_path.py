"""Cache hits on the local SQLite store: ZenML's cache questions go to the execution store
(``backend/step_cache.py``), whose ``SQLiteStore`` answers them (``store/cache_lookup.py``,
``backend/cache_record.py``).

Kitaru answers ZenML's cache lookup with a few indexed selects and records a cache hit with a
few inserts. These tests hold that shortcut to ZenML's own path on the same real store: the same
lookup answers, the same rows, the same responses, the same view in ``executions get`` — and a
changed input or changed code still misses the cache.
"""

from __future__ import annotations

import importlib
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

from kitaru_core.backend import cache_record, step_cache
from kitaru_core.backend.store import execution_store
from kitaru_core.backend.store.cache_lookup import lookup
from kitaru_core.models import ExecutionStatus

# Columns that differ between any two step runs, whichever path wrote them.
PER_ROW = {"id", "created", "updated", "start_time", "end_time", "pipeline_run_id", "snapshot_id"}
CALL_IDS = ["make_items", "measure", "measure_2", "measure_3", "measure_4", "noted"]


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    return str(tmp_path)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The responses the fast path returned (it returns ``None`` when ZenML's path is used)."""
    responses: list[Any] = []
    original = cache_record.record

    def spy(store: Any, request: Any) -> Any:
        response = original(store, request)
        if response is not None:
            responses.append(response)
        return response

    monkeypatch.setattr(cache_record, "record", spy)
    return responses


def _calls(workdir: str, name: str) -> int:
    path = Path(workdir) / f"{name}.calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _rows(client: Any, exec_id: str) -> dict[str, dict[str, Any]]:
    """Every stored column of the step runs of one execution, plus their links, by call id."""
    from sqlalchemy import select
    from zenml.zen_stores.schemas import (
        StepRunInputArtifactSchema,
        StepRunOutputArtifactSchema,
        StepRunParentsSchema,
        StepRunSchema,
    )
    from zenml.zen_stores.schemas.pipeline_snapshot_schemas import StepConfigurationSchema

    def table(schema: Any) -> Any:
        return schema.__table__

    steps, configs = table(StepRunSchema), table(StepConfigurationSchema)
    inputs, outputs = table(StepRunInputArtifactSchema), table(StepRunOutputArtifactSchema)
    parents = table(StepRunParentsSchema)
    rows: dict[str, dict[str, Any]] = {}
    with client.zen_store.engine.connect() as connection:
        runs = connection.execute(select(steps).where(steps.c.pipeline_run_id == UUID(exec_id)))
        names = {}
        for step in runs.mappings():
            names[step["id"]] = step["name"]
            rows[step["name"]] = {"row": dict(step)}
        for step_id, name in names.items():
            entry = rows[name]
            entry["config"] = connection.execute(
                select(configs.c.config, configs.c.index).where(configs.c.step_run_id == step_id)
            ).all()
            entry["inputs"] = sorted(
                tuple(row)
                for row in connection.execute(
                    select(
                        inputs.c.name,
                        inputs.c.artifact_id,
                        inputs.c.type,
                        inputs.c.input_index,
                        inputs.c.chunk_index,
                        inputs.c.chunk_size,
                    ).where(inputs.c.step_id == step_id)
                )
            )
            entry["outputs"] = sorted(
                tuple(row)
                for row in connection.execute(
                    select(outputs.c.name, outputs.c.artifact_id).where(
                        outputs.c.step_id == step_id
                    )
                )
            )
            entry["parents"] = sorted(
                names[row.parent_id]
                for row in connection.execute(
                    select(parents.c.parent_id).where(parents.c.child_id == step_id)
                )
            )
    return rows


def _comparable(entry: dict[str, Any]) -> dict[str, Any]:
    row = {key: value for key, value in entry["row"].items() if key not in PER_ROW}
    return {**entry, "row": row}


def _run_three_times(workdir: str, salt: str) -> tuple[str, str, str]:
    """Compute once, then the same input twice: by the fast path and by ZenML's path."""
    computed = cache_paths.fan_flow.run(workdir, salt)
    computed.wait(timeout=120)
    fast = cache_paths.fan_flow.run(workdir, salt)
    with step_cache.zenml_path_only():
        zenml = cache_paths.fan_flow.run(workdir, salt)
    return computed.exec_id, fast.exec_id, zenml.exec_id


def test_a_cache_hit_is_stored_exactly_as_zenml_stores_it(
    zenml_client: Any, workdir: str, recorded: list[Any]
) -> None:
    computed, fast, zenml = _run_three_times(workdir, new_salt())

    # The fast path recorded every hit except the one that carries metadata (ZenML's path).
    assert sorted(response.name for response in recorded) == sorted(CALL_IDS[:-1])
    assert all(_calls(workdir, name) == 1 for name in ("make_items", "noted"))
    assert _calls(workdir, "measure") == 4
    fast_rows, zenml_rows = _rows(zenml_client, fast), _rows(zenml_client, zenml)
    assert sorted(fast_rows) == sorted(zenml_rows) == sorted(CALL_IDS)
    for call_id in CALL_IDS:
        assert _comparable(fast_rows[call_id]) == _comparable(zenml_rows[call_id]), call_id
        assert fast_rows[call_id]["row"]["status"] == "cached"
    original = _rows(zenml_client, computed)
    for call_id in CALL_IDS:
        assert fast_rows[call_id]["row"]["original_step_run_id"] == original[call_id]["row"]["id"]
        assert fast_rows[call_id]["outputs"] == original[call_id]["outputs"]


def test_the_fast_response_is_what_zenml_reads_back(
    zenml_client: Any, workdir: str, recorded: list[Any]
) -> None:
    from zenml.enums import ExecutionStatus as ZenStatus

    _run_three_times(workdir, new_salt())
    assert recorded
    for response in recorded:
        stored = zenml_client.zen_store.get_run_step(response.id, hydrate=True)
        assert response.name == stored.name
        assert response.status == stored.status == ZenStatus.CACHED
        for field in ("version", "is_retriable", "start_time", "end_time", "substitutions"):
            assert getattr(response, field) == getattr(stored, field), field
        for field in ("cache_key", "code_hash", "docstring", "source_code", "run_metadata"):
            assert getattr(response, field) == getattr(stored, field), field
        assert response.original_step_run_id == stored.original_step_run_id
        assert sorted(response.parent_step_ids) == sorted(stored.parent_step_ids)
        assert response.config.parameters == stored.config.parameters
        assert response.spec.upstream_steps == stored.spec.upstream_steps
        assert _artifacts(response.inputs) == _artifacts(stored.inputs)
        assert _artifacts(response.outputs) == _artifacts(stored.outputs)


def _artifacts(by_name: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Inputs or outputs of a step run response, comparable field by field (an input also
    carries its type and index)."""
    return {name: [artifact.model_dump() for artifact in items] for name, items in by_name.items()}


def test_executions_get_shows_the_same_cache_hits_either_way(
    zenml_client: Any, workdir: str
) -> None:
    computed, fast, zenml = _run_three_times(workdir, new_salt())
    views = [checkpoint_calls(exec_id) for exec_id in (computed, fast, zenml)]
    assert [sorted(view) for view in views] == [sorted(CALL_IDS)] * 3
    for call_id in CALL_IDS:
        first, by_fast, by_zenml = (view[call_id] for view in views)
        assert first.cached is False
        assert by_fast.cached is by_zenml.cached is True
        assert by_fast.status == by_zenml.status == ExecutionStatus.COMPLETED
        assert by_fast.outputs == by_zenml.outputs == first.outputs
    from kitaru_core.backend.runs import load_result

    assert load_result(fast) == load_result(zenml) == load_result(computed)
    assert load_result(fast) == {"scores": [6, 9, 12], "fourth": 15, "note": "score 6"}


def _ids(by_name: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {name: [artifact.id for artifact in items] for name, items in by_name.items()}


def test_the_lookup_answers_as_zenml_does(zenml_client: Any, workdir: str) -> None:
    from zenml.orchestrators import cache_utils

    computed = cache_paths.fan_flow.run(workdir, new_salt()).exec_id
    project = zenml_client.active_project.id
    engine = zenml_client.zen_store.engine
    for call_id, entry in _rows(zenml_client, computed).items():
        key = entry["row"]["cache_key"]
        mine = lookup(engine, key, project)
        with step_cache.zenml_path_only():
            theirs = cache_utils.get_cached_step_run(key)
        assert mine is not None and theirs is not None, call_id
        assert mine.id == theirs.id == entry["row"]["id"]
        for field in ("cache_expires_at", "docstring", "source_code"):
            assert getattr(mine, field) == getattr(theirs, field), field
        for side in ("inputs", "outputs"):
            assert _ids(getattr(mine, side)) == _ids(getattr(theirs, side)), side
    assert lookup(engine, "no-such-key", project) is None
    assert lookup(engine, key, UUID(int=0)) is None  # another project's entry


def test_a_different_input_still_misses_the_cache(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    cache_paths.fan_flow.run(workdir, salt, count=3).wait(timeout=120)
    other = cache_paths.fan_flow.run(workdir, salt, count=4)
    calls = checkpoint_calls(other.exec_id)
    assert not any(call.cached for call in calls.values())
    assert _calls(workdir, "make_items") == 2
    assert other.wait(timeout=60)["scores"] == [8, 12, 16]


CODE = """
from kitaru_core import checkpoint, flow


@checkpoint
def shout(text: str) -> str:
    return text.upper(){suffix}


@flow
def shout_flow(text: str) -> str:
    return shout(text)
"""


def test_changed_checkpoint_code_still_misses_the_cache(
    zenml_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_name = f"cache_code_{new_salt()}"
    source = tmp_path / f"{module_name}.py"
    source.write_text(CODE.format(suffix=""))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(module_name)
    text = new_salt()
    assert module.shout_flow.run(text).wait(timeout=60) == text.upper()
    again = module.shout_flow.run(text)
    assert checkpoint_calls(again.exec_id)["shout"].cached is True

    source.write_text(CODE.format(suffix=' + "!"'))
    module = importlib.reload(module)
    changed = module.shout_flow.run(text)
    assert checkpoint_calls(changed.exec_id)["shout"].cached is False
    assert changed.wait(timeout=60) == text.upper() + "!"


def test_a_cache_hit_survives_a_kill_right_after_it(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    first = cache_paths.crash_after_hit.run(workdir, salt, crash=False)
    assert first.wait(timeout=60) == f"{salt}-0"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from flows.cache_paths import crash_after_hit
        crash_after_hit.run({workdir!r}, {salt!r}, crash=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=dict(os.environ), capture_output=True, timeout=180
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]

    runs = zenml_client.list_pipeline_runs(
        pipeline_name="crash_after_hit", sort_by="desc:created", size=1
    ).items
    killed = runs[0].id
    assert str(killed) != first.exec_id
    rows = _rows(zenml_client, str(killed))
    assert rows["make_items"]["row"]["status"] == "cached"
    assert (
        rows["make_items"]["outputs"] == _rows(zenml_client, first.exec_id)["make_items"]["outputs"]
    )
    assert _calls(workdir, "make_items") == 1


def test_only_a_local_sqlite_store_takes_the_fast_path(
    zenml_client: Any, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A flow body hands its store's adapter to the hooks (``runtime/launcher.run_flow_body``).
    monkeypatch.setattr(step_cache, "_store", None)
    store = zenml_client.zen_store
    assert not step_cache._fast_path_applies(store)  # none chosen yet: ZenML's code answers
    cache_paths.fan_flow.run(workdir, new_salt()).wait(timeout=120)
    assert step_cache._store is execution_store()
    assert step_cache._fast_path_applies(store)
    assert not step_cache._fast_path_applies(object())  # a REST store has no engine
    with step_cache.zenml_path_only():
        assert not step_cache._fast_path_applies(store)
    monkeypatch.setenv("ZENML_SERVER", "true")  # the store a ZenML server process serves
    assert not step_cache._fast_path_applies(store)


def test_the_store_choice_alone_decides(
    zenml_client: Any, workdir: str, recorded: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the ZenML adapter chosen (as on a server or an unknown schema), a cache hit is
    looked up and recorded by ZenML's own code — and is still a hit."""
    from kitaru_core.backend import local_store

    salt = new_salt()
    cache_paths.fan_flow.run(workdir, salt).wait(timeout=120)
    monkeypatch.setattr(local_store, "open_local", lambda: None)
    again = cache_paths.fan_flow.run(workdir, salt)
    assert not step_cache._fast_path_applies(zenml_client.zen_store)
    assert recorded == []  # nothing went through the fast record
    assert all(call.cached for call in checkpoint_calls(again.exec_id).values())
    assert _calls(workdir, "make_items") == 1
