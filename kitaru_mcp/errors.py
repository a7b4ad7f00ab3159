"""Turning any failure into an ``isError`` tool result with the one error body.

The body ``{"error": {"code", "message", "hint", "retryable", "details"}}`` travels as JSON
text content only (never as ``structuredContent``, which must fit the success schema). It
comes from :meth:`kitaru_core.errors.KitaruError.to_dict`, so the MCP server, the CLI and the
SDK agree on codes; its hint is rendered in MCP's words (:mod:`kitaru_core.hints`).
Tracebacks never reach the client: unexpected exceptions are logged on stderr (the server's
log stream) and the client gets the translated message only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from kitaru_core.errors import (
    KitaruError,
    KitaruModeForbiddenError,
    KitaruNotFoundError,
    KitaruValidationError,
    echo,
    translate_exception,
)
from kitaru_core.hints import Surface, ToolModes
from kitaru_mcp import registry
from kitaru_mcp.registry import Mode, ToolSpec

logger = logging.getLogger("kitaru_mcp")


class ResultTooLargeError(KitaruError):
    """A tool result would exceed the size budget even after bounding."""

    code = "result_too_large"
    default_hint = "Ask for less: use a smaller `limit`, a filter, or fetch items one by one."


def tool_modes_for(mode: Mode) -> ToolModes:
    """For hints: ``None`` for a tool a server in ``mode`` offers, else the mode it needs."""

    def needed(name: str) -> str | None:
        row = registry.spec(name)
        if row is None or mode.allows(row.mode):
            return None
        return row.mode.value

    return needed


def error_result(exc: BaseException, mode: Mode | None = None) -> CallToolResult:
    """The ``isError`` result for ``exc``: the error body as JSON text, and nothing else.

    The hint is MCP's own (tools and parameters); given the server's ``mode`` it names only
    tools that mode offers and turns the others into "ask the user to … (needs MODE mode)".
    An error result never carries ``structuredContent``: strict clients (the TypeScript SDK)
    validate any structured content against the tool's success ``outputSchema``, even on
    errors, and an error body would fail it and hide the message from the assistant.
    """
    tool_modes = tool_modes_for(mode) if mode is not None else None
    body = {"error": translate_exception(exc).to_dict(Surface.MCP, tool_modes=tool_modes)}
    return CallToolResult(
        content=[
            TextContent(type="text", text=json.dumps(body, separators=(",", ":"), default=str))
        ],
        is_error=True,
    )


def original_exception(exc: BaseException) -> BaseException:
    """What the tool (or argument validation) really raised, under the SDK's ToolError."""
    if isinstance(exc, ToolError) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def log_failure(tool: str, exc: BaseException) -> None:
    """Kitaru errors are expected outcomes; anything else is a bug worth a traceback on stderr."""
    if isinstance(exc, KitaruError) or type(exc).__name__ == "ValidationError":
        logger.debug("tool %s failed: %s", tool, getattr(exc, "code", type(exc).__name__))
    else:
        logger.error("tool %s raised %s", tool, type(exc).__name__, exc_info=exc)


def mode_forbidden(tool: ToolSpec, server_mode: Mode) -> KitaruModeForbiddenError:
    """The refusal for a tool that exists but is outside the server's mode."""
    return KitaruModeForbiddenError(
        f"{tool.name} is not available in {server_mode.value} mode.",
        hint=(
            f"It needs the {tool.mode.value} mode; ask the user to restart kitaru-mcp in that "
            "mode if they want to allow it."
        ),
        retryable=False,
        details={
            "tool": tool.name,
            "server_mode": server_mode.value,
            "required_mode": tool.mode.value,
        },
    )


def unknown_tool(name: str, available: list[str]) -> KitaruNotFoundError:
    """A tool name the server does not know (or whose service is not available yet)."""
    return KitaruNotFoundError(
        f"Unknown tool '{name}'.",
        hint="Call tools/list to see the tools this server offers.",
        details={"tool": name, "available": sorted(available)},
    )


def is_sdk_unknown_tool(exc: BaseException) -> bool:
    return isinstance(exc, ToolError) and str(exc).startswith("Unknown tool")


def unknown_arguments(tool: str, unknown: list[str], accepted: list[str]) -> KitaruValidationError:
    """Arguments the tool does not take. Ignoring them could silently change what a call does
    (a misspelt ``stack_type`` would create a local stack), so they are refused."""
    takes = f"accepted: {', '.join(accepted)}" if accepted else "it takes no arguments"
    fields = {
        echo(name): f"{echo(name)} is not a parameter of {tool}; {takes}." for name in unknown
    }
    return KitaruValidationError(
        f"Unknown argument(s) for {tool}: {', '.join(echo(name) for name in unknown)}.",
        fields=fields,
        hint="Use only the parameters in the tool's input schema (see tools/list).",
    )


@contextmanager
def field_labels(labels: Mapping[str, str]) -> Iterator[None]:
    """Report validation errors raised inside with this surface's parameter names.

    Services name fields as the SDK spells them (``from_``); a tool whose parameter is spelled
    differently (``from_checkpoint``) maps them, so the error names what the assistant sent.
    """
    try:
        yield
    except KitaruValidationError as exc:
        fields = exc.fields
        if any(name in labels for name in fields):
            exc.details["fields"] = {labels.get(name, name): text for name, text in fields.items()}
        raise
