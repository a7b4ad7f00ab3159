"""What the SQLite fast path knows of ZenML's database schema, and the one check of it.

The fast path (``local_store.py``, ``store/sqlite_store.py``, ``local_waits.py``,
``local_changes.py`` read; ``step_cache.py`` and ``cache_record.py`` look up and record cache
hits; ``step_record.py`` and ``artifact_record.py`` record computed calls and their outputs;
``run_record.py`` writes a run's plain status updates)
reads and writes ZenML's SQLite tables directly. Everything it assumes about those
tables is written down here:

* :data:`TABLES` — each table it touches and the columns it uses, with their types. A table the
  writers insert whole rows into is *complete*: the live table must have exactly these
  columns (a new column may be one ZenML's own ``create_run_step`` fills). Any other table only
  needs the listed columns to be present.
* :data:`SUPPORTED_REVISIONS` — the schema revisions (ZenML names them after its releases) whose
  meaning, not just shape, the fast path was checked against.

:func:`fast_path` runs :func:`check` once per process and store when the local store opens:
``PRAGMA table_info`` of every table against :data:`TABLES`, the store's alembic revision and
the installed ZenML release against :data:`SUPPORTED_REVISIONS`. Its answer, a
:class:`FastPath`, is the single guard of both the read adapter's choice
(``backend.store.execution_store``) and the cache writes (``step_cache``). When it is off, a
notice says so once on stderr and ``kitaru status`` / ``info`` show why and how to fix it.

Why the columns are plain names and type tags rather than SQLAlchemy objects: importing
``sqlalchemy`` costs about 0.3 s here, as much as the whole of ``kitaru executions list`` on the
fast path, which never needs it (it reads with ``sqlite3``). So the check needs no SQLAlchemy,
and the SQLAlchemy Core :class:`~sqlalchemy.Table` objects are built from the same definitions
only when the cache writer (which runs inside a flow, with ZenML and SQLAlchemy loaded) first
asks for them (:func:`core_table`), in a private ``MetaData``. Their types are those of ZenML's
own schema classes, so the rows they write are byte-for-byte ZenML's.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Schema revisions (= ZenML releases) the fast path was written and tested against.
SUPPORTED_REVISIONS: frozenset[str] = frozenset({"0.98.0"})
# What to install to get a supported release back (matches pyproject's pin).
PIN = "zenml[local]>=0.98.0,<0.99"

# Column type tags; :func:`core_table` maps them to the SQLAlchemy types ZenML's schema uses.
UUID, TIME, STR, TEXT, INT, BOOL, BLOB = "uuid", "time", "str", "text", "int", "bool", "blob"


@dataclass(frozen=True)
class TableSpec:
    """One table the fast path uses: its columns (name → type tag) and whether it writes
    whole rows into it (then the live table must have exactly these columns)."""

    name: str
    columns: Mapping[str, str]
    complete: bool = False


def _spec(table: str, /, *, whole_rows: bool = False, **columns: str) -> TableSpec:
    return TableSpec(name=table, columns=dict(columns), complete=whole_rows)


_TABLE_LIST = [
    _spec("alembic_version", version_num=STR),
    _spec("project", id=UUID, name=STR),
    _spec("stack", id=UUID, name=STR, labels=BLOB, created=TIME, updated=TIME),
    _spec("pipeline", id=UUID, name=STR, updated=TIME),
    _spec(
        "pipeline_run",
        id=UUID,
        name=STR,
        status=STR,
        status_reason=STR,
        start_time=TIME,
        end_time=TIME,
        created=TIME,
        updated=TIME,
        project_id=UUID,
        pipeline_id=UUID,
        snapshot_id=UUID,
        stack_id=UUID,
        pipeline_configuration=TEXT,
        exception_info=STR,
        enable_heartbeat=BOOL,
        # Updated by the run writer (``run_record.py``), with the columns above.
        orchestrator_run_id=STR,
        in_progress=BOOL,
        model_version_id=UUID,
    ),
    _spec(
        "pipeline_snapshot",
        id=UUID,
        pipeline_id=UUID,
        stack_id=UUID,
        pipeline_configuration=STR,
        is_dynamic=BOOL,
        updated=TIME,
    ),
    _spec(
        "run_wait_condition",
        id=UUID,
        created=TIME,
        updated=TIME,
        run_id=UUID,
        project_id=UUID,
        resolved_by_user_id=UUID,
        status=STR,
        name=STR,
        question=STR,
        data_schema_json=TEXT,
        resolution=STR,
        result_json=TEXT,
        poller_lease_expires_at=TIME,
        resolved_at=TIME,
    ),
    _spec("run_metadata", id=UUID, created=TIME, key=STR, value=TEXT),
    _spec(
        "run_metadata_resource",
        id=UUID,
        resource_id=UUID,
        resource_type=STR,
        run_metadata_id=UUID,
    ),
    _spec("stack_component", id=UUID, type=STR, flavor=STR),
    _spec("stack_composition", stack_id=UUID, component_id=UUID),
    # What a run response shows besides its row (the run writer checks there is none).
    _spec("tag_resource", tag_id=UUID, resource_id=UUID, resource_type=STR),
    _spec("logs", id=UUID, pipeline_run_id=UUID),
    _spec("curated_visualization", id=UUID, resource_id=UUID, resource_type=STR),
    _spec("pipeline_run_output", id=UUID, pipeline_run_id=UUID),
    # Written by the artifact writer (``artifact_record.py``): every column, exactly.
    _spec(
        "artifact",
        whole_rows=True,
        id=UUID,
        created=TIME,
        updated=TIME,
        name=STR,
        has_custom_name=BOOL,
        project_id=UUID,
        user_id=UUID,
    ),
    _spec(
        "artifact_version",
        whole_rows=True,
        id=UUID,
        created=TIME,
        updated=TIME,
        version=STR,
        version_number=INT,
        type=STR,
        uri=TEXT,
        materializer=TEXT,
        data_type=TEXT,
        save_type=TEXT,
        content_hash=TEXT,
        item_count=INT,
        artifact_id=UUID,
        artifact_store_id=UUID,
        user_id=UUID,
        project_id=UUID,
    ),
    _spec("user", id=UUID, name=STR, is_service_account=BOOL, updated=TIME),
    # Written by the cache writer: every column, exactly.
    _spec(
        "step_run",
        whole_rows=True,
        id=UUID,
        created=TIME,
        updated=TIME,
        name=STR,
        start_time=TIME,
        end_time=TIME,
        latest_heartbeat=TIME,
        status=STR,
        docstring=TEXT,
        cache_key=STR,
        cache_expires_at=TIME,
        source_code=TEXT,
        code_hash=STR,
        version=INT,
        is_retriable=BOOL,
        exception_info=STR,
        heartbeat_threshold=INT,
        original_step_run_id=UUID,
        snapshot_id=UUID,
        pipeline_run_id=UUID,
        user_id=UUID,
        project_id=UUID,
        model_version_id=UUID,
        resource_request_id=UUID,
        step_configuration=STR,
    ),
    _spec(
        "step_configuration",
        whole_rows=True,
        id=UUID,
        created=TIME,
        updated=TIME,
        index=INT,
        name=STR,
        config=STR,
        snapshot_id=UUID,
        step_run_id=UUID,
    ),
    _spec("step_run_parents", whole_rows=True, parent_id=UUID, child_id=UUID),
    _spec(
        "step_run_input_artifact",
        whole_rows=True,
        name=STR,
        type=STR,
        input_index=INT,
        chunk_index=INT,
        chunk_size=INT,
        step_id=UUID,
        artifact_id=UUID,
    ),
    _spec("step_run_output_artifact", whole_rows=True, name=STR, step_id=UUID, artifact_id=UUID),
]
TABLES: dict[str, TableSpec] = {table.name: table for table in _TABLE_LIST}


@dataclass(frozen=True)
class FastPath:
    """Whether the SQLite fast path is on for a store, and why not when it is off."""

    enabled: bool
    reason: str | None
    zenml_release: str | None
    revision: str | None

    @property
    def notice(self) -> str:
        """The one-line explanation printed (once) when the fast path is off."""
        return (
            f"kitaru: the fast local store path is off ({self.reason}; ZenML "
            f"{self.zenml_release or 'unknown'}, store schema {self.revision or 'unknown'}). "
            "Every read now imports ZenML (2-3 s slower per command) and cached checkpoints are "
            f"recorded through ZenML (3-4x slower). Fix: pip install '{PIN}'."
        )


def check(db: sqlite3.Connection, zenml_release: str | None) -> FastPath:
    """Compare the live schema of ``db`` and the installed ZenML with what the fast path knows."""
    row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    revision = str(row[0]) if row else None

    def off(reason: str) -> FastPath:
        return FastPath(False, reason, zenml_release, revision)

    supported = ", ".join(sorted(SUPPORTED_REVISIONS))
    if revision not in SUPPORTED_REVISIONS:
        return off(f"store schema revision {revision} is not one Kitaru supports ({supported})")
    if zenml_release not in SUPPORTED_REVISIONS:
        return off(f"ZenML {zenml_release} is not a release Kitaru supports ({supported})")
    for table in TABLES.values():
        problem = _column_problem(db, table)
        if problem:
            return off(problem)
    return FastPath(True, None, zenml_release, revision)


def _column_problem(db: sqlite3.Connection, table: TableSpec) -> str | None:
    # The table name comes from TABLES, never from input.
    live = {str(row[1]) for row in db.execute(f'PRAGMA table_info("{table.name}")')}
    if not live:
        return f"table {table.name} is missing"
    missing = sorted(set(table.columns) - live)
    if missing:
        return f"table {table.name} lacks column(s) {', '.join(missing)}"
    extra = sorted(live - set(table.columns)) if table.complete else []
    if extra:
        return f"table {table.name} has new column(s) {', '.join(extra)}"
    return None


def installed_zenml_release() -> str | None:
    """The installed ZenML release, read from its ``VERSION`` file (importing ZenML or
    scanning package metadata would cost more than the reads the fast path serves)."""
    spec = importlib.util.find_spec("zenml")
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        return (Path(next(iter(spec.submodule_search_locations))) / "VERSION").read_text().strip()
    except OSError:
        return None


# ------------------------------------------------------------------------ once per process

_lock = threading.Lock()
_checked: dict[tuple[str, int, int], FastPath] = {}
_noticed = False


def fast_path(database: Path) -> FastPath:
    """THE guard: the check of ``database`` (a ZenML SQLite store), run once per process and
    store file. When it is off, the notice goes to stderr (once per process)."""
    stat = database.stat()
    key = (str(database), stat.st_dev, stat.st_ino)
    found = _checked.get(key)
    if found is not None:
        return found
    with _lock:
        found = _checked.get(key)
        if found is None:
            found = _check_file(database)
            _checked[key] = found
            if not found.enabled:
                _notice_once(found)
    return found


def _check_file(database: Path) -> FastPath:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5.0)
    try:
        return check(db, installed_zenml_release())
    finally:
        db.close()


def _notice_once(found: FastPath) -> None:
    global _noticed
    if not _noticed:
        _noticed = True
        print(found.notice, file=sys.stderr, flush=True)


def forget() -> None:
    """Drop the remembered checks (tests that change a store's schema under one process)."""
    global _noticed
    with _lock:
        _checked.clear()
        _noticed = False


# ------------------------------------------------------------------ SQLAlchemy, for the writer

_core: dict[str, Any] = {}  # table name → Table
_metadata: list[Any] = []  # the private MetaData, once built


def core_table(name: str) -> Any:
    """The SQLAlchemy Core ``Table`` of :data:`TABLES` entry ``name`` (built on first use, in
    a private ``MetaData``, with the column types of ZenML's schema classes)."""
    table = _core.get(name)
    if table is None:
        with _lock:
            table = _core.get(name) or _build_core_table(TABLES[name])
            _core[name] = table
    return table


def row_values(name: str, row: Any) -> dict[str, Any]:
    """The column values of a ZenML schema instance for table ``name``, as the ORM would
    insert them (what the fast writers pass to a Core ``insert``)."""
    return {column.name: getattr(row, column.name) for column in core_table(name).columns}


def _build_core_table(spec: TableSpec) -> Any:
    import sqlalchemy as sa

    types: dict[str, Any] = {
        UUID: sa.Uuid,
        TIME: sa.DateTime,
        STR: sa.String,
        TEXT: sa.Text,
        INT: sa.Integer,
        BOOL: sa.Boolean,
        BLOB: sa.LargeBinary,
    }
    if not _metadata:
        _metadata.append(sa.MetaData())
    columns = [sa.Column(column, types[tag]()) for column, tag in spec.columns.items()]
    return sa.Table(spec.name, _metadata[0], *columns)
