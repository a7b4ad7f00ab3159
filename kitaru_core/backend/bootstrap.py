"""Lazy ZenML bootstrap against the Kitaru config directory."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from kitaru_core.config.env import read_env
from kitaru_core.config.paths import ensure_config_dir
from kitaru_core.config.zenml_env import translate
from kitaru_core.errors import KitaruBackendError, KitaruUsageError, translate_exception

if TYPE_CHECKING:
    from zenml.client import Client

_lock = threading.Lock()
_client: Client | None = None


def prepare_environment() -> None:
    """Validate ``KITARU_*`` and map them to ``ZENML_*`` — before ZenML is first imported."""
    env = read_env()
    if env.server_url and not env.project:
        raise KitaruUsageError(
            "KITARU_SERVER_URL points at a remote server but KITARU_PROJECT is not set.",
            hint="Set KITARU_PROJECT to the project to work in "
            "(e.g. export KITARU_PROJECT=default).",
            details={"missing": "KITARU_PROJECT"},
        )
    translate(os.environ)
    ensure_config_dir()


def zenml_client() -> Client:
    """The ZenML client for Kitaru's store, created (and its store bootstrapped) on first use."""
    global _client
    if _client is not None:
        return _client
    with _lock:
        if _client is None:
            prepare_environment()
            try:
                from zenml.client import Client

                from kitaru_core.runtime.terminal import quiet_zenml

                quiet_zenml()
                client = Client()
                _ = client.zen_store  # connect now, so failures surface here with a clear error
            except Exception as exc:
                error = translate_exception(exc)
                raise KitaruBackendError(
                    f"Could not open the Kitaru store: {error.message}",
                    hint="Check KITARU_CONFIG_PATH / KITARU_SERVER_URL with `kitaru status`.",
                    details=error.details,
                ) from exc
            _client = client
    return _client


def store_description() -> dict[str, str]:
    """Where the store is: its type and URL (a local SQLite file or a server)."""
    client = zenml_client()
    config = client.zen_store.config
    return {"type": str(config.type.value), "url": str(config.url)}
