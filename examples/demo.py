"""`make demo`: an MCP client drives `kitaru-mcp` through a real flow on the local store.

It starts the server over stdio with the official MCP client, lists its tools, runs the
approval example while following it with progress notifications (one per finished checkpoint),
answers the question the flow asks while listening to the execution's resource (change events
instead of polling), shows the result and the checkpoints, then replays the execution from a
checkpoint — the way an assistant such as Claude Code would.

    .venv/bin/python examples/demo.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.shared.subscriptions import ResourceUpdated

HERE = Path(__file__).resolve().parent
TARGET = "examples/approval.py:approval_flow"


def say(title: str, detail: str = "") -> None:
    print(f"\n\033[1m▸ {title}\033[0m" + (f"\n  {detail}" if detail else ""), flush=True)


def show(data: Any, indent: str = "  ") -> None:
    text = json.dumps(data, indent=2, default=str)
    print("\n".join(indent + line for line in text.splitlines()), flush=True)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool and return its structured result (raise on an error result)."""
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    elapsed = (time.perf_counter() - started) * 1000
    data = result.structured_content or {}
    if result.is_error:
        raise SystemExit(f"{tool} failed: {json.dumps(data, indent=2)}")
    print(f"  ({tool} answered in {elapsed:.0f} ms)", flush=True)
    return data


async def call_with_progress(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool with a progress token, printing each progress notification it sends."""

    async def progress(value: float, total: float | None, message: str | None) -> None:
        print(f"  ⋯ progress {value:.1f}/{total or 0:.0f} s: {message}", flush=True)

    result = await client.call_tool(tool, arguments, progress_callback=progress)
    if result.is_error:
        raise SystemExit(f"{tool} failed: {json.dumps(result.structured_content, indent=2)}")
    return result.structured_content or {}


async def read_json(client: Client, uri: str) -> dict[str, Any]:
    contents = (await client.read_resource(uri)).contents
    return json.loads(getattr(contents[0], "text", "{}"))


async def wait_for(client: Client, exec_id: str, statuses: set[str], limit: float = 120) -> dict:
    deadline = time.monotonic() + limit
    while True:
        execution = await call(client, "kitaru_executions_get", exec_id=exec_id)
        if execution["status"] in statuses or time.monotonic() > deadline:
            return execution
        await asyncio.sleep(0.5)


async def main() -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kitaru_mcp", "--allow-path", str(HERE.parent)],
        cwd=str(HERE.parent),
        # The SDK passes only a minimal environment to servers; Kitaru's settings
        # (KITARU_CONFIG_PATH above all) must reach this one.
        env=dict(os.environ),
    )
    async with Client(server, read_timeout_seconds=300) as client:
        say("Connected to kitaru-mcp over stdio")
        tools = await client.list_tools()
        names = sorted(tool.name for tool in tools.tools)
        print(f"  {len(names)} tools: " + ", ".join(names))

        say("kitaru_status", "where executions are stored")
        status = await call(client, "kitaru_status")
        show({key: status.get(key) for key in ("connection", "active_stack", "config_dir")})

        say(
            "kitaru_executions_run",
            f"start {TARGET}, following it up to 30 s with progress notifications",
        )
        started = await call_with_progress(
            client,
            "kitaru_executions_run",
            target=TARGET,
            args={"topic": "durable agents"},
            wait_seconds=30,
        )
        exec_id = started["exec_id"]
        print(f"  exec_id {exec_id} — status {started['status']}")

        execution = await wait_for(client, exec_id, {"waiting", "failed", "completed"})
        say("kitaru_executions_waiting", "the flow asks a question and waits")
        waits = await call(client, "kitaru_executions_waiting")
        pending = [item for item in waits["items"] if item["exec_id"] == exec_id]
        show(pending[0] if pending else execution.get("pending_wait"))

        uri = f"kitaru://executions/{exec_id}"
        say("Listening to " + uri, "answer the question; change events replace polling")
        async with client.listen(resource_subscriptions=[uri]) as events:
            await call(
                client,
                "kitaru_executions_input",
                exec_id=exec_id,
                wait="approval",
                value={"approved": True, "note": "ship it"},
            )
            # The answer closes the wait: at least one event comes, then one per change.
            execution, announced = await read_json(client, uri), 0
            while not announced or execution["status"] not in {"completed", "failed"}:
                event = await asyncio.wait_for(events.__anext__(), timeout=120)
                if isinstance(event, ResourceUpdated):
                    announced += 1
                    execution = await read_json(client, uri)
                    done = sum(1 for c in execution["checkpoints"] if c["status"] == "completed")
                    print(
                        f"  ⋯ resources/updated {event.uri} → {execution['status']}, "
                        f"{done} checkpoint(s) completed",
                        flush=True,
                    )
        say(f"Execution {execution['status']}", f"result: {execution.get('result')!r}")
        for call_ in execution["checkpoints"]:
            cached = " (reused)" if call_["cached"] else ""
            print(f"  - {call_['call_id']}: {call_['status']}{cached}")

        say("kitaru_executions_replay (dry run)", "what a replay from 'publish' would do")
        plan = await call(
            client,
            "kitaru_executions_replay",
            exec_id=exec_id,
            from_checkpoint="publish",
            dry_run=True,
        )
        show(plan["plan"])

        say("kitaru_executions_replay", "replay from 'publish': the draft is reused")
        replayed = await call(
            client, "kitaru_executions_replay", exec_id=exec_id, from_checkpoint="publish"
        )
        new_id = replayed["started"]["exec_id"]
        replay = await wait_for(client, new_id, {"completed", "failed", "cancelled", "waiting"})
        print(f"  replay {new_id} {replay['status']} — result {replay.get('result')!r}")
        for call_ in replay["checkpoints"]:
            cached = " (reused)" if call_["cached"] else ""
            print(f"  - {call_['call_id']}: {call_['status']}{cached}")
        say("Done", "Try it yourself: register kitaru-mcp with your assistant (see README).")


if __name__ == "__main__":
    asyncio.run(main())
