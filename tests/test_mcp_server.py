"""The MCP server itself: tool table, modes, errors, result bounds, start-up and transports.

Tool calls go through the official client (``mcp.Client``), in memory against this process's
real store, or to a ``kitaru-mcp`` subprocess over stdio and streamable HTTP.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
from _mcp_support import call, data, error, list_tools, text
from mcp.types import TextContent
from ts_support import free_port, wait_for_port

from kitaru_mcp import registry
from kitaru_mcp.__main__ import main
from kitaru_mcp.options import ServerOptions
from kitaru_mcp.registry import Mode
from kitaru_mcp.server import build_server
from kitaru_mcp.transport import StoreWarmup, http_token, is_loopback

# Every tool of SPEC §6 with the mode that first exposes it and its annotations
# (readOnlyHint, destructiveHint, idempotentHint, openWorldHint). Kept here on purpose: a change
# in kitaru_mcp/registry.py must be mirrored by a deliberate change of this table.
RO, STD, DES = "read-only", "standard", "destructive"
EXPECTED: dict[str, tuple[str, bool, bool, bool, bool]] = {
    "kitaru_executions_list": (RO, True, False, True, False),
    "kitaru_executions_get": (RO, True, False, True, False),
    "kitaru_executions_latest": (RO, True, False, True, False),
    "kitaru_executions_logs": (RO, True, False, True, False),
    "kitaru_executions_waiting": (RO, True, False, True, False),
    "kitaru_executions_run": (STD, False, False, False, True),
    "kitaru_executions_input": (STD, False, False, True, True),
    "kitaru_executions_resume": (STD, False, False, False, True),
    "kitaru_executions_retry": (STD, False, False, False, True),
    "kitaru_executions_replay": (STD, False, False, False, True),
    "kitaru_executions_abort_wait": (DES, False, True, True, False),
    "kitaru_executions_cancel": (DES, False, True, True, False),
    "kitaru_artifacts_list": (RO, True, False, True, False),
    "kitaru_artifacts_get": (RO, True, False, True, False),
    "kitaru_stacks_list": (RO, True, False, True, False),
    "kitaru_stacks_current": (RO, True, False, True, False),
    "kitaru_stacks_show": (RO, True, False, True, False),
    "kitaru_stacks_use": (STD, False, False, True, False),
    "kitaru_stacks_create": (STD, False, False, False, True),
    "kitaru_stacks_delete": (DES, False, True, True, False),
    "kitaru_deployments_deploy": (STD, False, False, False, True),
    "kitaru_deployments_invoke": (STD, False, False, False, True),
    "kitaru_deployments_list": (RO, True, False, True, False),
    "kitaru_deployments_get": (RO, True, False, True, False),
    "kitaru_deployments_tag": (STD, False, False, True, False),
    "kitaru_deployments_untag": (DES, False, True, True, False),
    "kitaru_deployments_delete": (DES, False, True, True, False),
    "kitaru_deployments_curl": (RO, True, False, True, False),
    "kitaru_flows_list": (RO, True, False, True, False),
    "kitaru_status": (RO, True, False, True, False),
    "kitaru_info": (RO, True, False, True, False),
    "kitaru_server_start": (STD, False, False, True, False),
    "kitaru_server_stop": (DES, False, True, True, False),
}
MODE_RANK = {RO: 0, STD: 1, DES: 2}
# The tools whose services exist today; the later groups add theirs.
IMPLEMENTED = {
    "kitaru_status",
    "kitaru_info",
    "kitaru_server_start",
    "kitaru_server_stop",
    "kitaru_stacks_list",
    "kitaru_stacks_current",
    "kitaru_stacks_show",
    "kitaru_stacks_use",
    "kitaru_stacks_create",
    "kitaru_stacks_delete",
    "kitaru_executions_list",
    "kitaru_executions_get",
    "kitaru_executions_latest",
    "kitaru_executions_logs",
    "kitaru_executions_run",
    "kitaru_executions_waiting",
    "kitaru_executions_input",
    "kitaru_executions_abort_wait",
    "kitaru_executions_resume",
    "kitaru_executions_retry",
    "kitaru_executions_replay",
    "kitaru_executions_cancel",
    "kitaru_artifacts_list",
    "kitaru_artifacts_get",
    "kitaru_deployments_deploy",
    "kitaru_deployments_invoke",
    "kitaru_deployments_list",
    "kitaru_deployments_get",
    "kitaru_deployments_tag",
    "kitaru_deployments_untag",
    "kitaru_deployments_delete",
    "kitaru_deployments_curl",
    "kitaru_flows_list",
}
REPO = Path(__file__).resolve().parent.parent


def _allowed(mode: str) -> set[str]:
    return {name for name, row in EXPECTED.items() if MODE_RANK[row[0]] <= MODE_RANK[mode]}


# ------------------------------------------------------------------------ table and modes


def test_registry_matches_the_expected_table() -> None:
    assert set(registry.TOOLS) == set(EXPECTED)
    for name, row in registry.TOOLS.items():
        actual = (row.mode.value, row.read_only, row.destructive, row.idempotent, row.open_world)
        assert actual == EXPECTED[name], name
        assert row.title


@pytest.mark.parametrize("mode", [RO, STD, DES])
def test_tools_list_follows_the_mode(mode: str) -> None:
    tools = {tool.name: tool for tool in list_tools(build_server(mode))}
    implemented = {tool.name for tool in list_tools(build_server(DES))}
    assert implemented >= IMPLEMENTED and implemented <= set(EXPECTED)
    assert set(tools) == _allowed(mode) & implemented
    for name, tool in tools.items():
        hints = tool.annotations
        assert hints is not None, name
        expected = EXPECTED[name][1:]
        actual = (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        )
        assert actual == expected, name
        assert tool.title and hints.title == tool.title
        # What to call next: every description points at another tool.
        assert any(other in (tool.description or "") for other in set(EXPECTED) - {name}), name
        assert tool.output_schema is not None, name
        for parameter, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{name}.{parameter} has no description"


def test_mode_matrix_for_the_stack_tools() -> None:
    listed = {mode: {t.name for t in list_tools(build_server(mode))} for mode in (RO, STD, DES)}
    writes = {"kitaru_stacks_use", "kitaru_stacks_create"}
    assert not writes & listed[RO] and writes <= listed[STD]
    assert "kitaru_stacks_delete" not in listed[STD] and "kitaru_stacks_delete" in listed[DES]
    assert listed[RO] < listed[STD] < listed[DES]


@pytest.mark.parametrize(
    ("mode", "tool", "needed"),
    [
        (RO, "kitaru_stacks_create", STD),
        (RO, "kitaru_stacks_delete", DES),
        (STD, "kitaru_stacks_delete", DES),
        (STD, "kitaru_executions_cancel", DES),
    ],
)
def test_a_tool_outside_the_mode_is_refused(mode: str, tool: str, needed: str) -> None:
    server = build_server(mode)
    before = data(call(server, "kitaru_stacks_list", {"limit": 200}))["items"]
    body = error(call(server, tool, {"name": "default", "force": True}))
    assert body["code"] == "mode_forbidden"
    assert body["retryable"] is False
    assert f"the {needed} mode" in body["hint"] and "--" not in body["hint"]
    assert body["details"] == {"tool": tool, "server_mode": mode, "required_mode": needed}
    assert data(call(server, "kitaru_stacks_list", {"limit": 200}))["items"] == before


def test_mode_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITARU_MCP_MODE", "read-only")
    assert build_server().options.mode is Mode.READ_ONLY
    assert build_server("destructive").options.mode is Mode.DESTRUCTIVE  # the flag wins
    monkeypatch.setenv("KITARU_MCP_MODE", "yolo")
    with pytest.raises(Exception) as caught:
        build_server()
    assert getattr(caught.value, "code", None) == "usage_error"
    assert "KITARU_MCP_MODE" in str(caught.value)
    monkeypatch.delenv("KITARU_MCP_MODE")
    assert build_server().options.mode is Mode.STANDARD


def test_instructions_explain_the_workflow() -> None:
    instructions = build_server(RO).instructions or ""
    for word in ("kitaru_executions_list", "kitaru_executions_get", "kitaru_status", "read-only"):
        assert word in instructions


# --------------------------------------------------------------------------------- errors


def test_unknown_tool_and_unknown_arguments_are_structured_errors() -> None:
    server = build_server(STD)
    body = error(call(server, "kitaru_nope"))
    assert body["code"] == "not_found" and "kitaru_status" in body["details"]["available"]
    body = error(call(server, "kitaru_stacks_list", {"limt": 5}))
    assert body["code"] == "validation_error" and "limt" in body["details"]["fields"]


def test_refusals_do_not_echo_huge_input_and_say_when_a_tool_takes_no_arguments() -> None:
    server = build_server(STD)
    body = error(call(server, "kitaru_status", {"verbose": True}))
    assert body["code"] == "validation_error"
    assert body["details"]["fields"]["verbose"].endswith("it takes no arguments.")
    huge = "x" * 100_000
    body = error(call(server, "kitaru_executions_get", {"exec_id": huge}))
    assert body["code"] == "not_found"
    assert len(body["message"]) < 200 and "100000 characters" in body["message"]
    assert len(body["details"]["exec_id"]) < 200


def test_invalid_arguments_name_the_field() -> None:
    body = error(call(build_server(RO), "kitaru_stacks_list", {"limit": "many"}))
    assert body["code"] == "validation_error"
    assert list(body["details"]["fields"]) == ["limit"]


def test_an_unexpected_exception_becomes_an_error_without_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kitaru_core.services import stacks

    def broken() -> None:
        raise RuntimeError("boom\nTraceback (most recent call last):\n  File 'secret.py'")

    monkeypatch.setattr(stacks, "list_stacks", broken)
    result = call(build_server(RO), "kitaru_stacks_list")
    body = error(result)
    assert body["code"] == "backend_error"
    assert "boom" in body["message"] and "secret.py" not in text(result)


def test_the_text_copy_of_a_result_is_compact_json() -> None:
    result = call(build_server(RO), "kitaru_stacks_current")
    block = result.content[0]
    assert isinstance(block, TextContent)
    assert json.loads(block.text) == data(result) and "\n" not in block.text


# ------------------------------------------------------------------------ options, CLI args


def test_allowed_roots_confine_target_paths(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (tmp_path / "outside.py").write_text("")
    (root / "flows" / "link.py").symlink_to(tmp_path / "outside.py")
    options = ServerOptions.build("standard", [root])
    assert options.check_path(root / "flows" / "a.py") == (root / "flows" / "a.py").resolve()
    for escaping in (root / ".." / "outside.py", root / "flows" / "link.py", Path("/etc/passwd")):
        with pytest.raises(Exception) as caught:
            options.check_path(escaping)
        assert getattr(caught.value, "fields", {}).keys() == {"target"}


def test_http_auth_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    assert http_token("127.0.0.1", no_auth=True, environ={}) is None
    assert http_token("0.0.0.0", no_auth=False, environ={"KITARU_MCP_TOKEN": "t0k"}) == "t0k"
    for host, no_auth in (("0.0.0.0", True), ("127.0.0.1", False)):
        with pytest.raises(Exception) as caught:
            http_token(host, no_auth=no_auth, environ={})
        assert getattr(caught.value, "code", None) == "usage_error"
    monkeypatch.delenv("KITARU_MCP_TOKEN", raising=False)
    # Refused before anything is built or bound: usage errors exit with 2.
    assert main(["--transport", "http", "--host", "0.0.0.0", "--no-auth"]) == 2
    assert main(["--transport", "http", "--port", "1"]) == 2


# ------------------------------------------------------------------------- start-up cost

_NO_HEAVY_IMPORTS = """
import json, sys, anyio
from mcp import Client
from kitaru_mcp.server import build_server

async def go():
    async with Client(build_server("destructive")) as client:
        return [tool.name for tool in (await client.list_tools()).tools]

names = anyio.run(go)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("zenml", "litellm"))
print(json.dumps({"names": names, "heavy": heavy[:10]}))
"""


def test_building_the_server_and_listing_tools_imports_neither_zenml_nor_litellm() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _NO_HEAVY_IMPORTS],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(seen["names"]) >= IMPLEMENTED
    assert seen["heavy"] == []


# ----------------------------------------------------------------------------- transports


class _Lines:
    """Reads a pipe in a thread so the test can wait for lines with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.all: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.all.append(line)
            self.lines.put(line)

    def response(self, request_id: int, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            message = json.loads(line)
            if message.get("id") == request_id:
                return message


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_stdio_session_carries_only_json_rpc_on_stdout(zenml_client: Any, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kitaru_mcp", "--mode", "read-only"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        text=True,
        cwd=REPO,
    )
    assert process.stdin is not None and process.stdout is not None
    reader = _Lines(process.stdout)

    def send(message: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        process.stdin.flush()

    try:
        send(
            {
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "kitaru-tests", "version": "0"},
                },
            }
        )
        assert reader.response(1)["result"]["serverInfo"]["name"] == "kitaru"
        send({"method": "notifications/initialized"})
        send({"id": 2, "method": "tools/list"})
        names = {tool["name"] for tool in reader.response(2)["result"]["tools"]}
        assert "kitaru_status" in names and "kitaru_stacks_create" not in names
        send({"id": 3, "method": "tools/call", "params": {"name": "kitaru_status"}})
        status = reader.response(3)["result"]
        assert status.get("isError") is not True
        assert status["structuredContent"]["connection"]["kind"] == "local"
        process.stdin.close()
        process.wait(timeout=30)
    finally:
        _stop(process)
    time.sleep(0.2)  # let the reader thread drain what is left
    for line in reader.all:
        if line.strip():
            assert json.loads(line)["jsonrpc"] == "2.0", line


def test_http_session_needs_the_bearer_token(zenml_client: Any, tmp_path: Path) -> None:
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    port, token = free_port(), "test-token-0123456789"
    log = tmp_path / "stderr.log"
    url = f"http://127.0.0.1:{port}/mcp"
    process = subprocess.Popen(
        [sys.executable, "-m", "kitaru_mcp", "--transport", "http", "--port", str(port)],
        env={**os.environ, "KITARU_MCP_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        cwd=REPO,
    )
    sneaky = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "kitaru_stacks_create", "arguments": {"name": "sneaky-stack"}},
    }

    async def session() -> tuple[set[str], dict[str, Any], list[str]]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=120) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            names = {tool.name for tool in (await client.list_tools()).tools}
            status = data(await client.call_tool("kitaru_status", {}))
            stacks = data(await client.call_tool("kitaru_stacks_list", {"limit": 200}))
            return names, status, [item["name"] for item in stacks["items"]]

    try:
        wait_for_port(port, process, log)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = httpx2.post(url, json=sneaky, headers=headers, timeout=30)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthorized"
        names, status, stacks = anyio.run(session)
        assert "kitaru_stacks_create" in names and "kitaru_stacks_delete" not in names
        assert status["env"]["KITARU_MCP_TOKEN"] != token
        assert "sneaky-stack" not in stacks  # the refused requests ran nothing
    finally:
        _stop(process)
    assert process.stdout is not None and process.stdout.read() == b""


# ------------------------------------------------------------------------- store warm-up


def test_store_warmup_starts_after_tools_list_not_before() -> None:
    server = build_server("read-only")
    started: list[float] = []
    warmup = StoreWarmup(fallback_seconds=60, warm=lambda: started.append(time.monotonic()))
    warmup.arm(server)
    time.sleep(0.3)
    assert started == [] and not warmup.done.is_set()
    listed_at = time.monotonic()
    list_tools(server)
    assert warmup.done.wait(10) and len(started) == 1 and started[0] >= listed_at


def test_store_warmup_falls_back_to_a_timer() -> None:
    started: list[float] = []
    warmup = StoreWarmup(fallback_seconds=0.2, warm=lambda: started.append(time.monotonic()))
    warmup.arm(build_server("read-only"))
    assert warmup.done.wait(10) and len(started) == 1
