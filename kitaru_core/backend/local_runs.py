"""TEMPORARY (W2B, wave 2): the fast path's execution reads moved to
:class:`kitaru_core.backend.store.sqlite_store.SQLiteStore`, whose rows the one set of view
builders (``backend/store/views.py``) turns into answers. Only two tests still call these
names (``tests/test_fast_path_schema.py``, ``tests/test_logged_metadata.py``); delete this
module once they call ``SQLiteStore`` instead."""

from __future__ import annotations

from typing import Any

from kitaru_core.backend.local_store import LocalStore
from kitaru_core.backend.store import zenml_adapter
from kitaru_core.backend.store.sqlite_store import SQLiteStore
from kitaru_core.models import Execution, WaitInfo


def _adapter(store: LocalStore) -> SQLiteStore:
    return SQLiteStore(store, fallback=zenml_adapter)


def list_runs(store: LocalStore, **query: Any) -> tuple[list[Execution], bool]:
    return _adapter(store).list_executions(**query)


def get_execution(store: LocalStore, exec_id: str) -> Execution:
    return _adapter(store).get_execution(exec_id)


def call_ids(store: LocalStore, exec_id: str) -> set[str]:
    return _adapter(store).call_ids(exec_id)


def list_waits(store: LocalStore) -> list[WaitInfo]:
    return _adapter(store).pending_waits()
