"""``status`` and ``info``: where Kitaru is connected, what is active, and whether it works.

Both are diagnostics, so they never fail because the store is unreachable or a variable is
wrong: such problems are reported inside the result (``problems`` / ``health.error``), next to
everything that could still be read. The engine is reached only through the backend, and only
when these functions run.
"""

from __future__ import annotations

import platform
import time
from importlib import metadata

from kitaru_core.config.env import active_public_vars
from kitaru_core.config.masking import mask_mapping, mask_url
from kitaru_core.config.paths import config_dir
from kitaru_core.errors import translate_exception
from kitaru_core.models import StackInfo
from kitaru_core.models_system import (
    ConnectionInfo,
    FastPathInfo,
    StoreHealth,
    SystemInfo,
    SystemStatus,
    VersionInfo,
)

_SQLITE_PREFIX = "sqlite:///"


def get_status() -> SystemStatus:
    """Connection, project, active stack, config dir and active ``KITARU_*`` variables."""
    problems: list[dict[str, object]] = []
    connection = _configured_connection(problems)
    project: str | None = None
    stack: StackInfo | None = None
    try:
        local = _local_status(connection)
        if local is not None:
            connection, project, stack = local
        else:
            connection = _store_connection(connection)
            project = _active_project()
            stack = _active_stack()
    except Exception as exc:  # reported, not raised: status must work when the store does not
        problems.append(translate_exception(exc).to_dict())
    return SystemStatus(
        connection=connection,
        project=project,
        active_stack=stack,
        config_dir=str(config_dir()),
        env=mask_mapping(active_public_vars()),
        problems=_unique(problems),
        fast_path=_fast_path(connection),
    )


def _fast_path(connection: ConnectionInfo) -> FastPathInfo | None:
    """The fast local path's state (``None`` on a server, or when it cannot be told: the
    problems already say why)."""
    if connection.kind != "local":
        return None
    from kitaru_core.backend import local_store

    try:
        state = local_store.fast_path_state()
    except Exception:
        return None
    if state is None:
        return None
    info = FastPathInfo.model_validate(state, from_attributes=True)
    return info if info.enabled else info.model_copy(update={"fix": local_store.FAST_PATH_FIX})


def expect_answer() -> None:
    """An execution waits for an answer: where answering writes through the engine, a process
    that has not loaded it yet starts loading it in the background now, rather than when the
    answer arrives. On the local store answers need no engine in this process
    (``backend/local_waits.py``): loading it would only take CPU from the worker that resumes."""
    from kitaru_core.backend.bootstrap import open_in_background
    from kitaru_core.backend.store import execution_store

    try:
        local = execution_store().local_database() is not None
    except Exception:  # a configuration problem: the call that needs the store reports it
        local = False
    if not local:
        open_in_background()


def get_info() -> SystemInfo:
    """``status`` plus the versions of Kitaru, the engine, MCP and Python and a store health
    check."""
    status = get_status()
    return SystemInfo(**status.model_dump(), versions=versions(), health=check_store())


def versions() -> VersionInfo:
    """Installed versions, read from package metadata (nothing is imported)."""
    found = {field: _version(dist) for field, dist in VersionInfo.DISTRIBUTIONS.items()}
    return VersionInfo(
        **found, python=platform.python_version(), platform=platform.platform(terse=True)
    )


def check_store() -> StoreHealth:
    """One timed round trip to the store (its server info), reported rather than raised."""
    started = time.perf_counter()
    try:
        from kitaru_core.backend.bootstrap import store_version as read_store_version

        store_version = read_store_version()
    except Exception as exc:
        return StoreHealth(
            ok=False, latency_ms=_elapsed_ms(started), error=translate_exception(exc).to_dict()
        )
    return StoreHealth(ok=True, latency_ms=_elapsed_ms(started), store_version=store_version)


# ------------------------------------------------------------------------------------ helpers


def _configured_connection(problems: list[dict[str, object]]) -> ConnectionInfo:
    """The connection as configured (no store access): what status shows even offline."""
    from kitaru_core.config.resolver import resolve_connection

    try:
        resolved = resolve_connection()
    except Exception as exc:
        problems.append(translate_exception(exc).to_dict())
        return ConnectionInfo(kind="unknown", location=None, source="unknown")
    url = resolved.server_url.value
    if url:
        return ConnectionInfo(
            kind="server", location=mask_url(url), source=resolved.server_url.source
        )
    return ConnectionInfo(kind="local", location=None, source=resolved.server_url.source)


def _store_connection(configured: ConnectionInfo) -> ConnectionInfo:
    """The connection as the store reports it (the truth, including a persisted login)."""
    from kitaru_core.backend.bootstrap import store_description

    url = store_description()["url"]
    if url.startswith(_SQLITE_PREFIX):
        source = configured.source if configured.kind != "unknown" else "default"
        return ConnectionInfo(kind="local", location=url[len(_SQLITE_PREFIX) :], source=source)
    # A server the resolver did not name was chosen by a persisted `kitaru login`.
    source = configured.source if configured.kind == "server" else "login"
    return ConnectionInfo(kind="server", location=mask_url(url), source=source)


def _local_status(
    configured: ConnectionInfo,
) -> tuple[ConnectionInfo, str | None, StackInfo] | None:
    """Connection, project and active stack read straight from the local store (without
    loading the engine), or ``None`` where only the engine's client can tell."""
    from kitaru_core.backend.store import execution_store

    try:
        store = execution_store()
        database = store.local_database()
        if database is None:
            return None
        project = store.project_name()
        if project is None:
            return None  # a project deleted meanwhile: the engine's path reports it
        stack = store.active_stack()  # (the engine's client repairs a missing active stack)
    except Exception:
        return None  # the engine's path reports the problem, with what it can still read
    source = configured.source if configured.kind != "unknown" else "default"
    return ConnectionInfo(kind="local", location=database, source=source), project, stack


def _active_project() -> str | None:
    from kitaru_core.backend.bootstrap import active_project_name

    return active_project_name()


def _active_stack() -> StackInfo:
    from kitaru_core.services.stacks import current_stack

    return current_stack()


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _unique(problems: list[dict[str, object]]) -> list[dict[str, object]]:
    """The same failure reached through two calls is reported once."""
    seen: set[tuple[object, object]] = set()
    unique = []
    for problem in problems:
        key = (problem.get("code"), problem.get("message"))
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique
