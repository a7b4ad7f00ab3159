"""System tools: ``kitaru_status``, ``kitaru_info`` and the local server's start and stop."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from kitaru_core.models_system import ServerConnection, SystemInfo, SystemStatus
from kitaru_mcp import registry
from kitaru_mcp.options import options_of


class McpServerInfo(BaseModel):
    """This MCP server's own settings, so an assistant knows what it may do here."""

    mode: str = Field(description="read-only, standard or destructive.")
    tools_needing_another_mode: dict[str, str] = Field(
        description="Tools this mode hides, with the mode that would allow each."
    )
    allowed_roots: list[str] = Field(
        description="Directories flow targets may be loaded from (--allow-path)."
    )


class InfoResult(SystemInfo):
    """``kitaru_info``: status, versions, store health, and this server's settings."""

    mcp_server: McpServerInfo


def kitaru_status() -> SystemStatus:
    """Where Kitaru is connected and what is active: the connection (local store path or
    server URL), the project, the active stack, the config directory and the KITARU_*
    variables that are set (secrets masked), and whether the fast local store path is on
    (`fast_path`; when off, its `reason` and `fix`). Store problems are listed in `problems`
    rather than failing.

    Use it first when unsure which store or stack you are working with. Next: kitaru_info for
    versions and a health check, kitaru_stacks_list to see other stacks."""
    from kitaru_core.services import system

    return system.get_status()


def kitaru_info(ctx: Context[Any, Any]) -> InfoResult:
    """Everything kitaru_status shows, plus the versions of kitaru-mcp, the engine, mcp and
    Python, a timed store health check, and this MCP server's mode (with the tools it hides and
    the mode each needs).

    Use it to diagnose failures (a backend_error, a slow store) or to learn which tools this
    server's mode allows. If `health.ok` is false, follow `health.error.hint`; otherwise go
    on with kitaru_stacks_list or the execution tools."""
    from kitaru_core.services import system

    options = options_of(ctx)
    hidden = {
        name: row.mode.value
        for name, row in registry.TOOLS.items()
        if not options.mode.allows(row.mode)
    }
    info = system.get_info()
    return InfoResult(
        **info.model_dump(),
        mcp_server=McpServerInfo(
            mode=options.mode.value,
            tools_needing_another_mode=hidden,
            allowed_roots=[str(root) for root in options.allowed_roots],
        ),
    )


def kitaru_server_start(
    port: Annotated[
        int | None,
        Field(
            description="Loopback port for the local server (default 8237).",
            examples=[8237],
            ge=1024,
            le=65535,
        ),
    ] = None,
) -> ServerConnection:
    """Start (or reuse) the local Kitaru server on 127.0.0.1 and connect this machine's Kitaru
    to it, so executions show up in its dashboard and several processes share one server. Needs
    the `server` extra (the error names it when missing). Takes several seconds the first time.

    Use it when the user asks for the dashboard or a shared local server. Next: kitaru_status
    to confirm the connection. To return to the embedded local store,
    {tool:kitaru_server_stop|stop the server}."""
    from kitaru_core.services import server

    return server.login(port=port)


def kitaru_server_stop() -> ServerConnection:
    """Stop the local Kitaru server started by kitaru_server_start and return to the embedded
    local store. Executions stay in the store's database.

    Use it when the user no longer needs the dashboard. Next: kitaru_status to confirm."""
    from kitaru_core.services import server

    return server.logout()


TOOLS = (kitaru_status, kitaru_info, kitaru_server_start, kitaru_server_stop)
