"""``connect()``: the SDK's ``kitaru login URL --api-key KEY [--project NAME]``."""

from __future__ import annotations

from kitaru_core.models_system import ServerConnection

__all__ = ["connect"]


def connect(
    server_url: str, *, api_key: str | None = None, project: str | None = None
) -> ServerConnection:
    """Connect to a Kitaru server and remember it for this config dir, as ``kitaru login`` does.

    Args:
        server_url: The server's ``http://`` or ``https://`` address.
        api_key: An API key (or a token) for the server; kept in the config dir, never shown.
            Required unless the server runs on this machine (loopback) without authentication.
        project: The project to work in; without it, the server's default project.

    Returns:
        What Kitaru is connected to now (kind, URL, project, warnings).

    Raises:
        KitaruUsageError: a blank or non-http(s) URL, a blank key or project, a missing key
            for a remote server, or an unknown project — nothing is changed.
        KitaruBackendError: the server cannot be reached (reported within seconds) or refused
            the connection — the previous connection stays in place.

    The login is the lowest connection layer: ``KITARU_SERVER_URL`` / ``KITARU_AUTH_TOKEN``
    (or the engine's own server variable, ``kitaru_core.config.env.ENGINE_SERVER_URL_VAR``) in
    the environment still win in new processes; the result carries a warning when they are set.
    """
    from kitaru_core.services.server import SDK_LABELS
    from kitaru_core.services.server import connect as connect_service

    return connect_service(server_url, api_key=api_key, project=project, labels=SDK_LABELS)
