"""Lazy ZenML bootstrap against the Kitaru config directory."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kitaru_core.backend import tuning
from kitaru_core.config.env import read_env
from kitaru_core.config.paths import ensure_config_dir
from kitaru_core.config.resolver import configured_connection, resolve_connection
from kitaru_core.config.zenml_env import project_name_to_resolve, translate
from kitaru_core.errors import KitaruBackendError, KitaruUsageError, translate_exception

if TYPE_CHECKING:
    from zenml.client import Client

_lock = threading.Lock()
_client: Client | None = None
_opened_hooks: list[Callable[[], None]] = []


def prepare_environment() -> None:
    """Validate ``KITARU_*`` and map them to ``ZENML_*`` — before ZenML is first imported."""
    read_env()  # validates every KITARU_* variable
    resolve_connection().require_project()
    translate(os.environ)
    ensure_config_dir()


def _source_root_fallback() -> None:
    """In ``python -c``, a REPL or a notebook ``__main__`` has no file, and ZenML then refuses
    operations that need a source root (loading flavors, starting a server). The current
    directory stands in; flows set their own root when they run."""
    from zenml.utils import source_utils

    try:
        source_utils.get_source_root()
    except RuntimeError:
        source_utils.set_custom_source_root(os.getcwd())


def _select_project(client: Client) -> None:
    """Point ZenML at the configured project by id (ZenML's variable only accepts ids)."""
    name = configured_connection().project or project_name_to_resolve(os.environ)
    if not name:
        return
    try:
        project_id = client.get_project(name).id
    except KeyError as exc:
        raise KitaruUsageError(
            f"Project '{name}' does not exist on this server.",
            hint="Check KITARU_PROJECT (or configure(project=...)).",
            details={"project": name},
        ) from exc
    os.environ["ZENML_ACTIVE_PROJECT_ID"] = str(project_id)


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
                _select_project(client)
                tuning.apply(client)
                _source_root_fallback()
            except KitaruUsageError:
                raise
            except Exception as exc:
                error = translate_exception(exc)
                raise KitaruBackendError(
                    f"Could not open the Kitaru store: {error.message}",
                    hint="Check KITARU_CONFIG_PATH / KITARU_SERVER_URL with `kitaru status`.",
                    details=error.details,
                ) from exc
            _client = client
            for hook in _opened_hooks:
                hook()
    return _client


_opener: threading.Thread | None = None


def open_in_background() -> None:
    """Start opening the store in a background thread (once), for calls expected soon."""
    global _opener
    with _lock:
        if _client is not None or _opener is not None:
            return
        _opener = threading.Thread(target=_open_quietly, name="kitaru-store-open", daemon=True)
        _opener.start()


def _open_quietly() -> None:
    with contextlib.suppress(Exception):  # the call that needs the store reports the problem
        zenml_client()


def when_opened(hook: Callable[[], None]) -> None:
    """Run ``hook`` once the store is open in this process (now, if it already is)."""
    with _lock:
        if _client is None:
            _opened_hooks.append(hook)
            return
    hook()


def store_description() -> dict[str, str]:
    """Where the store is: its type and URL (a local SQLite file or a server)."""
    client = zenml_client()
    config = client.zen_store.config
    return {"type": str(config.type.value), "url": str(config.url)}


def server_url() -> str | None:
    """The URL of the Kitaru (ZenML) server in use, or ``None`` on the local store."""
    config = zenml_client().zen_store.config
    return None if str(config.type.value) == "sql" else str(config.url)
