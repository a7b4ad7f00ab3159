"""Lazy ZenML bootstrap against the Kitaru config directory."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kitaru_core.backend import tuning
from kitaru_core.backend.first_use import FirstUseGuard
from kitaru_core.backend.preflight import check_reachable
from kitaru_core.backend.quirks import quiet_flow_input_model
from kitaru_core.config.env import read_env
from kitaru_core.config.paths import ensure_config_dir
from kitaru_core.config.resolver import configured_connection, resolve_connection
from kitaru_core.config.zenml_env import project_name_to_resolve, translate
from kitaru_core.errors import (
    KitaruBackendError,
    KitaruError,
    KitaruUsageError,
    translate_exception,
)
from kitaru_core.hints import Hint

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
                client = _open_client()
            except KitaruError:
                raise  # already says what is wrong (a bad setting, an unreachable server)
            except Exception as exc:
                error = translate_exception(exc)
                raise KitaruBackendError(
                    f"Could not open the Kitaru store: {error.message}",
                    hint=Hint(
                        sdk="Check KITARU_CONFIG_PATH and the server connection "
                        "(KITARU_SERVER_URL or `connect(...)`); re-run with KITARU_DEBUG=1.",
                        cli="Check KITARU_CONFIG_PATH and the server connection "
                        "(KITARU_SERVER_URL or `kitaru login`); re-run with KITARU_DEBUG=1.",
                        mcp="Check KITARU_CONFIG_PATH and the server connection "
                        "(KITARU_SERVER_URL; see kitaru_status).",
                    ),
                    details=error.details,
                ) from exc
            _client = client
            for hook in _opened_hooks:
                hook()
    return _client


def prepare_zenml() -> None:
    """Kitaru's environment and ZenML's quiet logging, without opening the store — for the
    operations that change which store is used (``login``, ``logout``), which must work
    while the current one is unreachable."""
    prepare_environment()
    from kitaru_core.terminal import quiet_zenml

    quiet_zenml()
    _source_root_fallback()


def _open_client() -> Client:
    # A server named by an env var is checked before ZenML is imported (~1 s): a script using
    # `kitaru status` as a health check learns at once that the server is down.
    named = resolve_connection().server_url.value
    if named:
        check_reachable(str(named), hint=_unreachable_hint())
    import zenml
    from zenml.client import Client

    from kitaru_core.backend.zenml_compat.store_internals import configured_store
    from kitaru_core.terminal import quiet_zenml

    quiet_zenml()
    # While the config dir is fresh, one process at a time writes ZenML's config and creates
    # and migrates the local store; the others wait here, then open the finished store.
    with FirstUseGuard(zenml.__version__) as guard:
        kind, url = configured_store()
        local = kind == "sql"
        if not local:
            guard.release()  # a server migrates its own database
            if url != named:  # a persisted login
                check_reachable(url, hint=_unreachable_hint())
        client = Client()
        _ = client.zen_store  # connect now, so failures surface here with a clear error
        if local:
            guard.mark_ready()
    _select_project(client)
    tuning.apply(client)
    quiet_flow_input_model()
    _source_root_fallback()
    return client


def _unreachable_hint() -> str:
    """What to do about an unreachable server, in the words of where its URL came from."""
    source = resolve_connection().server_url.source
    if source == "kitaru_env":
        return (
            "Start the server or correct KITARU_SERVER_URL; unset KITARU_SERVER_URL and "
            "KITARU_AUTH_TOKEN to use the local store instead."
        )
    if source == "zenml_env":
        return "Start the server or correct ZENML_STORE_URL; unset it to use the local store."
    return (
        "Start the server (`kitaru login` restarts this machine's local server), connect to "
        "another with `kitaru login URL --api-key KEY`, or go back to the local store with "
        "`kitaru logout`."
    )


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


def active_project_name() -> str:
    """The name of the project the store's client works in."""
    return str(zenml_client().active_project.name)


def store_version() -> str:
    """The version the store reports (one round trip: a health check)."""
    return str(zenml_client().zen_store.get_store_info().version)


def server_url() -> str | None:
    """The URL of the Kitaru (ZenML) server in use, or ``None`` on the local store."""
    config = zenml_client().zen_store.config
    return None if str(config.type.value) == "sql" else str(config.url)
