"""The fast path's one guard (``backend/zenml_compat/schema.py``) on stores it does not know.

Only one ZenML release is published in the range Kitaru pins, so a newer one is simulated on a
COPY of the real test store: an unknown alembic revision, a missing column, a new column in a
table the cache writer fills. The guard must switch the fast path off for exactly those cases,
and with it off every answer (executions list/get/waiting/logs) must be the same as the fast
path's, cached checkpoints must still work, and the notice must be printed once per process.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from flows_exec import approval, listing, records
from flows_exec.support import new_salt
from runtime_helpers import TESTS_DIR

from kitaru_core.backend import local_store
from kitaru_core.backend.zenml_compat import schema
from kitaru_core.config.paths import config_dir
from kitaru_core.models import ExecutionStatus
from kitaru_core.services import executions

NOTICE = "the fast local store path is off"


def _store_copy(folder: Path) -> Path:
    """A consistent copy of this process's store database (SQLite's backup API)."""
    store = local_store.open_local()
    assert store is not None, "the fast path should apply to the test store"
    copy = folder / "zenml.db"
    # Closed at once: the last connection to close folds the copy's WAL into the file.
    with (
        closing(sqlite3.connect(store.database)) as source,
        closing(sqlite3.connect(copy)) as target,
    ):
        source.backup(target)
    return copy


def _check(database: Path, release: str | None = "0.98.0") -> schema.FastPath:
    db = sqlite3.connect(database)
    try:
        return schema.check(db, release)
    finally:
        db.close()


def _alter(database: Path, statement: str) -> None:
    with closing(sqlite3.connect(database)) as db, db:
        db.execute(statement)


# ------------------------------------------------------------------------ the check itself


def test_the_real_store_passes_the_check(zenml_client: Any, tmp_path: Path) -> None:
    state = _check(_store_copy(tmp_path))
    assert state == schema.FastPath(True, None, "0.98.0", "0.98.0")


def test_an_unknown_revision_turns_it_off(zenml_client: Any, tmp_path: Path) -> None:
    copy = _store_copy(tmp_path)
    _alter(copy, "UPDATE alembic_version SET version_num = '0.99.0'")
    state = _check(copy)
    assert not state.enabled and state.revision == "0.99.0"
    assert "0.99.0" in (state.reason or "") and "0.99.0" in state.notice


def test_an_unknown_zenml_release_turns_it_off(zenml_client: Any, tmp_path: Path) -> None:
    state = _check(_store_copy(tmp_path), release="0.99.1")
    assert not state.enabled and "ZenML 0.99.1" in (state.reason or "")
    assert "pip install 'zenml[local]>=0.98.0,<0.99'" in state.notice


def test_a_missing_column_turns_it_off(zenml_client: Any, tmp_path: Path) -> None:
    copy = _store_copy(tmp_path)
    _alter(copy, "ALTER TABLE run_wait_condition RENAME COLUMN question TO prompt")
    state = _check(copy)
    assert not state.enabled
    assert state.reason == "table run_wait_condition lacks column(s) question"


def test_a_new_column_in_a_written_table_turns_it_off(zenml_client: Any, tmp_path: Path) -> None:
    copy = _store_copy(tmp_path)
    _alter(copy, "ALTER TABLE step_run ADD COLUMN future_field VARCHAR")
    state = _check(copy)
    assert not state.enabled
    assert state.reason == "table step_run has new column(s) future_field"


def test_a_new_column_in_a_read_table_keeps_it_on(zenml_client: Any, tmp_path: Path) -> None:
    copy = _store_copy(tmp_path)
    _alter(copy, "ALTER TABLE pipeline_run ADD COLUMN future_field VARCHAR")
    assert _check(copy).enabled


def test_the_guard_runs_once_per_store_file(zenml_client: Any, tmp_path: Path) -> None:
    copy = _store_copy(tmp_path)
    schema.forget()
    try:
        assert schema.fast_path(copy).enabled
        _alter(copy, "UPDATE alembic_version SET version_num = '0.99.0'")
        assert schema.fast_path(copy).enabled  # remembered: not re-checked on every read
    finally:
        schema.forget()


def test_the_release_is_read_without_importing_zenml() -> None:
    code = (
        "import sys\n"
        "from kitaru_core.backend.zenml_compat import schema\n"
        "print(schema.installed_zenml_release())\n"
        "assert 'zenml' not in sys.modules and 'sqlalchemy' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from importlib import metadata

    assert done.stdout.strip() == metadata.version("zenml")


# ---------------------------------------------------- off: the same answers through ZenML


@pytest.fixture(scope="module")
def executions_to_compare(zenml_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Completed executions (one that logged), a failed one, and one paused at a wait."""
    workdir = tmp_path_factory.mktemp("marks")
    value = f"schema-{new_salt()}"
    done = listing.compared_flow.run(value).exec_id
    failed = listing.compared_flow.run(f"schema-bad-{new_salt()}", fail=True).exec_id
    logged = records.observed_flow.run(str(workdir), new_salt())
    logged.wait(timeout=120)
    paused = approval.signoff_flow.run(str(workdir), new_salt(), timeout=0).exec_id
    return {
        "done": done,
        "failed": failed,
        "logged": logged.exec_id,
        "waiting": paused,
        "value": value,
    }


def _config_copy(folder: Path, change: str) -> Path:
    """This process's config dir copied to ``folder``, its store database altered."""
    source = config_dir()
    target = folder / "config"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("zenml.db*", "*.lock"))
    store = local_store.open_local()
    assert store is not None
    copy = _store_copy(folder)
    _alter(copy, change)
    shutil.move(copy, target / store.database.relative_to(source))
    settings = target / "config.yaml"
    settings.write_text(settings.read_text().replace(str(source), str(target)))
    return target


_ANSWERS = """
import json, sys
sys.path.insert(0, {tests!r})
from kitaru_core.services import executions

ids = json.loads({ids!r})
def dump(items):
    return [item.model_dump(mode="json") for item in items]

answers = {{
    "list": dump(executions.list_executions(flow="compared_flow", limit=200)[0]),
    "get": [executions.get(ids[name]).model_dump(mode="json")
            for name in ("done", "failed", "logged", "waiting")],
    "waiting": [w for w in dump(executions.waiting()) if w["exec_id"] == ids["waiting"]],
    "logs": [dump(executions.logs(ids[name])[0])
             for name in ("done", "failed", "logged", "waiting")],
    "call_logs": dump(executions.logs(ids["logged"], checkpoint="load_rows")[0]),
}}
# A cached checkpoint: the same input twice, the hit recorded through ZenML's path.
from flows_exec import listing
listing.compared_flow.run(ids["value"] + "-again").wait(timeout=120)
again = listing.compared_flow.run(ids["value"] + "-again")
answers["again"] = again.wait(timeout=120)
answers["again_calls"] = [
    call.model_dump(mode="json") for call in executions.get(again.exec_id).checkpoints
]
from zenml.client import Client
from kitaru_core.backend import step_cache
answers["cache_fast_path"] = step_cache._fast_path_applies(Client().zen_store)
print("ANSWERS " + json.dumps(answers))
"""


def _answers_here(ids: dict[str, str]) -> dict[str, Any]:
    dump = lambda items: [item.model_dump(mode="json") for item in items]  # noqa: E731
    return {
        "list": dump(executions.list_executions(flow="compared_flow", limit=200)[0]),
        "get": [
            executions.get(ids[name]).model_dump(mode="json")
            for name in ("done", "failed", "logged", "waiting")
        ],
        "waiting": [w for w in dump(executions.waiting()) if w["exec_id"] == ids["waiting"]],
        "logs": [
            dump(executions.logs(ids[name])[0]) for name in ("done", "failed", "logged", "waiting")
        ],
        "call_logs": dump(executions.logs(ids["logged"], checkpoint="load_rows")[0]),
    }


def test_with_the_fast_path_off_answers_are_the_same(
    executions_to_compare: dict[str, str], tmp_path: Path
) -> None:
    ids = executions_to_compare
    assert local_store.open_local() is not None  # this process reads on the fast path
    fast = _answers_here(ids)
    config = _config_copy(tmp_path, "ALTER TABLE step_run ADD COLUMN future_field VARCHAR")
    env = {**os.environ, "KITARU_CONFIG_PATH": str(config)}
    env.pop("ZENML_CONFIG_PATH", None)
    script = _ANSWERS.format(tests=str(TESTS_DIR), ids=json.dumps(ids))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(row for row in done.stdout.splitlines() if row.startswith("ANSWERS "))
    slow = json.loads(line[len("ANSWERS ") :])
    for key in ("list", "get", "waiting", "logs", "call_logs"):
        assert slow[key] == fast[key], key
    assert fast["waiting"] and fast["call_logs"]
    # Cached checkpoints still work (through ZenML's own code now).
    assert slow["cache_fast_path"] is False, done.stderr[-1500:]
    assert slow["again"] == f"label {ids['value']}-again"
    assert [call["cached"] for call in slow["again_calls"]] == [True]
    # Said once, however many reads and checkpoint records asked.
    assert done.stderr.count(NOTICE) == 1, done.stderr[-3000:]
    assert "step_run has new column(s) future_field" in done.stderr


def test_status_shows_the_fast_path_and_its_fix(
    executions_to_compare: dict[str, str], tmp_path: Path
) -> None:
    from kitaru_core.services import system

    here = system.get_status().fast_path
    assert here is not None and here.enabled and here.fix is None
    config = _config_copy(tmp_path, "UPDATE alembic_version SET version_num = '0.99.0'")
    env = {**os.environ, "KITARU_CONFIG_PATH": str(config)}
    env.pop("ZENML_CONFIG_PATH", None)
    code = (
        "from kitaru_core.services import system\n"
        "print(system.get_status().model_dump_json())\n"
        "print(system.get_status().model_dump_json())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    status = json.loads(done.stdout.splitlines()[0])
    state = status["fast_path"]
    assert state["enabled"] is False and state["revision"] == "0.99.0"
    assert "zenml[local]>=0.98.0,<0.99" in state["fix"]
    assert done.stderr.count(NOTICE) == 1


# ------------------------------------------- the schema module knows every column read


def _reduced_schema(path: Path) -> sqlite3.Connection:
    """A database holding only what :data:`schema.TABLES` lists: each table, its columns."""
    db = sqlite3.connect(path)
    for table in schema.TABLES.values():
        columns = ", ".join(f'"{name}"' for name in table.columns)
        db.execute(f'CREATE TABLE "{table.name}" ({columns})')
    return db


def test_every_column_the_reads_use_is_in_the_schema_module(
    executions_to_compare: dict[str, str], tmp_path: Path
) -> None:
    """Every statement the fast reads send (traced on the real store) compiles against a
    database that has only the tables and columns the schema module lists."""
    from datetime import UTC, datetime

    from kitaru_core.backend import local_changes, local_waits
    from kitaru_core.backend.store import zenml_adapter
    from kitaru_core.backend.store.sqlite_store import SQLiteStore

    store = local_store.open_local()
    assert store is not None
    reads = SQLiteStore(store, fallback=zenml_adapter)
    statements: list[str] = []
    with store.connect() as db:
        db.set_trace_callback(statements.append)
    try:
        reads.list_executions(flow=None, status=None, stack=None, offset=0, size=50)
        for status in ExecutionStatus:
            reads.list_executions(flow="x", status=status, stack="y", offset=0, size=5)
        for name in ("done", "failed", "logged", "waiting"):
            reads.get_execution(executions_to_compare[name])
            reads.call_ids(executions_to_compare[name])
        reads.pending_waits()
        local_changes.execution_marks(
            store, known=[executions_to_compare["done"]], since=datetime.now(UTC)
        )
        local_store.list_stacks(store)
        local_store.active_stack(store)
        local_store.project_name(store)
        waits = local_waits.for_answers(executions_to_compare["waiting"])
        assert waits is not None
        waits.find_condition(executions_to_compare["waiting"], None)
    finally:
        with store.connect() as db:
            db.set_trace_callback(None)
    assert len(statements) > 10
    reduced = _reduced_schema(tmp_path / "reduced.db")
    for statement in statements:
        try:
            reduced.execute(f"EXPLAIN {statement}")
        except sqlite3.OperationalError as exc:
            pytest.fail(f"{exc} in a fast-path query (add it to schema.TABLES):\n{statement}")
