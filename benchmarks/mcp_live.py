"""Benchmark: live execution updates (resources + change events) of the MCP server.

Run with the project's venv:  .venv/bin/python benchmarks/mcp_live.py [--listeners 10]

One `kitaru-mcp` serves streamable HTTP (no auth, loopback) on a fresh temporary store; clients
are the official SDK client. Measured:
- delivery latency: for every change a running flow commits (a checkpoint finishing, the run
  ending), the time from the change's own timestamp in the store to the first
  `notifications/resources/updated` a listening client receives after it (median, max);
- the server process's CPU (user + system, from /proc) over a fixed window with no listener,
  with 1 listener and with N listeners, both while the store is idle and while a flow runs.
Listeners only receive events here (no re-read), so the CPU figures are the watcher's and the
fan-out's cost, not that of the reads clients choose to make.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Run as a script, this file's folder comes first on sys.path and `benchmarks/mcp.py` would
# shadow the `mcp` package.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import httpx2  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

TARGET = "benchmarks/_flows_live.py:paced"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_for_port(port: int, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("kitaru-mcp exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("kitaru-mcp did not listen")


async def connect(stack: AsyncExitStack, url: str) -> Client:
    http = await stack.enter_async_context(httpx2.AsyncClient(timeout=600))
    return await stack.enter_async_context(Client(streamable_http_client(url, http_client=http)))


async def start_flow(client: Client, salt: int, n: int, delay: float) -> str:
    result = await client.call_tool(
        "kitaru_executions_run", {"target": TARGET, "args": {"n": n, "delay": delay, "salt": salt}}
    )
    assert not result.is_error, result.content
    return str(result.structured_content["exec_id"])


async def finished(client: Client, exec_id: str) -> None:
    while True:
        got = await client.call_tool("kitaru_executions_get", {"exec_id": exec_id})
        if got.structured_content["status"] in ("completed", "failed", "cancelled"):
            return
        await asyncio.sleep(0.5)


def change_times(database: Path, exec_id: str) -> list[float]:
    """When each change of the execution was committed, by the store's own (UTC) clock: every
    checkpoint's end and the run's end."""
    run_id = exec_id.replace("-", "")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT end_time FROM step_run WHERE pipeline_run_id = ? UNION ALL "
            "SELECT end_time FROM pipeline_run WHERE id = ?",
            (run_id, run_id),
        ).fetchall()
    return sorted(
        datetime.fromisoformat(row[0]).replace(tzinfo=UTC).timestamp() for row in rows if row[0]
    )


async def collect(client: Client, uri: str, arrivals: list[float], ready: asyncio.Event) -> None:
    async with client.listen(resource_subscriptions=[uri]) as subscription:
        ready.set()
        async for _event in subscription:
            arrivals.append(time.time())


async def latency(url: str, database: Path, runs: int) -> list[float]:
    """Per change: first event arrival after the change's timestamp, minus that timestamp."""
    found: list[float] = []
    async with AsyncExitStack() as stack:
        client = await connect(stack, url)
        for index in range(runs):
            exec_id = await start_flow(client, salt=700_000 + index, n=6, delay=1.0)
            arrivals: list[float] = []
            ready = asyncio.Event()
            listener = asyncio.create_task(
                collect(client, f"kitaru://executions/{exec_id}", arrivals, ready)
            )
            await ready.wait()
            opened = time.time()
            await finished(client, exec_id)
            await asyncio.sleep(2)  # the last event may still be on its way
            listener.cancel()
            for changed in change_times(database, exec_id):
                if changed <= opened:
                    continue
                after = [arrival for arrival in arrivals if arrival >= changed]
                if after:
                    found.append(after[0] - changed)
                else:
                    found.append(float("inf"))  # never announced: shows up as a miss
    return found


async def cpu_window(
    url: str, pid: int, listeners: int, seconds: float, flow: bool
) -> tuple[float, int]:
    """Server CPU seconds over ``seconds`` with ``listeners`` open listen streams, while the
    store is idle or (``flow``) while a paced flow runs; and the events the listeners got."""
    async with AsyncExitStack() as stack:
        control = await connect(stack, url)
        clients = [await connect(stack, url) for _ in range(listeners)]
        counts = [0] * listeners
        uris = ["kitaru://waiting"]
        exec_id = None
        if flow:
            exec_id = await start_flow(control, salt=int(time.time()), n=8, delay=0.5)
            uris.append(f"kitaru://executions/{exec_id}")

        async def listen(index: int, client: Client, ready: asyncio.Event) -> None:
            async with client.listen(resource_subscriptions=uris) as subscription:
                ready.set()
                async for _event in subscription:
                    counts[index] += 1

        tasks = []
        for index, client in enumerate(clients):
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(listen(index, client, ready)))
            await ready.wait()
        before = cpu_seconds(pid)
        await asyncio.sleep(seconds)
        used = cpu_seconds(pid) - before
        for task in tasks:
            task.cancel()
        if exec_id is not None:
            await finished(control, exec_id)
    return used, sum(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listeners", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3, help="flows timed for latency")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per CPU window")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("KITARU_CONFIG_PATH", tempfile.mkdtemp(prefix="kitaru-mcp-live-"))
    subprocess.run(  # bootstrap the store once
        [sys.executable, "-c", "from kitaru_core.backend.bootstrap import zenml_client as z; z()"],
        env=env,
        check=True,
    )
    database = Path(env["KITARU_CONFIG_PATH"]) / "local_stores/default_zen_store/zenml.db"
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kitaru_mcp",
            "--transport",
            "http",
            "--port",
            str(port),
            "--no-auth",
            "--allow-path",
            str(HERE),
        ],
        cwd=str(HERE.parent),
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_for_port(port, server)

        async def session() -> None:
            async with AsyncExitStack() as stack:  # a first session, then let warm-up finish
                client = await connect(stack, url)
                await client.list_tools()
                await finished(client, await start_flow(client, salt=1, n=1, delay=0.0))
            await asyncio.sleep(10)
            found = await latency(url, database, args.runs)
            delivered = [value for value in found if value != float("inf")]
            print(
                f"change -> resources/updated: median {statistics.median(delivered) * 1000:.0f} "
                f"ms, max {max(delivered) * 1000:.0f} ms over {len(found)} changes "
                f"({len(found) - len(delivered)} not announced)"
            )
            for flow in (False, True):
                label = "a flow running" if flow else "idle store"
                for listeners in (0, 1, args.listeners):
                    used, events = await cpu_window(url, server.pid, listeners, args.window, flow)
                    share = used / args.window * 100
                    print(
                        f"server CPU, {label}, {listeners:2d} listener(s): {used:.3f} s over "
                        f"{args.window:.0f} s ({share:.1f}%), {events} events delivered"
                    )

        asyncio.run(session())
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
