"""Server connection operations: ``login`` (local daemon or remote), ``logout``, ``auth token``."""

from __future__ import annotations

import os

from kitaru_core.errors import KitaruUsageError
from kitaru_core.models_system import ServerConnection

TOKEN_LIFETIME = 3600
MAX_TOKEN_LIFETIME = 24 * 3600


def _current(warnings: list[str] | None = None) -> ServerConnection:
    from kitaru_core.backend import server
    from kitaru_core.backend.bootstrap import zenml_client

    kind, url = server.store_kind()
    project = None
    if kind != "local_store":
        project = zenml_client().active_project.name
    return ServerConnection(
        kind=kind,  # type: ignore[arg-type]
        url=None if kind == "local_store" else url,
        project=project,
        warnings=warnings or [],
    )


def login(
    server_url: str | None = None,
    *,
    api_key: str | None = None,
    project: str | None = None,
    port: int | None = None,
) -> ServerConnection:
    """Without a URL: start (or reuse) a local server on loopback and connect to it. With a URL:
    connect to that remote server with an API key (kept in the config dir, never shown)."""
    from kitaru_core.backend import server

    warnings: list[str] = []
    if server_url is None:
        if api_key or project:
            raise KitaruUsageError(
                "--api-key and --project are for a remote server; the local server needs none.",
                hint="Run `kitaru login` alone, or `kitaru login URL --api-key KEY`.",
            )
        if os.environ.get("KITARU_SERVER_URL") or os.environ.get("KITARU_AUTH_TOKEN"):
            warnings.append(
                "KITARU_SERVER_URL / KITARU_AUTH_TOKEN are set in this shell and take precedence "
                "over the local server in new processes; unset them to use it."
            )
        if port is not None and not 1024 <= port <= 65535:
            raise KitaruUsageError(f"--port must be between 1024 and 65535, got {port}.")
        server.start_local_server(port)
        return _current(warnings)
    url = server_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise KitaruUsageError(
            f"{server_url!r} is not a server URL.",
            hint="Give the server's http:// or https:// address.",
        )
    if not api_key:
        raise KitaruUsageError(
            "Connecting to a remote server needs an API key.",
            hint="Pass --api-key (create one on the server), or set KITARU_SERVER_URL, "
            "KITARU_AUTH_TOKEN and KITARU_PROJECT.",
        )
    server.connect_remote(url, api_key=api_key, project=project)
    return _current(warnings)


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
