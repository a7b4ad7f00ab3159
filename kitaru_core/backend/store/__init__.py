"""The execution store: one interface (:class:`ExecutionStore`) over two adapters, chosen in
one place.

``ZenMLStore`` reads through ZenML's public client (any store, any server); ``SQLiteStore``
reads the local store's SQLite tables without importing ZenML. Both produce the same rows
(``rows.py``) for one set of view builders (``views.py``), so each rule exists once.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru_core.backend.local_store import LocalStore
    from kitaru_core.backend.store.interface import ExecutionStore
    from kitaru_core.backend.store.zenml_store import ZenMLStore

_lock = threading.Lock()
_zenml: ZenMLStore | None = None
_sqlite: dict[LocalStore, ExecutionStore] = {}


def execution_store() -> ExecutionStore:
    """The store this process reads executions from.

    The fast path's guard (``local_store.open_local``: a local SQLite store whose schema Kitaru
    knows, checked once per store file) picks ``SQLiteStore``; anything else gets
    ``ZenMLStore``. The guard is asked on each call, not frozen at start-up, because its
    answer can change within a long-lived process: a fresh MCP server starts before its first
    flow creates the store, and ``kitaru login`` switches to a server. Asking costs a stat and
    a cached config read.
    """
    from kitaru_core.backend.local_store import open_local

    local = open_local()
    if local is None:
        return zenml_adapter()
    with _lock:
        found = _sqlite.get(local)
        if found is None:
            from kitaru_core.backend.store.sqlite_store import SQLiteStore

            found = _sqlite[local] = SQLiteStore(local, fallback=zenml_adapter)
    return found


def zenml_adapter() -> ZenMLStore:
    """The ZenML adapter (its client is imported on first use, not here)."""
    global _zenml
    with _lock:
        if _zenml is None:
            from kitaru_core.backend.store.zenml_store import ZenMLStore

            _zenml = ZenMLStore()
        return _zenml
