"""Helpers for the MCP tests that run flows (``tests/flows_mcp/``) through the tools."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import anyio
from _mcp_support import call, data
from mcp import Client
from mcp.types import CallToolResult

from kitaru_mcp.server import KitaruMCPServer

FLOWS_DIR = Path(__file__).resolve().parent / "flows_mcp"
AGENTS = FLOWS_DIR / "agents.py"
DEPLOYED = FLOWS_DIR / "deployed.py"
FINISHED = ("completed", "failed", "cancelled")


def new_salt() -> str:
    return uuid.uuid4().hex


def target(name: str, file: Path = AGENTS) -> str:
    return f"{file}:{name}"


def call_with_progress(
    server: KitaruMCPServer, name: str, arguments: dict[str, Any]
) -> tuple[CallToolResult, list[tuple[float, float | None, str | None]]]:
    """One ``tools/call`` that also collects the progress notifications it sends."""
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append((value, total, message))

    async def go() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(name, arguments, progress_callback=progress)

    return anyio.run(go), seen


def settle(
    server: KitaruMCPServer,
    exec_id: str,
    *,
    until: tuple[str, ...] = FINISHED,
    timeout: float = 180.0,
) -> dict[str, Any]:
    """Poll ``kitaru_executions_get`` until the execution's status is one of ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        execution = data(call(server, "kitaru_executions_get", {"exec_id": exec_id}))
        if execution["status"] in until:
            return execution
        if time.monotonic() > deadline:
            raise AssertionError(f"{exec_id} is still {execution['status']} after {timeout} s")
        time.sleep(0.3)


def run_count(zenml_client: Any) -> int:
    """How many executions the store holds (to prove a refused call started nothing)."""
    return int(zenml_client.list_pipeline_runs(size=1).total)


def greet_once(server: KitaruMCPServer) -> dict[str, Any]:
    """One completed greet_flow execution, started with wait_seconds (progress collected): the
    run call's answer (``started``), its ``progress`` and the finished ``execution``.

    Shared by the module fixtures of the execution and resource tests."""
    arguments = {
        "target": target("greet_flow"),
        "args": {"name": "Ada", "salt": new_salt()},
        "wait_seconds": 60,
    }
    result, progress = call_with_progress(server, "kitaru_executions_run", arguments)
    started = data(result)
    return {
        "started": started,
        "progress": progress,
        "execution": settle(server, started["exec_id"]),
    }
