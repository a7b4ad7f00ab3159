"""``kitaru login``, ``logout``, ``auth token`` and ``log-store``: where Kitaru is connected and
where execution logs go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kitaru_core.cli.core import output_option
from kitaru_core.cli.render import emit, escape, fields_table, note, spinner

if TYPE_CHECKING:
    from rich.console import Console

    from kitaru_core.models_system import ServerConnection


def _render_connection(out: Console, connection: ServerConnection) -> None:
    where = {
        "local_store": "the embedded local store",
        "local_server": f"the local server at {escape(connection.url)}",
        "remote": f"the server at {escape(connection.url)}",
    }[connection.kind]
    out.print(
        f"Connected to {where}" + (f" (project {connection.project})" if connection.project else "")
    )
    for warning in connection.warnings:
        note(f"Warning: {warning}")


@click.command("login")
@click.argument("server", required=False)
@click.option(
    "--api-key", help="API key for a remote server (kept in the config dir, never shown)."
)
@click.option("--project", help="Project to work in on a remote server.")
@click.option("--port", type=int, help="Port for the local server (default 8237).")
@output_option
def login_command(
    server: str | None, api_key: str | None, project: str | None, port: int | None
) -> None:
    """Connect to a server: without SERVER, start (or reuse) a local server on loopback; with a
    URL, connect to that remote server with --api-key."""
    from kitaru_core.services import server as service

    with spinner("Starting the local server…" if server is None else f"Connecting to {server}…"):
        connection = service.login(server, api_key=api_key, project=project, port=port)
    emit(connection, lambda out: _render_connection(out, connection))


@click.command("logout")
@output_option
def logout_command() -> None:
    """Stop the local server (if this config dir started one) and use the local store again."""
    from kitaru_core.services import server as service

    connection = service.logout()
    emit(connection, lambda out: _render_connection(out, connection))


@click.group("auth")
def auth_group() -> None:
    """Tokens for the connected server."""


@auth_group.command("token")
@click.option(
    "--expires-in", type=int, default=3600, show_default=True, help="Lifetime in seconds."
)
@output_option
def auth_token_command(expires_in: int) -> None:
    """Print a short-lived bearer token for the connected server (for scripts and curl)."""
    from kitaru_core.services import server as service

    token = service.auth_token(expires_in)
    emit({"token": token, "expires_in": expires_in}, lambda out: click.echo(token))


def _render_log_store(out: Console, shown: dict[str, Any]) -> None:
    sources = shown.get("sources", {})
    out.print(
        fields_table(
            [
                ("Backend", f"{shown['backend']}  [dim]from {sources.get('backend')}[/]"),
                ("Endpoint", escape(shown["endpoint"]) if shown.get("endpoint") else None),
                ("API key", escape(shown["api_key"]) if shown.get("api_key") else None),
            ]
        )
    )


@click.group("log-store")
def log_store_group() -> None:
    """Where execution logs go: the artifact store (default), or an OTEL or Datadog endpoint."""


@log_store_group.command("set")
@click.argument("backend", type=click.Choice(["artifact-store", "otel", "datadog"]))
@click.option("--endpoint", help="The log endpoint URL (required for otel).")
@click.option("--api-key", help="The endpoint's API key (required for datadog; masked).")
@output_option
def log_store_set_command(backend: str, endpoint: str | None, api_key: str | None) -> None:
    """Send the active stack's execution logs to BACKEND and remember the choice."""
    from kitaru_core.services import log_store

    shown = log_store.set_log_store(backend, endpoint=endpoint, api_key=api_key)
    emit(shown, lambda out: _render_log_store(out, shown))


@log_store_group.command("show")
@output_option
def log_store_show_command() -> None:
    """Show the log store in force (KITARU_LOG_STORE_* over the stored choice), key masked."""
    from kitaru_core.services import log_store

    shown = log_store.show_log_store()
    emit(shown, lambda out: _render_log_store(out, shown))


@log_store_group.command("reset")
@output_option
def log_store_reset_command() -> None:
    """Go back to the default: logs kept with the artifact store."""
    from kitaru_core.services import log_store

    shown = log_store.reset_log_store()
    emit(shown, lambda out: _render_log_store(out, shown))
