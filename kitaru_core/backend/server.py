"""Connections to a Kitaru (ZenML) server: a local server daemon on loopback, or a remote one."""

from __future__ import annotations

import contextlib
import importlib.util
from typing import Any

from kitaru_core.backend.bootstrap import prepare_zenml, zenml_client
from kitaru_core.backend.preflight import check_reachable
from kitaru_core.errors import (
    KitaruBackendError,
    KitaruError,
    KitaruFeatureNotAvailableError,
    KitaruStateError,
    KitaruUsageError,
    translate_exception,
)

LOCAL_SERVER_PORT = 8237
START_TIMEOUT = 120


def _require_server_extra() -> None:
    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise KitaruFeatureNotAvailableError(
            f"The local server needs packages that are not installed ({', '.join(missing)}).",
            extra="server",
        )


def store_kind() -> tuple[str, str]:
    """``(kind, url)``: kind is ``local_store``, ``local_server`` or ``remote``."""
    config = zenml_client().zen_store.config
    url = str(config.url)
    if str(config.type.value) == "sql":
        return "local_store", url
    local = local_server_url()
    return ("local_server" if local and url.rstrip("/") == local.rstrip("/") else "remote"), url


def local_server_url() -> str | None:
    """The URL of the local server daemon this config dir started, if it runs."""
    from kitaru_core.backend.zenml_compat.server import local_server_deployer

    try:
        server = local_server_deployer().get_server()
    except Exception:  # none deployed
        return None
    if not server.status or not server.status.url or not server.is_running:
        return None
    return str(server.status.url)


def start_local_server(port: int | None = None) -> str:
    """Start (or reuse) the local server daemon on loopback and connect to it; its URL."""
    _require_server_extra()
    prepare_zenml()  # not zenml_client(): the current store may be an unreachable server
    from kitaru_core.backend.zenml_compat.server import daemon_server_config, local_server_deployer

    deployer = local_server_deployer()
    config = daemon_server_config(port or LOCAL_SERVER_PORT)
    try:
        server = deployer.deploy_server(config, timeout=START_TIMEOUT)
        deployer.connect_to_server()
    except Exception as exc:
        error = translate_exception(exc)
        raise KitaruBackendError(
            f"The local server did not start: {error.message}",
            hint="Check that the port is free (--port) and see the server log in the config "
            "dir (zen_server/).",
        ) from exc
    if not server.status or not server.status.url:
        raise KitaruBackendError("The local server started but reported no URL.")
    return str(server.status.url)


def stop_local_server() -> bool:
    """Stop the local server daemon (if any) and return to the embedded store."""
    prepare_zenml()  # works while the server this config dir points at is unreachable
    from zenml.config.global_config import GlobalConfiguration

    from kitaru_core.backend.zenml_compat.server import local_server_deployer

    was_running = local_server_url() is not None
    with contextlib.suppress(Exception):  # nothing deployed
        local_server_deployer().remove_server()
    GlobalConfiguration().set_default_store()
    return was_running


def connect_remote(url: str, *, api_key: str | None, project: str | None, hint: str) -> None:
    """Connect this config dir to a server (the persisted login), with an API key if given.

    The server is checked first (one short TCP connect), so an unreachable URL fails in
    seconds and changes nothing. A connection ZenML then refuses leaves the previous login in
    place and no new credentials behind.
    """
    check_reachable(url, hint=hint)
    prepare_zenml()  # not zenml_client(): the current store may be the unreachable one
    from zenml.config.global_config import GlobalConfiguration

    from kitaru_core.backend.zenml_compat.server import credentials_store, server_store_config

    credentials = credentials_store()
    had_credentials = credentials.get_credentials(url) is not None
    config = GlobalConfiguration()
    previous = config.store  # the persisted store config, not opened here
    if api_key:
        credentials.set_api_key(url, api_key)
    try:
        config.set_store(server_store_config(url))
        if project:
            _activate_project(url, project)
    except Exception as exc:
        _restore(previous, url, forget_credentials=bool(api_key) and not had_credentials)
        if isinstance(exc, KitaruError):
            raise
        error = translate_exception(exc)
        raise KitaruBackendError(
            f"Could not connect to {url}: {error.message}",
            hint="Check the URL and the API key (pass one if the server asks for it).",
            retryable=error.retryable,
            details={**error.details, "server_url": url},
        ) from exc


def _activate_project(url: str, project: str) -> None:
    try:
        zenml_client().set_active_project(project)
    except KeyError as exc:
        raise KitaruUsageError(
            f"Project '{project}' does not exist on {url}.",
            hint="Give the name of an existing project, or leave it out to use the server's "
            "default project.",
            details={"project": project},
        ) from exc


def _restore(previous: Any, url: str, *, forget_credentials: bool) -> None:
    """Undo a failed connect: the previous store config back, the new credentials gone."""
    from zenml.config.global_config import GlobalConfiguration

    from kitaru_core.backend.zenml_compat.server import credentials_store

    config = GlobalConfiguration()
    if config.store != previous:
        with contextlib.suppress(Exception):  # the previous store may be unreachable itself
            if previous is None:
                config.set_default_store()
            else:
                config.set_store(previous)
        if previous is not None:
            config.store = previous  # persisted even when it could not be opened just now
    if forget_credentials:
        with contextlib.suppress(Exception):
            credentials_store().clear_credentials(url)


def api_token(expires_in: int) -> str:
    """A short-lived bearer token for the connected server."""
    from zenml.enums import APITokenType

    store: Any = zenml_client().zen_store
    if not hasattr(store, "get_api_token"):
        raise KitaruStateError(
            "A token needs a connection to a Kitaru server; this machine uses the local store.",
            hint="Connect first: kitaru login (local server) or kitaru login <url>.",
        )
    if str(store.get_store_info().auth_scheme) in ("NO_AUTH", "no_auth"):
        raise KitaruStateError(
            "The connected server does not use authentication (a local server): requests need "
            "no token.",
            hint="Call the server without an Authorization header.",
        )
    return str(store.get_api_token(token_type=APITokenType.GENERIC, expires_in=expires_in))
