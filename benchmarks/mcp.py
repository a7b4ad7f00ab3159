"""Benchmark: the MCP server as an assistant sees it, over stdio with the official client.

Run with the project's venv:  .venv/bin/python benchmarks/mcp.py [--repeats 5]

Measured in one run, on a fresh temporary store:
- the SDK import floor: a bare `python -c "import mcp"` (any server built on the SDK pays it);
- spawn -> initialize of `kitaru-mcp`, in seconds and as the margin above that floor;
- `tools/list`;
- the first real tool call after start (`kitaru_status`, which waits for the store warm-up);
- warm median latency of `kitaru_stacks_list`, `kitaru_status`, `kitaru_executions_list` and
  `kitaru_executions_get` (a finished 10-checkpoint execution);
- how long `kitaru_executions_run` takes to return an exec_id for a 10-checkpoint flow;
- the server process's peak RSS (from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Run as a script, this file's folder comes first on sys.path and its own name would shadow
# the `mcp` package.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

from mcp import Client, StdioServerParameters  # noqa: E402


def import_floor(repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mcp"], check=True)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def server_params(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "kitaru_mcp", "--allow-path", str(HERE)],
        cwd=str(HERE.parent),  # not benchmarks/: this file would shadow the `mcp` package there
        env=env,
    )


async def spawn_to_initialize(env: dict[str, str]) -> float:
    started = time.perf_counter()
    async with Client(server_params(env)) as client:
        elapsed = time.perf_counter() - started
        await client.list_tools()
    return elapsed


async def timed(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> float:
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments or {})
    elapsed = time.perf_counter() - started
    assert not result.is_error, result.structured_content
    return elapsed


def peak_rss_mib() -> float | None:
    """Largest VmHWM among this process's children named like the server."""
    best = None
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        if "kitaru_mcp" not in cmdline or "kitaru_core.runtime.zygote" in cmdline:
            continue
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                value = int(line.split()[1]) / 1024
                best = value if best is None else max(best, value)
    return best


async def session(env: dict[str, str], repeats: int) -> dict[str, Any]:
    numbers: dict[str, Any] = {}
    async with Client(server_params(env), read_timeout_seconds=600) as client:
        started = time.perf_counter()
        await client.list_tools()
        numbers["tools_list"] = time.perf_counter() - started
        numbers["first_call"] = await timed(client, "kitaru_status")
        await asyncio.sleep(15)  # let the worker pool finish warming, as in a real session
        started_run = []
        exec_ids = []
        for index in range(repeats):
            begin = time.perf_counter()
            result = await client.call_tool(
                "kitaru_executions_run",
                {
                    "target": "benchmarks/_flows_bench.py:chain",
                    "args": {"n": 10, "salt": 900_000 + index},
                },
            )
            started_run.append(time.perf_counter() - begin)
            assert not result.is_error, result.structured_content
            exec_ids.append(result.structured_content["exec_id"])
        numbers["run_returns"] = statistics.median(started_run)
        for exec_id in exec_ids:
            while True:
                got = await client.call_tool("kitaru_executions_get", {"exec_id": exec_id})
                if got.structured_content["status"] in ("completed", "failed"):
                    break
                await asyncio.sleep(0.5)
        warm: dict[str, list[float]] = {}
        calls = {
            "kitaru_stacks_list": {},
            "kitaru_status": {},
            "kitaru_executions_list": {"limit": 20},
            "kitaru_executions_get": {"exec_id": exec_ids[0]},
        }
        for _ in range(max(repeats, 10)):
            for tool, arguments in calls.items():
                warm.setdefault(tool, []).append(await timed(client, tool, arguments))
        numbers["warm"] = {tool: statistics.median(runs) for tool, runs in warm.items()}
        numbers["rss_mib"] = peak_rss_mib()
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("KITARU_CONFIG_PATH", tempfile.mkdtemp(prefix="kitaru-mcp-bench-"))
    subprocess.run(  # bootstrap the store once, so spawns measure start-up, not migrations
        [sys.executable, "-c", "from kitaru_core.backend.bootstrap import zenml_client as z; z()"],
        env=env,
        check=True,
    )
    floor = import_floor(args.repeats)
    spawns = [asyncio.run(spawn_to_initialize(env)) for _ in range(args.repeats)]
    spawn = statistics.median(spawns)
    print(f"import mcp (SDK floor): median {floor:.3f} s")
    print(f"spawn -> initialize: median {spawn:.3f} s ({spawn - floor:+.3f} s above the floor)")
    numbers = asyncio.run(session(env, args.repeats))
    print(f"tools/list: {numbers['tools_list'] * 1000:.0f} ms")
    print(f"first real call (kitaru_status, store warming): {numbers['first_call']:.3f} s")
    print(f"kitaru_executions_run returns (10 checkpoints): median {numbers['run_returns']:.3f} s")
    for tool, value in numbers["warm"].items():
        print(f"warm {tool}: median {value * 1000:.1f} ms")
    if numbers["rss_mib"] is not None:
        print(f"server peak RSS: {numbers['rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
