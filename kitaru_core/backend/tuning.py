"""Per-run costs of ZenML that Kitaru removes without weakening durability.

Each measure below is applied once per process, right after the store is opened. What each one
changes, and why it is safe, is documented in docs/benchmarks.md ("What Kitaru tunes").
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from collections.abc import Callable
from typing import Any

from kitaru_core.backend.zenml_compat import store_internals

# Step arguments up to this many bytes of JSON are stored as step parameters in the run's
# configuration (one database row) instead of being uploaded as one artifact per call.
PARAMETER_SIZE_THRESHOLD = "16384"

_applied = False


def apply(client: Any) -> None:
    """Apply every tuning once per process (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    os.environ.setdefault("ZENML_PARAMETER_SIZE_THRESHOLD", PARAMETER_SIZE_THRESHOLD)
    _cheap_environment_capture()
    _memoize_source_hashes()
    _activate_integrations_once()
    _sqlite_wal(client)
    # Imported here, not above: reads on the fast path import this module without running a
    # flow, and these three cost ~18 ms to import.
    from kitaru_core.backend import run_record, step_cache, step_record

    # Cache hits on a local SQLite store: an indexed lookup and a direct record of the cached
    # call, writing the very rows ZenML writes (any other store keeps ZenML's code).
    step_cache.install()
    # A computed checkpoint's start, output and completion, put to the run's execution store:
    # SQLiteStore writes each in one transaction (any other adapter leaves them to ZenML).
    step_record.install()
    # A run's plain status updates (orchestrator run id, running, completed) as one UPDATE each,
    # with the response built from the run's previous one. It asks the fast path's schema guard
    # itself: the first updates come before the flow body hands the run's store to the hooks.
    run_record.install()


def _installed_packages() -> list[str]:
    """``name==version`` of every installed distribution, read from package metadata.

    ZenML records the Python environment of every run by spawning ``pip freeze`` (~0.5 s per
    run). The same list is in the installed packages' metadata, which reads in milliseconds.
    """
    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return sorted(seen.values(), key=str.lower)


def _cheap_environment_capture() -> None:
    store_internals.replace_python_packages(functools.lru_cache(maxsize=1)(_installed_packages))


def _memoize_source_hashes() -> None:
    """Hash each step's and materializer's source once per process, not on every call.

    ZenML re-reads and re-parses the source file of the step and of its materializers for the
    cache key of every single invocation. Source files do not change under a running process
    (``inspect`` caches them the same way), so the hash is computed once per object.
    """
    store_internals.replace_hashed_source_code(_memoized)


def _memoized(original: Callable[[Any], str]) -> Callable[[Any], str]:
    memo: dict[int, tuple[Any, str]] = {}

    @functools.wraps(original)
    def hashed(value: Any) -> str:
        entry = memo.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        digest = original(value)
        memo[id(value)] = (value, digest)
        return digest

    hashed.__kitaru_memoized__ = True  # type: ignore[attr-defined]
    return hashed


def _activate_integrations_once() -> None:
    """ZenML re-checks every integration's installed packages when compiling each run; the
    answer cannot change within a process, so the check runs once."""
    store_internals.replace_activate_integrations(_once_per_registry)


def _once_per_registry(original: Callable[..., None]) -> Callable[..., None]:
    done: set[int] = set()

    @functools.wraps(original)
    def activate_once(self: Any) -> None:
        if id(self) not in done:
            original(self)
            done.add(id(self))

    activate_once.__kitaru_once__ = True  # type: ignore[attr-defined]
    return activate_once


def _sqlite_wal(client: Any) -> None:
    """Write-ahead logging with ``synchronous=NORMAL`` for the local SQLite store.

    A commit then appends to the WAL file instead of rewriting pages and syncing twice. A
    committed transaction is in the WAL before the commit returns, so it survives the process
    being killed at any instant; only a power loss or OS crash can drop the last commits.
    """
    from sqlalchemy import event

    from kitaru_core.backend.zenml_compat.database import sqlite_engine

    engine = sqlite_engine(client.zen_store)
    if engine is None:
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    engine.dispose()  # pooled connections were opened without the pragmas
