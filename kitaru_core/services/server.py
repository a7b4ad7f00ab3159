"""Server connection operations: ``login`` (local daemon or remote), ``connect`` (the SDK's
login to a URL), ``logout``, ``auth token``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kitaru_core.config.env import SERVER_URL_VARS, SERVER_VARS
from kitaru_core.errors import KitaruUsageError
from kitaru_core.models_system import ServerConnection

TOKEN_LIFETIME = 3600
MAX_TOKEN_LIFETIME = 24 * 3600


def _current(warnings: list[str] | None = None) -> ServerConnection:
    from kitaru_core.backend import server
    from kitaru_core.backend.bootstrap import active_project_name

    kind, url = server.store_kind()
    project = None
    if kind != "local_store":
        project = active_project_name()
    return ServerConnection(
        kind=kind,  # type: ignore[arg-type]
        url=None if kind == "local_store" else url,
        project=project,
        warnings=warnings or [],
    )


@dataclass(frozen=True)
class ConnectLabels:
    """How a surface names the inputs of a connect, so messages use the caller's words."""

    server: str
    api_key: str
    project: str
    retry: str  # what to run again once the problem is fixed


CLI_LABELS = ConnectLabels("SERVER", "--api-key", "--project", "`kitaru login URL --api-key KEY`")
SDK_LABELS = ConnectLabels(
    "server_url", "api_key", "project", "kitaru_core.connect(url, api_key=...)"
)


def login(
    server_url: str | None = None,
    *,
    api_key: str | None = None,
    project: str | None = None,
    port: int | None = None,
) -> ServerConnection:
    """Without a URL: start (or reuse) a local server on loopback and connect to it. With a URL:
    connect to that server (see :func:`connect`)."""
    from kitaru_core.backend import server

    if server_url is not None:
        if port is not None:
            raise KitaruUsageError(
                "--port is for the local server; a remote server has its own port in its URL.",
                hint="Run `kitaru login URL --api-key KEY` without --port.",
            )
        return connect(server_url, api_key=api_key, project=project, labels=CLI_LABELS)
    warnings: list[str] = []
    if api_key or project:
        raise KitaruUsageError(
            "--api-key and --project are for a remote server; the local server needs none.",
            hint="Run `kitaru login` alone, or `kitaru login URL --api-key KEY`.",
        )
    if _env_server_set():
        warnings.append(
            "KITARU_SERVER_URL / KITARU_AUTH_TOKEN are set in this shell and take precedence "
            "over the local server in new processes; unset them to use it."
        )
    if port is not None and not 1024 <= port <= 65535:
        raise KitaruUsageError(f"--port must be between 1024 and 65535, got {port}.")
    server.start_local_server(port)
    return _current(warnings)


def connect(
    server_url: str,
    *,
    api_key: str | None = None,
    project: str | None = None,
    labels: ConnectLabels = SDK_LABELS,
) -> ServerConnection:
    """Connect this config dir to a server and remember it (the persisted login).

    Everything is validated before anything changes: a blank or non-http(s) URL, or a blank key
    or project, is a usage error; an unreachable server is a backend error within seconds.
    The login is the lowest connection layer, so a server named in the environment
    (``SERVER_URL_VARS``) still wins in new processes (a warning says so).
    """
    from kitaru_core.backend import server

    url = _server_url(server_url, labels)
    key = _optional_text(api_key, labels.api_key)
    project_name = _optional_text(project, labels.project)
    if key is None and not _is_loopback(url):
        raise KitaruUsageError(
            "Connecting to a remote server needs an API key.",
            hint=f"Pass {labels.api_key} (create one on the server), or set KITARU_SERVER_URL, "
            "KITARU_AUTH_TOKEN and KITARU_PROJECT.",
            details={"field": labels.api_key},
        )
    warnings: list[str] = []
    if _env_server_set():
        warnings.append(
            f"{' / '.join(SERVER_URL_VARS)} are set in this environment and take "
            f"precedence over this login in new processes; unset them to use {url}."
        )
    server.connect_remote(
        url,
        api_key=key,
        project=project_name,
        hint=f"Check that the server is running and the URL is right, then run {labels.retry} "
        "again.",
    )
    return _current(warnings)


def _server_url(value: object, labels: ConnectLabels) -> str:
    from kitaru_core.backend.preflight import server_address

    if not isinstance(value, str) or not value.strip():
        raise KitaruUsageError(
            f"{labels.server} must be the server's URL, got {value!r}.",
            hint="Give the server's http:// or https:// address, e.g. https://kitaru.example.com.",
            details={"field": labels.server},
        )
    url = value.strip().rstrip("/")
    server_address(url)  # a usage error unless http(s)://host[:port]
    return url


def _is_loopback(url: str) -> bool:
    """A server on this machine (e.g. the local server another config dir started) may run
    without authentication, so it is the one place a key may be left out."""
    from kitaru_core.backend.preflight import server_address

    host = server_address(url)[0]
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _optional_text(value: object, label: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise KitaruUsageError(
            f"{label} must be a non-empty string when given, got {value!r}.",
            hint=f"Leave {label} out, or give its value.",
            details={"field": label},
        )
    return value.strip()


def _env_server_set() -> bool:
    return any(os.environ.get(name, "").strip() for name in SERVER_VARS)


def logout() -> ServerConnection:
    """Stop the local server (if this config dir started one) and use the local store again."""
    from kitaru_core.backend import server

    server.stop_local_server()
    return _current()


def auth_token(expires_in: int = TOKEN_LIFETIME) -> str:
    """A short-lived bearer token for the connected server (for scripts and curl)."""
    from kitaru_core.backend import server

    if not 60 <= expires_in <= MAX_TOKEN_LIFETIME:
        raise KitaruUsageError(
            f"expires_in must be between 60 and {MAX_TOKEN_LIFETIME} seconds, got {expires_in}."
        )
    return server.api_token(expires_in)
