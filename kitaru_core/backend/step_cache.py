"""The checkpoint cache's two questions, put to the execution store instead of ZenML's code.

For every checkpoint call with caching on, ZenML looks up a cached step run
(``cache_utils.get_cached_step_run``) and, on a hit, records the cached call in the new
execution (``SqlZenStore.create_run_step``). Both are general-purpose and slow on the local
store (``docs/benchmarks.md``). :func:`install` hooks them: each question is put to the
execution store's adapter (``ExecutionStore.cached_step_run`` / ``record_cache_hit``), and
``SQLiteStore`` answers it on the local SQLite store it reads (``store/cache_lookup.py``,
``cache_record.py``). An adapter that keeps no cache (``ZenMLStore``: a server, MySQL, a
store of unknown schema), a ZenML server process's own store, :func:`zenml_path_only` and
any error while choosing leave the question to ZenML's own code, unchanged.

Which adapter answers is decided by the store choice alone (``backend.store.execution_store``),
asked once per run: a run's store cannot change under it, and asking on each question would
add about 0.25 ms twice to a cached call of about 12 ms. That function sits above this
module (its adapters use ZenML's client, whose bootstrap installs these hooks), so the runtime
hands it in when a flow body starts (:func:`use_store`) instead of this module importing it.
The hooks of ``step_record.py`` (a computed call's start, completion and outputs) ask the same
choice through :func:`run_store`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol
from uuid import UUID

from kitaru_core.backend.fast_switch import FastSwitch
from kitaru_core.backend.store.cache_lookup import ASK_ZENML
from kitaru_core.backend.zenml_compat import store_internals


class RunStore(Protocol):
    """What the hooks ask of an execution store (``ExecutionStore`` has these methods; it is
    not imported here: its module reaches the bootstrap that installs these hooks). The cache
    hooks here ask the first three, ``step_record.py``'s hooks the last three."""

    def keeps_cache_of(self, zen_store: Any) -> bool: ...

    def cached_step_run(self, zen_store: Any, cache_key: str, project_id: UUID) -> Any: ...

    def record_cache_hit(self, zen_store: Any, request: Any) -> Any | None: ...

    def record_call_start(self, zen_store: Any, request: Any) -> Any | None: ...

    def record_call_completion(self, zen_store: Any, running: Any, update: Any) -> Any | None: ...

    def record_output(self, zen_store: Any, request: Any) -> Any | None: ...


_installed = False
# Off within ``zenml_path_only()`` (tests and benchmarks compare both paths with it).
_switch = FastSwitch()
zenml_path_only = _switch.zenml_path_only
# The adapter of the running flow's store (see :func:`use_store`); ``None``: ZenML's code.
_store: RunStore | None = None


def install() -> None:
    """Put ZenML's cache lookup and record to the execution store (once per process)."""
    global _installed
    if _installed:
        return
    store_internals.replace_cache_lookup(_fast_lookup)
    store_internals.replace_create_run_step(_fast_record)
    _installed = True


def use_store(choose_store: Callable[[], RunStore]) -> None:
    """Put the cache questions (and ``step_record.py``'s records) of the run starting now to the
    adapter ``choose_store()`` (the store choice) picks; if it cannot pick one, ZenML's own
    code answers them."""
    global _store
    try:
        _store = choose_store()
    except Exception:  # a store that cannot be told now: the run goes on, at ZenML's pace
        _store = None


def _fast_lookup(original: Callable[[str], Any]) -> Callable[[str], Any]:
    def get_cached_step_run(cache_key: str) -> Any:
        from zenml.client import Client

        client = Client()
        store = _store_keeping_cache_of(client.zen_store)
        if store is None:
            return original(cache_key)
        try:
            answer = store.cached_step_run(client.zen_store, cache_key, client.active_project.id)
        except Exception:  # an unexpected schema or state: ZenML's own query decides
            return original(cache_key)
        return original(cache_key) if answer is ASK_ZENML else answer

    return get_cached_step_run


def _fast_record(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create_run_step(self: Any, step_run: Any) -> Any:
        store = _store_keeping_cache_of(self)
        if store is not None:
            # Not guarded: a record that fails rolls back and answers None itself, and one
            # that failed after writing must not be written a second time by ZenML.
            response = store.record_cache_hit(self, step_run)
            if response is not None:
                return response
        return original(self, step_run)

    return create_run_step


def run_store(zen_store: Any) -> RunStore | None:
    """The adapter chosen for the running flow if it keeps the records of ``zen_store``, or
    ``None`` when ZenML's own code does (a server process, no adapter chosen, or one that keeps
    no records of this store). The one store choice both this module's and ``step_record.py``'s
    hooks ask; each has its own :func:`zenml_path_only` switch on top."""
    store = _store
    if store is None or store_internals.is_server_process():
        return None
    try:
        return store if store.keeps_cache_of(zen_store) else None
    except Exception:  # a store that cannot be told now: ZenML's own code answers
        return None


def _store_keeping_cache_of(zen_store: Any) -> RunStore | None:
    """The adapter that answers the cache questions of ``zen_store``, or ``None`` when ZenML's
    own code does (switched off here, or see :func:`run_store`)."""
    return run_store(zen_store) if _switch.on else None


def _fast_path_applies(zen_store: Any) -> bool:
    """Whether the cache questions of ``zen_store`` are answered by Kitaru's code now."""
    return _store_keeping_cache_of(zen_store) is not None
