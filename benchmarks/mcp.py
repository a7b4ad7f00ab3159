"""Benchmark: the MCP server as an assistant sees it, over stdio with the official client.

Run with the project's venv:  .venv/bin/python benchmarks/mcp.py [--repeats 5]

Measured in one run, on a fresh temporary store:
- the SDK import floor: a bare `python -c "import mcp"` (any server built on the SDK pays it);
- spawn -> initialize of `kitaru-mcp`, in seconds and as the margin above that floor;
- `tools/list`;
- the first real tool call right after `tools/list` (`kitaru_status`);
- warm median latency of `kitaru_stacks_list`, `kitaru_status`, `kitaru_executions_list` and
  `kitaru_executions_get` (a finished 10-checkpoint execution);
- how long `kitaru_executions_run` takes to return an exec_id for a 10-checkpoint flow: started
  one at a time (the start latency), and back to back (earlier executions still running);
- the server process's peak RSS (from /proc) after those calls, then the first call that
  makes the server load ZenML (on the local store the calls above do not) and the RSS after it;
- answering a wait on a fresh server (issue 21): a `gated` execution paused by its worker
  (`timeout=0`, so the answer must resume it), a new server, the execution first seen through
  `kitaru_executions_list` (or `_get`, `_waiting`), then `kitaru_executions_input` and
  `kitaru_executions_get` every 20 ms until `completed`. With `--before DIR` (a copy of older
  code, e.g. `git archive HEAD kitaru_core kitaru_mcp | tar -x -C DIR`) the same rounds also
  run that code, interleaved, for a comparison from one run. `--answers-only` runs only this.
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


def server_params(env: dict[str, str], cwd: Path = HERE.parent) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "kitaru_mcp", "--allow-path", str(HERE)],
        cwd=str(cwd),  # not benchmarks/: this file would shadow the `mcp` package there
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


async def start_chain(client: Client, salt: int) -> tuple[float, str]:
    """Start the 10-checkpoint flow; return how long the call took and the exec_id."""
    begin = time.perf_counter()
    result = await client.call_tool(
        "kitaru_executions_run",
        {"target": "benchmarks/_flows_bench.py:chain", "args": {"n": 10, "salt": salt}},
    )
    elapsed = time.perf_counter() - begin
    assert not result.is_error, result.structured_content
    return elapsed, str(result.structured_content["exec_id"])


async def finished(client: Client, exec_id: str) -> None:
    while True:
        got = await client.call_tool("kitaru_executions_get", {"exec_id": exec_id})
        if got.structured_content["status"] in ("completed", "failed"):
            return
        await asyncio.sleep(0.5)


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
        exec_ids: list[str] = []
        # One at a time, each after the previous one finished: the start latency itself.
        alone = []
        for index in range(repeats):
            elapsed, exec_id = await start_chain(client, salt=900_000 + index)
            alone.append(elapsed)
            exec_ids.append(exec_id)
            await finished(client, exec_id)
        numbers["run_returns"] = statistics.median(alone)
        # Back to back, as an assistant starting several at once: the earlier executions run
        # their checkpoints meanwhile, on the same cores.
        burst = []
        for index in range(repeats):
            elapsed, exec_id = await start_chain(client, salt=950_000 + index)
            burst.append(elapsed)
            exec_ids.append(exec_id)
        numbers["run_returns_burst"] = statistics.median(burst)
        for exec_id in exec_ids:
            await finished(client, exec_id)
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
        # On the local store the server loads ZenML only for a call that needs it (artifacts,
        # answers, stacks changes, …): the first such call pays for it, once.
        arguments = {"exec_id": exec_ids[0]}
        numbers["first_zenml_call"] = await timed(client, "kitaru_artifacts_list", arguments)
        numbers["zenml_call_warm"] = await timed(client, "kitaru_artifacts_list", arguments)
        numbers["rss_mib_zenml"] = peak_rss_mib()
    return numbers


def _answers_module() -> Any:
    """``benchmarks/answers.py`` (its folder is off ``sys.path`` here, see the top)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_answers", HERE / "answers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def answer_round(env: dict[str, str], exec_id: str, found_via: str) -> tuple[float, float]:
    """Fresh server; find the waiting execution through ``found_via``; answer it. Returns the
    input call's time and the time from the input call's start to ``completed``."""
    # Outside the checkout: `python -m` puts its working directory first on sys.path, which
    # would shadow the older code that ``--before`` puts on PYTHONPATH.
    outside = Path(tempfile.gettempdir())
    async with Client(server_params(env, outside), read_timeout_seconds=600) as client:
        await client.list_tools()
        if found_via == "list":
            found = await client.call_tool("kitaru_executions_list", {"limit": 5})
            items = found.structured_content["items"]
            assert any(i["exec_id"] == exec_id and i["status"] == "waiting" for i in items)
        elif found_via == "get":
            found = await client.call_tool("kitaru_executions_get", {"exec_id": exec_id})
            assert found.structured_content["status"] == "waiting"
        else:
            found = await client.call_tool("kitaru_executions_waiting", {})
            assert any(w["exec_id"] == exec_id for w in found.structured_content["items"])
        started = time.perf_counter()
        answered = await client.call_tool(
            "kitaru_executions_input", {"exec_id": exec_id, "wait": "go", "value": 1}
        )
        input_call = time.perf_counter() - started
        assert not answered.is_error, answered.structured_content
        while True:
            got = await client.call_tool("kitaru_executions_get", {"exec_id": exec_id})
            if got.structured_content["status"] == "completed":
                return input_call, time.perf_counter() - started
            assert got.structured_content["status"] in ("waiting", "running"), got
            await asyncio.sleep(0.02)


def answer_rounds(env: dict[str, str], repeats: int, before: Path | None) -> None:
    answers = _answers_module()
    os.environ["KITARU_CONFIG_PATH"] = env["KITARU_CONFIG_PATH"]  # for its store reads
    variants: dict[str, tuple[dict[str, str], str]] = {
        f"this tree, found via {via}": (env, via) for via in FOUND_VIA
    }
    if before is not None:
        path = os.pathsep.join(filter(None, [str(before.resolve()), env.get("PYTHONPATH")]))
        variants["before, found via list"] = ({**env, "PYTHONPATH": path}, "list")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for index in range(repeats):
        for offset, (name, (variant_env, via)) in enumerate(variants.items()):
            exec_id = answers.waiting_execution(env, salt=800_000 + index * 100 + offset)
            results[name].append(asyncio.run(answer_round(variant_env, exec_id, via)))
            print(f"  round {index + 1}, {name}: {results[name][-1]}", flush=True)
    for name, runs in results.items():
        call = statistics.median(run[0] for run in runs)
        done = statistics.median(run[1] for run in runs)
        print(
            f"answer on a fresh server ({name}): kitaru_executions_input median {call:.3f} s, "
            f"input -> completed median {done:.3f} s "
            f"(runs: {', '.join(f'{run[0]:.2f}/{run[1]:.2f}' for run in runs)})"
        )


FOUND_VIA = ("list", "get", "waiting")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", type=Path, help="older code to compare answers with")
    parser.add_argument("--answers-only", action="store_true", help="only the answer rounds")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("KITARU_CONFIG_PATH", tempfile.mkdtemp(prefix="kitaru-mcp-bench-"))
    subprocess.run(  # bootstrap the store once, so spawns measure start-up, not migrations
        [sys.executable, "-c", "from kitaru_core.backend.bootstrap import zenml_client as z; z()"],
        env=env,
        check=True,
    )
    if args.answers_only:
        answer_rounds(env, args.repeats, args.before)
        return
    floor = import_floor(args.repeats)
    spawns = [asyncio.run(spawn_to_initialize(env)) for _ in range(args.repeats)]
    spawn = statistics.median(spawns)
    print(f"import mcp (SDK floor): median {floor:.3f} s")
    print(f"spawn -> initialize: median {spawn:.3f} s ({spawn - floor:+.3f} s above the floor)")
    numbers = asyncio.run(session(env, args.repeats))
    print(f"tools/list: {numbers['tools_list'] * 1000:.0f} ms")
    print(f"first real call (kitaru_status, right after tools/list): {numbers['first_call']:.3f} s")
    print(
        "kitaru_executions_run returns (10 checkpoints), one at a time: "
        f"median {numbers['run_returns']:.3f} s"
    )
    print(
        "kitaru_executions_run returns, back to back (earlier ones still running): "
        f"median {numbers['run_returns_burst']:.3f} s"
    )
    for tool, value in numbers["warm"].items():
        print(f"warm {tool}: median {value * 1000:.1f} ms")
    if numbers["rss_mib"] is not None:
        print(f"server peak RSS (the calls above): {numbers['rss_mib']:.0f} MiB")
    print(
        "first call that loads ZenML in the server (kitaru_artifacts_list): "
        f"{numbers['first_zenml_call']:.3f} s, then {numbers['zenml_call_warm'] * 1000:.1f} ms"
    )
    if numbers["rss_mib_zenml"] is not None:
        print(f"server peak RSS once ZenML is loaded: {numbers['rss_mib_zenml']:.0f} MiB")
    answer_rounds(env, args.repeats, args.before)


if __name__ == "__main__":
    main()
