"""Helpers for the MCP tests: talk to a real server through the official in-memory client."""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp import Client
from mcp.types import CallToolResult, TextContent, Tool

from kitaru_mcp.server import KitaruMCPServer


def call(
    server: KitaruMCPServer, name: str, arguments: dict[str, Any] | None = None
) -> CallToolResult:
    """One ``tools/call`` in a fresh client session (in memory, so it is cheap)."""

    async def go() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(name, arguments or {})

    return anyio.run(go)


def list_tools(server: KitaruMCPServer) -> list[Tool]:
    async def go() -> list[Tool]:
        async with Client(server) as client:
            return list((await client.list_tools()).tools)

    return anyio.run(go)


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call."""
    assert not result.is_error, result.structured_content
    assert result.structured_content is not None
    return result.structured_content


def error_envelope(result: CallToolResult) -> dict[str, Any]:
    """The ``{"error": {...}}`` body of a failed call, read from its JSON text content.

    Error results carry their body as text only: a ``structuredContent`` would be validated
    against the tool's success ``outputSchema`` by strict clients and fail.
    """
    assert result.is_error, result.structured_content
    assert result.structured_content is None, result.structured_content
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    envelope = json.loads(result.content[0].text)
    assert set(envelope) == {"error"}, envelope
    return dict(envelope)


def error(result: CallToolResult) -> dict[str, Any]:
    """The ``error`` object of a failed call (which must carry no traceback)."""
    body: dict[str, Any] = error_envelope(result)["error"]
    assert set(body) == {"code", "message", "hint", "retryable", "details"}
    assert "Traceback" not in text(result)
    return body


def text(result: CallToolResult) -> str:
    """Everything the client received, as one string (for 'never shows X' assertions)."""
    parts = [getattr(block, "text", "") for block in result.content]
    return "\n".join(parts) + json.dumps(result.structured_content)
