"""Executions and pending waits as MCP resources, for clients that read and watch instead of
polling tools.

* ``kitaru://executions/{exec_id}`` — the execution as ``kitaru_executions_get`` returns it;
* ``kitaru://executions/{exec_id}/logs`` — its log tail as ``kitaru_executions_logs`` returns it;
* ``kitaru://waiting`` — every pending wait with its question and schema, as
  ``kitaru_executions_waiting`` returns it.

The content is the same bounded JSON the tools return (built by the same functions), so the
size cap and the fast local read path (no engine import on the local store) apply unchanged.
Reads are allowed in every mode. Listening clients learn of changes through
:mod:`kitaru_mcp.watcher`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import BaseModel

EXECUTION_TEMPLATE = "kitaru://executions/{exec_id}"
LOGS_TEMPLATE = "kitaru://executions/{exec_id}/logs"
WAITING_URI = "kitaru://waiting"
JSON_MIME = "application/json"
T = TypeVar("T", bound=BaseModel)


def execution_uri(exec_id: str) -> str:
    """The resource URI of one execution."""
    return EXECUTION_TEMPLATE.format(exec_id=exec_id)


def execution_logs_uri(exec_id: str) -> str:
    """The resource URI of one execution's log tail."""
    return LOGS_TEMPLATE.format(exec_id=exec_id)


async def _read(build: Callable[[], T]) -> str:
    """``build()`` in a worker thread (it reads the store), as compact JSON; Kitaru's errors
    become resource errors whose message carries code, message and hint."""
    import anyio

    from kitaru_core.errors import KitaruError, KitaruNotFoundError, translate_exception
    from kitaru_core.hints import Surface

    try:
        model = await anyio.to_thread.run_sync(build)
    except Exception as exc:
        problem = exc if isinstance(exc, KitaruError) else translate_exception(exc)
        text = f"{problem.code}: {problem.message}" + (
            f" Hint: {problem.hint_for(Surface.MCP)}" if problem.hint else ""
        )
        if isinstance(problem, KitaruNotFoundError):
            raise ResourceNotFoundError(text) from exc
        raise ResourceError(text) from exc
    return json.dumps(model.model_dump(mode="json", by_alias=True), separators=(",", ":"))


async def read_execution(exec_id: str) -> str:
    """The execution: status, checkpoints, pending wait, failure and result (bounded JSON, as
    kitaru_executions_get returns it)."""
    from kitaru_mcp.tools.executions import kitaru_executions_get

    return await _read(lambda: kitaru_executions_get(exec_id))


async def read_execution_logs(exec_id: str) -> str:
    """The execution's last log lines (bounded JSON, as kitaru_executions_logs returns it)."""
    from kitaru_mcp.tools.executions import kitaru_executions_logs

    return await _read(lambda: kitaru_executions_logs(exec_id))


async def read_waiting() -> str:
    """Every pending wait with its question and JSON schema (as kitaru_executions_waiting
    returns it, up to its largest page)."""
    from kitaru_mcp.results import MAX_LIMIT
    from kitaru_mcp.tools.executions import kitaru_executions_waiting

    return await _read(lambda: kitaru_executions_waiting(limit=MAX_LIMIT))


def register(server: MCPServer[Any]) -> None:
    """Declare the resources on ``server`` (every mode: they only read), and, when its
    subscription bus is Kitaru's watching bus, serve change notices to every client."""
    # Kitaru's bus (kitaru_mcp.watcher.WatchingBus) knows how to hook itself in; asked by
    # duck typing, since the watcher imports this module's URIs.
    serve = getattr(getattr(server, "_subscriptions", None), "serve", None)
    if callable(serve):
        serve(server)
    server.resource(
        EXECUTION_TEMPLATE,
        name="execution",
        title="Execution",
        description="One execution as kitaru_executions_get returns it (status, checkpoints, "
        "pending wait, failure, result). Listen to it for a notice when its status changes, a "
        "checkpoint finishes or a wait opens or closes.",
        mime_type=JSON_MIME,
    )(read_execution)
    server.resource(
        LOGS_TEMPLATE,
        name="execution_logs",
        title="Execution logs",
        description="The execution's last log lines as kitaru_executions_logs returns them. "
        "Change notices follow the execution's (not every new line).",
        mime_type=JSON_MIME,
    )(read_execution_logs)
    server.resource(
        WAITING_URI,
        name="waiting",
        title="Pending waits",
        description="Every wait that is pending across executions, with its question and JSON "
        "schema (as kitaru_executions_waiting returns it). Listen to it for a notice when a "
        "wait opens or closes.",
        mime_type=JSON_MIME,
    )(read_waiting)
