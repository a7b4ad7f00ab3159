"""Building Kitaru's MCP server: tools by capability mode, one error contract, bounded results.

``build_server()`` is cheap: it imports the tool modules (pydantic schemas and request
builders only) and never the engine — services are imported inside the tool functions, so
``initialize`` and ``tools/list`` are answered without touching the store. Transports live in
:mod:`kitaru_mcp.transport`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.context import HandlerResult as _HandlerResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, InputRequiredResult, TextContent

from kitaru_core.config.env import ENGINE, debug_enabled
from kitaru_core.hints import resolve_tools
from kitaru_mcp import app, registry, resources
from kitaru_mcp.errors import (
    ResultTooLargeError,
    error_result,
    is_sdk_unknown_tool,
    log_failure,
    mode_forbidden,
    original_exception,
    tool_modes_for,
    unknown_arguments,
    unknown_tool,
)
from kitaru_mcp.options import ServerOptions
from kitaru_mcp.registry import Mode
from kitaru_mcp.results import MAX_RESULT_CHARS
from kitaru_mcp.watcher import WatchingBus

SERVER_NAME = "kitaru"

# One module per tool group; each exposes ``TOOLS``, a tuple of functions named like the tool.
# Adding a group = writing the module and listing it here (its rows live in registry.py).
TOOL_MODULES: tuple[str, ...] = (
    "kitaru_mcp.tools.system",
    "kitaru_mcp.tools.stacks",
    "kitaru_mcp.tools.executions",
    "kitaru_mcp.tools.artifacts",
    "kitaru_mcp.tools.deployments",
    "kitaru_mcp.tools.flows",
)

INSTRUCTIONS = """\
Kitaru runs AI-agent workflows ("flows" made of "checkpoints") durably on {engine}: every
finished checkpoint is saved, so executions can wait for input, resume, be retried or replayed
without redoing finished work. This server runs in {mode} mode.

Typical workflow — find executions, inspect them, then act:
1. Find: kitaru_executions_list (filter by flow/status/stack), kitaru_executions_latest, or
   kitaru_executions_waiting for executions blocked on a question.
2. Inspect: kitaru_executions_get (status, checkpoints, pending wait, failure),
   kitaru_executions_logs (the tail by default; filter by checkpoint), kitaru_artifacts_list/get.
3. Act: answer a wait with kitaru_executions_input; kitaru_executions_resume, _retry (failed
   executions) or _replay (from a checkpoint, with overrides); start work with
   kitaru_executions_run or kitaru_deployments_invoke — both return at once with an exec_id, so
   poll kitaru_executions_get instead of waiting.
Live updates: kitaru://executions/{{exec_id}} (and …/logs) and kitaru://waiting are resources
with the same JSON as kitaru_executions_get / _logs / _waiting. A client that listens
(subscriptions/listen) or, on older protocols, subscribes (resources/subscribe) gets a
resources/updated notice when an execution's status changes, a
checkpoint finishes or a wait opens or closes, and need not poll. With a progress token,
wait_seconds sends one progress notification per finished checkpoint.
Questions for the human: never invent the answer to a flow's wait. If your client supports
elicitation, call kitaru_executions_input without `value` (or kitaru_executions_run with
wait_seconds): the user sees the wait's question as a form and their answer is validated and
recorded. If they decline or cancel, the wait stays pending and the hint says so; ask them in
the conversation instead. confirm_with_user=false skips the form (only when the user already
gave you the answer); true also asks them to confirm a continue gate (a wait without schema).
Infrastructure: call kitaru_status first when unsure where you are connected; kitaru_stacks_*
list, show, switch and create the stacks flows run on.

Conventions: lists take `limit` (default 20, max 200) and return `next_cursor`; pass it back as
`cursor` for the next page. Big values come back shortened with `truncated: true` and a hint.
Failures are results with isError whose text content is the JSON {{"error": {{code, message,
hint, retryable, details}}}} (error results carry no structuredContent): read the hint before
retrying. An invalid argument is a validation_error naming the field. `mode_forbidden` means
this server's mode does not allow the tool (the hint names the mode that does) — ask the user
rather than working around it. Tools not listed by tools/list are not available here.
Timestamps are UTC in RFC 3339 form (…Z).
"""


class KitaruMCPServer(MCPServer[Any]):
    """``MCPServer`` with Kitaru's call-time rules: mode refusals, structured errors, size cap."""

    def __init__(self, options: ServerOptions, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options
        # Called after every tools/list (transport.StoreWarmup hooks in here).
        self.on_tools_listed: Callable[[], None] | None = None
        self.middleware.append(self._observe_listing)

    @property
    def live_updates(self) -> WatchingBus | None:
        """The subscription bus whose watcher sends change events (``None`` if replaced)."""
        bus = self._subscriptions
        return bus if isinstance(bus, WatchingBus) else None

    @property
    def tool_names(self) -> list[str]:
        return [tool.name for tool in self._tool_manager.list_tools()]

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        context: Context[Any, Any] | None = None,
    ) -> CallToolResult | InputRequiredResult:
        row = registry.spec(name)
        # A tool outside the mode was never registered; refuse it by name, before anything runs.
        if row is not None and not self.options.mode.allows(row.mode):
            return error_result(mode_forbidden(row, self.options.mode), self.options.mode)
        refusal = self._check_argument_names(name, arguments)
        if refusal is not None:
            return refusal
        try:
            result = await super().call_tool(name, arguments, context)
        except MCPError:
            raise  # protocol-level errors stay JSON-RPC errors
        except Exception as exc:
            if is_sdk_unknown_tool(exc):
                return error_result(unknown_tool(name, self.tool_names))
            cause = original_exception(exc)
            log_failure(name, cause)
            return error_result(cause, self.options.mode)
        return finish_result(result)

    def _check_argument_names(self, name: str, arguments: dict[str, Any]) -> CallToolResult | None:
        tool = self._tool_manager.get_tool(name)
        if tool is None:
            return None
        accepted = list(tool.parameters.get("properties", {}))
        unknown = sorted(set(arguments) - set(accepted))
        return error_result(unknown_arguments(name, unknown, accepted)) if unknown else None

    async def _observe_listing(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> _HandlerResult:
        result = await call_next(ctx)
        if ctx.method == "tools/list" and self.on_tools_listed is not None:
            self.on_tools_listed()
        return result


def finish_result(
    result: CallToolResult | InputRequiredResult,
) -> CallToolResult | InputRequiredResult:
    """Enforce the size cap and keep the text copy of structured output compact; strip any
    structured content from error results (they carry their body as text only)."""
    if not isinstance(result, CallToolResult):
        return result
    if result.is_error:
        if result.structured_content is None:
            return result
        return CallToolResult(content=result.content, is_error=True, _meta=result.meta)
    if result.structured_content is None:
        return result
    text = json.dumps(result.structured_content, separators=(",", ":"), default=str)
    if len(text) > MAX_RESULT_CHARS:
        return error_result(
            ResultTooLargeError(
                f"The result is {len(text)} characters, over the {MAX_RESULT_CHARS} limit.",
                details={"chars": len(text), "limit": MAX_RESULT_CHARS},
            )
        )
    # The SDK's text copy is indented JSON; the compact form costs the model far fewer tokens.
    return result.model_copy(update={"content": [TextContent(type="text", text=text)]})


def _tool_functions() -> Iterable[Callable[..., Any]]:
    for module_name in TOOL_MODULES:
        yield from importlib.import_module(module_name).TOOLS


def _register(server: KitaruMCPServer, function: Callable[..., Any]) -> None:
    name = function.__name__
    row = registry.spec(name)
    if row is None:  # a programming error: every tool must have its row in the table
        raise RuntimeError(f"tool {name} has no row in kitaru_mcp.registry")
    if not server.options.mode.allows(row.mode):
        return
    modes = tool_modes_for(server.options.mode)
    server.add_tool(
        function,
        name=name,
        title=row.title,
        # Descriptions name other tools; one hidden by this mode becomes "ask the user to …".
        description=resolve_tools(inspect.getdoc(function) or row.title, modes),
        annotations=row.annotations(),
        structured_output=True,
        # The execution app's link; hosts without MCP Apps ignore it and use the result as is.
        meta=app.tool_meta(name),
    )


def build_server(
    mode: str | Mode | None = None,
    allow_paths: Iterable[str | Path] | None = None,
) -> KitaruMCPServer:
    """The server with every implemented tool the mode allows.

    ``mode``: ``read-only`` / ``standard`` / ``destructive``; default ``KITARU_MCP_MODE`` or
    ``standard``. ``allow_paths``: roots that flow targets may be loaded from (default: cwd).
    """
    from kitaru_core import __version__

    options = ServerOptions.build(mode, allow_paths)
    debug = debug_enabled()
    server = KitaruMCPServer(
        options,
        name=SERVER_NAME,
        title="Kitaru",
        version=__version__,
        instructions=INSTRUCTIONS.format(mode=options.mode.value, engine=ENGINE),
        log_level="DEBUG" if debug else "WARNING",
        subscriptions=WatchingBus(),
        extensions=[app.extension()],
    )
    for function in _tool_functions():
        _register(server, function)
    resources.register(server)
    logging.getLogger("kitaru_mcp").debug(
        "kitaru-mcp built in %s mode with %d tools", options.mode, len(server.tool_names)
    )
    return server
