"""Reading the local SQLite store without importing ZenML: when it applies, and the store.

Importing ZenML and opening its store costs 2-3 s per process on a small machine, which is most
of what ``kitaru executions list`` or an MCP server's first answer would otherwise wait for. On
the local store the same few facts (executions, their statuses, the active project and stack)
are plain rows in ZenML's SQLite database, so they are read with ``sqlite3``, read-only: the
project and stacks here, executions by ``SQLiteStore`` (``backend/store/sqlite_store.py``).

The queries follow ZenML's schema as :mod:`kitaru_core.backend.zenml_compat.schema` describes
it; its check (once per process, when the store opens) is the one guard of the fast path. A
store it does not know, a server connection, a ZenML repository (``.zen``) or a store that does
not exist yet makes :func:`open_local` return ``None``, and ``backend.store.execution_store``
picks ZenML's client instead. ``tests/test_local_store.py`` and
``tests/test_execution_store.py`` check that both paths give the same answers.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from kitaru_core.backend.zenml_compat.schema import PIN, SUPPORTED_REVISIONS, FastPath, fast_path
from kitaru_core.errors import KitaruNotFoundError
from kitaru_core.models import (
    StackInfo,
    StackListItem,
    as_utc,
)

_SQLITE_PREFIX = "sqlite:///"
# What ``status`` / ``info`` suggest when the fast path is off.
FAST_PATH_FIX = (
    f"Install a ZenML release Kitaru supports ({', '.join(sorted(SUPPORTED_REVISIONS))}): "
    f"pip install '{PIN}'. A store already migrated by a newer ZenML stays on the slower path "
    "until Kitaru supports that release."
)


@dataclass(frozen=True)
class LocalStore:
    """Kitaru's local store: the database file, the active project and the active stack."""

    database: Path
    project_id: str  # hex, as ZenML stores ids
    active_stack_id: str | None

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection to the database, kept open per thread.

        Opening one costs more than most queries (SQLite parses the whole schema on a new
        connection); each statement still reads the latest committed state. A connection is
        kept for the file it opened: a store deleted and created again gets a new one.
        """
        stat = self.database.stat()
        key = (str(self.database), stat.st_dev, stat.st_ino)
        connections = _thread_connections()
        connection = connections.get(key)
        if connection is None:
            # Read-only: nothing here can change the store, whatever a query says.
            connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5.0)
            connection.row_factory = sqlite3.Row
            connections[key] = connection
        try:
            yield connection
        except sqlite3.Error:
            connections.pop(key, None)
            connection.close()
            raise


_per_thread = threading.local()


def _thread_connections() -> dict[tuple[str, int, int], sqlite3.Connection]:
    found: dict[tuple[str, int, int], sqlite3.Connection] | None = getattr(
        _per_thread, "connections", None
    )
    if found is None:
        found = _per_thread.connections = {}
    return found


def open_local() -> LocalStore | None:
    """The local store when the fast path applies to this process, else ``None``."""
    from kitaru_core.config.resolver import resolve_connection

    database = local_database()
    if database is None:
        return None
    try:
        if not fast_path(database).enabled:
            return None
        config = _zenml_global_config()
        return _describe(database, config, resolve_connection().project.value)
    except (sqlite3.Error, OSError):
        return None  # locked, half-created or unreadable: ZenML knows how to deal with it


def local_database() -> Path | None:
    """The SQLite file of the local store this process uses, or ``None`` where there is none
    the fast path could read (a server, a ZenML repository, a store not created yet)."""
    from kitaru_core.backend.bootstrap import prepare_environment
    from kitaru_core.config.resolver import resolve_connection

    prepare_environment()  # the same validation (and errors) as the ZenML path
    connection = resolve_connection()
    if _zenml_repository_in_use():
        return None
    # A URL set for this process wins over the persisted one, as in ZenML. (ZenML itself sets
    # ZENML_STORE_URL to the SQLite URL while a flow runs in this process.)
    url = connection.server_url.value or _persisted_sql_url(_zenml_global_config())
    if not url or not url.startswith(_SQLITE_PREFIX):
        return None
    database = Path(url[len(_SQLITE_PREFIX) :])
    return database if database.is_file() else None


def fast_path_state() -> FastPath | None:
    """The fast path's guard for this process's local store; ``None`` where it does not apply
    (a server connection, no local store yet) or cannot be told now. For ``status``/``info``."""
    database = local_database()
    if database is None:
        return None
    try:
        return fast_path(database)
    except (sqlite3.Error, OSError):
        return None  # locked or unreadable right now: not a verdict on its schema


def _persisted_sql_url(config: dict[str, Any]) -> str | None:
    store = config.get("store") or {}
    return str(store.get("url") or "") if store.get("type") == "sql" else None


def _zenml_global_config() -> dict[str, Any]:
    """ZenML's global config (store, active project and stack), parsed again when it changes.

    Keyed on the file's bytes, not its ``stat``: ZenML rewrites the file in place, and a new
    active stack id has the same length, so size and inode stay; only the time would tell, and
    a coarse file clock can give two writes the same one. Reading a few hundred bytes costs
    microseconds; parsing them is what the cache saves.
    """
    import yaml

    path = Path(os.environ["ZENML_CONFIG_PATH"]) / "config.yaml"
    try:
        raw = path.read_bytes()
        cached = _configs.get(raw)
        if cached is None:
            loaded = yaml.load(raw, Loader=_yaml_loader())
            cached = loaded if isinstance(loaded, dict) else {}
            _configs.clear()
            _configs[raw] = cached
    except (OSError, yaml.YAMLError):
        return {}
    return dict(cached)


_configs: dict[bytes, dict[str, Any]] = {}


def _yaml_loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _zenml_repository_in_use() -> bool:
    """A ZenML repository (``.zen`` here or above) may pin its own active stack and project."""
    if os.environ.get("ZENML_REPOSITORY_PATH"):
        return True
    here = Path.cwd()
    return any((folder / ".zen").is_dir() for folder in (here, *here.parents))


def _describe(database: Path, config: dict[str, Any], project: str | None) -> LocalStore | None:
    store = LocalStore(database=database, project_id="", active_stack_id=None)
    with store.connect() as db:
        project_id = _project_id(db, project or os.environ.get("ZENML_ACTIVE_PROJECT_ID"), config)
        if project_id is None:
            return None
        stack = os.environ.get("ZENML_ACTIVE_STACK_ID") or config.get("active_stack_id")
    return LocalStore(
        database=database, project_id=project_id, active_stack_id=hex_id(stack) if stack else None
    )


def _project_id(db: sqlite3.Connection, wanted: str | None, config: dict[str, Any]) -> str | None:
    if wanted:
        row = db.execute(
            "SELECT id FROM project WHERE name = ? OR id = ?", (wanted, hex_id(wanted))
        ).fetchone()
        return str(row[0]) if row else None
    active = config.get("active_project_id")
    return hex_id(str(active)) if active else None


def hex_id(value: str) -> str:
    """ZenML's database form of an id (32 hex digits); non-ids pass through unchanged."""
    try:
        return UUID(str(value)).hex
    except ValueError:
        return str(value)


def parse_exec_id(exec_id: str) -> UUID:
    # One rule for every operation: a malformed id is not_found, like an unknown one.
    from kitaru_core.requests.executions import parse_exec_id as parse

    return parse(exec_id)


def not_found(exec_id: str) -> KitaruNotFoundError:
    from kitaru_core.requests.executions import unknown_execution

    return unknown_execution(exec_id)


def timestamp(value: str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (ZenML stores naive datetimes that mean UTC)."""
    return as_utc(datetime.fromisoformat(value)) if value else None


def in_list(prefix: str, values: list[str], params: dict[str, Any]) -> str:
    names = [f"{prefix}{index}" for index in range(len(values))]
    params.update(zip(names, values, strict=True))
    return ", ".join(f":{name}" for name in names)


# ---------------------------------------------------------------------------- project, stack


def project_name(store: LocalStore) -> str | None:
    with store.connect() as db:
        row = db.execute("SELECT name FROM project WHERE id = ?", (store.project_id,)).fetchone()
    return str(row[0]) if row else None


def active_stack(store: LocalStore) -> StackInfo | None:
    """The persisted active stack, or ``None`` when it is not set or no longer exists."""
    if store.active_stack_id is None:
        return None
    with store.connect() as db:
        row = db.execute(
            "SELECT id, name FROM stack WHERE id = ?", (store.active_stack_id,)
        ).fetchone()
    if row is None:
        return None
    return StackInfo(id=str(UUID(row["id"])), name=row["name"], is_active=True)


def list_stacks(store: LocalStore) -> list[StackListItem]:
    """Every stack, oldest first (ZenML's default order), marked active and Kitaru-managed."""
    from kitaru_core.backend.stack_labels import is_managed

    with store.connect() as db:
        rows = db.execute("SELECT id, name, labels FROM stack ORDER BY created, id").fetchall()
    return [
        StackListItem(
            id=str(UUID(row["id"])),
            name=row["name"],
            is_active=row["id"] == store.active_stack_id,
            is_managed=is_managed(_labels(row["labels"])),
        )
        for row in rows
    ]


def _labels(stored: bytes | None) -> dict[str, Any] | None:
    # ZenML keeps a stack's labels as base64-encoded JSON.
    return json.loads(base64.b64decode(stored).decode()) if stored else None
