"""Log-store operations: where execution logs go (``kitaru log-store set|show|reset``)."""

from __future__ import annotations

import os
from typing import Any

from kitaru_core.config.settings import load_settings, update_settings
from kitaru_core.requests.log_store import build_log_store_settings, effective_log_store


def show_log_store() -> dict[str, Any]:
    """The log store in force (env overrides over ``kitaru.yaml``), the API key masked."""
    return effective_log_store(load_settings().log_store, os.environ).render()


def set_log_store(
    backend: str, *, endpoint: str | None = None, api_key: str | None = None
) -> dict[str, Any]:
    """Validate, point the active stack's log store there, then persist it in ``kitaru.yaml``."""
    from kitaru_core.backend import log_store

    settings = build_log_store_settings(backend, endpoint=endpoint, api_key=api_key)
    log_store.apply(settings)
    update_settings(lambda current: current.model_copy(update={"log_store": settings}))
    return show_log_store()


def reset_log_store() -> dict[str, Any]:
    """Back to the default: logs kept with the artifact store (and by Kitaru locally)."""
    from kitaru_core.backend import log_store

    log_store.apply(build_log_store_settings("artifact-store"))
    update_settings(lambda current: current.model_copy(update={"log_store": None}))
    return show_log_store()
