"""The execution store: one interface (:class:`ExecutionStore`) over two adapters, chosen in
one place (:func:`execution_store`).

``ZenMLStore`` reads through ZenML's public client (any store, any server); ``SQLiteStore``
reads the local store's SQLite tables without importing ZenML. Both produce the same rows
(``rows.py``) for one set of view builders (``views.py``), so each rule exists once.
``docs/architecture.md`` describes the whole.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kitaru_core.backend.local_store import LocalStore
    from kitaru_core.backend.store.interface import ExecutionStore
    from kitaru_core.backend.store.sqlite_store import SQLiteStore
    from kitaru_core.backend.store.zenml_store import ZenMLStore

_lock = threading.Lock()
# The adapters made so far: one per local store description (its database file, active project
# and stack), the most recent few, and the one over ZenML's client.
_local: dict[LocalStore, SQLiteStore] = {}
_KEPT = 8
_zenml: ZenMLStore | None = None


def execution_store() -> ExecutionStore:
    """The adapter for the store this process uses now: the one place it is chosen.

    One guard decides: ``local_store.open_local`` (a local SQLite store whose schema the fast
    path knows, checked once per store file) gives ``SQLiteStore``; anything else — a server, a
    ZenML repository, a store not created yet or of an unknown schema — gives ``ZenMLStore``.

    The choice is made once per *store*, not once per process: the adapter is memoized by the
    store's identity, its database file (a server has none: its adapter is the one over
    ZenML's client, which is one per process). A long-lived process can see its store change —
    a fresh MCP server starts before its first flow creates the store, ``kitaru login``
    switches to a server, ``ZENML_STORE_URL`` names another file — so the guard is asked on
    each call; asking costs a stat, a cached config read and one indexed query. An adapter is
    never changed once made: a new active project or stack of the same file gets its own (a
    thread still reading through the old one keeps a consistent view), and only the last few
    are kept.
    """
    from kitaru_core.backend.local_store import open_local

    local = open_local()
    if local is None:
        return zenml_adapter()
    with _lock:
        found = _local.get(local)
        if found is None:
            from kitaru_core.backend.store.sqlite_store import SQLiteStore

            if len(_local) >= _KEPT:
                del _local[next(iter(_local))]  # the oldest
            found = _local[local] = SQLiteStore(local, fallback=zenml_adapter)
    return found


def zenml_adapter() -> ZenMLStore:
    """The ZenML adapter (its client is imported on first use, not here)."""
    global _zenml
    with _lock:
        if _zenml is None:
            from kitaru_core.backend.store.zenml_store import ZenMLStore

            _zenml = ZenMLStore()
        return _zenml
