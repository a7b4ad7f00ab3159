"""Benchmark: ``kitaru-mcp`` over streamable HTTP under concurrent clients, and its bearer guard.

Run with the project's venv:  .venv/bin/python benchmarks/http_load.py [--clients 20 --calls 50]
    [--store local|mariadb]

On a fresh temporary store it starts ``kitaru-mcp --transport http`` (bearer token from
``KITARU_MCP_TOKEN``), seeds a few executions (completed ones and some waiting for an answer),
then lets N concurrent clients (the official ``mcp.Client`` over streamable HTTP, each with its
own session and ``Authorization: Bearer`` header) make M calls each: reads (list, get, waiting,
latest), one ``kitaru_executions_run`` of a tiny flow for the first ``--runs`` clients, and one
answer to a waiting execution per client (several clients answer the same wait with the same
value, which must be idempotent). Then it fires unauthorized raw HTTP requests (no token, a
wrong one, other schemes) concurrently and checks that each gets 401 and that no execution was
started. It reports p50/p99 latency of the reads under load, errors, lost executions and the
401 checks. tests/test_mcp_http_load.py runs the same code with smaller counts.

With ``--store mariadb`` the MCP server is instead a remote client (service account API key)
of a ZenML server on a private MariaDB, both started here from the tests' server tier
(``tests/server_tier/mariadb_tier.py``) and stopped at the end; needs ``mariadbd`` on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FLOWS_DIR = REPO / "tests" / "flows_mcp"
TINY_FLOW = f"{FLOWS_DIR / 'agents.py'}:greet_flow"
WAITING_FLOW = f"{FLOWS_DIR / 'agents.py'}:approval_flow"
ANSWER = {"decision": "approve", "reviewer": "load"}
READ_TOOLS = (
    "kitaru_executions_list",
    "kitaru_executions_get",
    "kitaru_executions_waiting",
    "kitaru_executions_latest",
)
FINISHED = ("completed", "failed", "cancelled")
# Run as a script, this file's folder comes first on sys.path and benchmarks/mcp.py would
# shadow the `mcp` package.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]

import httpx  # noqa: E402
import httpx2  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.types import CallToolResult  # noqa: E402


@dataclass
class LoadReport:
    """What one load round measured."""

    read_seconds: list[float] = field(default_factory=list)
    write_seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "calls": len(self.read_seconds) + len(self.write_seconds),
            "reads": len(self.read_seconds),
            "read_p50_ms": _ms(percentile(self.read_seconds, 50)),
            "read_p99_ms": _ms(percentile(self.read_seconds, 99)),
            "read_max_ms": _ms(max(self.read_seconds, default=0.0)),
            "writes": len(self.write_seconds),
            "write_p50_ms": _ms(percentile(self.write_seconds, 50)),
            "write_p99_ms": _ms(percentile(self.write_seconds, 99)),
            "errors": len(self.errors),
            "runs_started": len(self.started),
            "lost_executions": len(self.lost),
            "wall_seconds": round(self.wall_seconds, 2),
        }


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# ------------------------------------------------------------------------ the server process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class HttpServer:
    url: str
    token: str
    process: subprocess.Popen[bytes]


@contextmanager
def http_server(
    config_dir: Path, token: str, stderr: IO[str], store_env: dict[str, str] | None = None
) -> Iterator[HttpServer]:
    """``kitaru-mcp --transport http`` on a free loopback port, on the given config dir, or
    connected to a ZenML server by ``store_env`` (``KITARU_SERVER_URL`` and the like)."""
    port = free_port()
    env = {
        **os.environ,
        "KITARU_CONFIG_PATH": str(config_dir),
        "KITARU_MCP_TOKEN": token,
        "ZENML_ANALYTICS_OPT_IN": "false",
    }
    for name in list(env):  # a developer's own connection must not leak in
        if name.startswith(("KITARU_SERVER", "KITARU_AUTH", "KITARU_PROJECT", "ZENML_STORE")):
            del env[name]
    env.update(store_env or {})
    command = [sys.executable, "-m", "kitaru_mcp", "--transport", "http", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--allow-path", str(FLOWS_DIR)]
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=stderr, stderr=stderr)
    try:
        _wait_for_port(port, process)
        yield HttpServer(f"http://127.0.0.1:{port}/mcp", token, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kitaru-mcp exited early with code {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


# --------------------------------------------------------------------------------- clients


class Session:
    """One MCP client session over streamable HTTP with the bearer token."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server

    async def __aenter__(self) -> Client:
        headers = {"Authorization": f"Bearer {self._server.token}"}
        self._http = httpx2.AsyncClient(headers=headers, timeout=300)
        await self._http.__aenter__()
        self._client = Client(streamable_http_client(self._server.url, http_client=self._http))
        return await self._client.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._client.__aexit__(*exc)
        finally:
            await self._http.__aexit__(*exc)


def _failure(tool: str, result: CallToolResult) -> str | None:
    if not result.is_error and result.structured_content is not None:
        return None
    parts = [getattr(block, "text", "") for block in result.content]
    return f"{tool}: {' '.join(parts)[:300]}"


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A call that must succeed (seeding and checks); its structured result."""
    result = await client.call_tool(tool, arguments)
    problem = _failure(tool, result)
    if problem:
        raise RuntimeError(problem)
    assert result.structured_content is not None
    return result.structured_content


async def seed(server: HttpServer, completed: int, waiting: int) -> tuple[list[str], list[str]]:
    """Executions for the clients to read and answer: ``completed`` finished tiny flows and
    ``waiting`` executions waiting on a typed question. Returns both id lists."""
    async with Session(server) as client:
        done = []
        for index in range(completed):
            args = {"name": f"seed{index}", "salt": f"seed-{time.time_ns()}"}
            run = await call(
                client,
                "kitaru_executions_run",
                {"target": TINY_FLOW, "args": args, "wait_seconds": 60},
            )
            done.append(run["exec_id"])
        asking = []
        for _ in range(waiting):
            asks: dict[str, Any] = {"salt": f"wait-{time.time_ns()}", "timeout": 600}
            run = await call(
                client,
                "kitaru_executions_run",
                {"target": WAITING_FLOW, "args": asks, "wait_seconds": 60},
            )
            asking.append(run["exec_id"])
        for exec_id in done + asking:
            await settle(client, exec_id, until=("completed", "waiting"))
    return done, asking


async def settle(
    client: Client, exec_id: str, *, until: tuple[str, ...] = FINISHED, timeout: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution = await call(client, "kitaru_executions_get", {"exec_id": exec_id})
        if execution["status"] in until:
            return execution
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{exec_id} is still {execution['status']} after {timeout} s: "
                f"{json.dumps(execution.get('pending_wait'))} {execution.get('status_reason')}"
            )
        await asyncio.sleep(0.5)


async def unfinished(server: HttpServer, exec_ids: list[str], timeout: float = 300) -> list[str]:
    """Each execution that did not finish within ``timeout`` s (an answered wait must resume),
    described with its status, pending wait and status reason."""
    stuck = []
    async with Session(server) as client:
        for exec_id in exec_ids:
            try:
                await settle(client, exec_id, timeout=timeout)
            except RuntimeError as exc:
                stuck.append(str(exc))
    return stuck


def _read_arguments(tool: str, known: list[str], rng: random.Random) -> dict[str, Any]:
    if tool == "kitaru_executions_get":
        return {"exec_id": rng.choice(known)}
    if tool == "kitaru_executions_list":
        return rng.choice([{}, {"status": "completed"}, {"flow": "greet_flow", "limit": 5}])
    return {}


async def one_client(
    server: HttpServer,
    index: int,
    calls: int,
    *,
    run: bool,
    answer: str | None,
    known: list[str],
    report: LoadReport,
) -> None:
    """``calls`` calls in one session: reads, then (if asked) one run and one answer among them."""
    rng = random.Random(index)
    plan: list[tuple[str, dict[str, Any]]] = []
    for _ in range(calls):
        tool = rng.choice(READ_TOOLS)
        plan.append((tool, _read_arguments(tool, known, rng)))
    if run:
        args = {"name": f"client{index}", "salt": f"load-{index}-{time.time_ns()}"}
        plan[len(plan) // 3] = ("kitaru_executions_run", {"target": TINY_FLOW, "args": args})
    if answer is not None:
        plan[2 * len(plan) // 3] = ("kitaru_executions_input", {"exec_id": answer, "value": ANSWER})
    async with Session(server) as client:
        for tool, arguments in plan:
            began = time.perf_counter()
            try:
                result = await client.call_tool(tool, arguments)
            except Exception as exc:  # a transport failure counts as an error too
                report.errors.append(f"{tool}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - began
            problem = _failure(tool, result)
            if problem:
                report.errors.append(problem)
                continue
            (report.read_seconds if tool in READ_TOOLS else report.write_seconds).append(elapsed)
            if tool == "kitaru_executions_run":
                assert result.structured_content is not None
                report.started.append(result.structured_content["exec_id"])


async def load(
    server: HttpServer,
    *,
    clients: int,
    calls: int,
    runs: int,
    known: list[str],
    waiting: list[str],
) -> LoadReport:
    """``clients`` concurrent sessions of ``calls`` calls each; the first ``runs`` clients
    start one tiny flow each, and every client answers one of the ``waiting`` executions."""
    report = LoadReport()
    began = time.perf_counter()
    await asyncio.gather(
        *(
            one_client(
                server,
                index,
                calls,
                run=index < runs,
                answer=waiting[index % len(waiting)] if waiting else None,
                known=known,
                report=report,
            )
            for index in range(clients)
        )
    )
    report.wall_seconds = time.perf_counter() - began
    async with Session(server) as client:
        for exec_id in report.started:
            result = await client.call_tool("kitaru_executions_get", {"exec_id": exec_id})
            if _failure("get", result):
                report.lost.append(exec_id)
    return report


# ---------------------------------------------------------------------------- unauthorized


def unauthorized_headers(server: HttpServer, index: int) -> dict[str, str]:
    """No token, a wrong one, the right one without the scheme, other schemes, near misses."""
    choices: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {server.token}x"},
        {"Authorization": f"Bearer {server.token[:-1]}"},
        {"Authorization": server.token},
        {"Authorization": f"Basic {server.token}"},
        {"Authorization": "Bearer"},
        {"X-Authorization": f"Bearer {server.token}"},
    ]
    return choices[index % len(choices)]


async def unauthorized_burst(
    server: HttpServer, count: int, concurrency: int = 50
) -> dict[str, Any]:
    """``count`` raw requests that each try to start a flow without a valid token."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "kitaru_executions_run", "arguments": {"target": TINY_FLOW, "args": {}}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    gate = asyncio.Semaphore(concurrency)
    statuses: dict[int, int] = {}
    codes: set[str] = set()

    async def one(http: httpx.AsyncClient, index: int) -> None:
        async with gate:
            answer = await http.post(
                server.url, json=body, headers={**headers, **unauthorized_headers(server, index)}
            )
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        if answer.status_code == 401:
            codes.add(answer.json()["error"]["code"])

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as http:
        await asyncio.gather(*(one(http, index) for index in range(count)))
    return {
        "requests": count,
        "statuses": statuses,
        "codes": sorted(codes),
        "wall_seconds": round(time.perf_counter() - began, 2),
    }


async def execution_count(server: HttpServer) -> int:
    async with Session(server) as client:
        page = await call(client, "kitaru_executions_list", {"limit": 200})
        return len(page["items"])


# ------------------------------------------------------------------------------------ main


async def benchmark(args: argparse.Namespace, server: HttpServer) -> dict[str, Any]:
    completed, waiting = await seed(server, args.completed, args.waiting)
    known = completed + waiting
    print(
        f"seeded; load phase starts (server pid {server.process.pid})", file=sys.stderr, flush=True
    )
    report = await load(
        server, clients=args.clients, calls=args.calls, runs=args.runs, known=known, waiting=waiting
    )
    stuck = await unfinished(server, report.started + waiting)
    before = await execution_count(server)
    refused = await unauthorized_burst(server, args.unauthorized)
    after = await execution_count(server)
    return {
        "clients": args.clients,
        "calls_per_client": args.calls,
        "load": report.summary(),
        "error_samples": report.errors[:5],
        "unfinished_after_load": stuck,
        "unauthorized": {**refused, "executions_before": before, "executions_after": after},
    }


def mariadb_store(root: Path, daemons: ExitStack) -> dict[str, str]:
    """Start the tests' MariaDB server tier (stopped when ``daemons`` closes); the variables
    that connect the MCP server to it as a remote user with a service account's API key."""
    sys.path.insert(0, str(REPO / "tests"))
    from server_tier.mariadb_tier import mariadbd, server_tier  # type: ignore[import-not-found]

    if mariadbd() is None:
        raise SystemExit("--store mariadb needs mariadbd on PATH (apt-get install mariadb-server)")
    tier = daemons.enter_context(server_tier(root))
    client = tier.client_env("mcp-http", via_env=True)
    return {k: v for k, v in client.items() if k.startswith(("KITARU_", "ZENML_"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20, help="clients that start one flow each")
    parser.add_argument("--completed", type=int, default=3)
    parser.add_argument("--waiting", type=int, default=2)
    parser.add_argument("--unauthorized", type=int, default=1000)
    parser.add_argument(
        "--store",
        choices=("local", "mariadb"),
        default="local",
        help="a fresh local store, or a ZenML server on a private MariaDB (needs mariadbd)",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="kitaru-http-bench-", ignore_cleanup_errors=True) as tmp,
        ExitStack() as daemons,
    ):
        store_env = None
        if args.store == "mariadb":
            store_env = mariadb_store(Path(tmp) / "tier", daemons)
        log = Path(tmp) / "server.log"
        token = "bench-" + os.urandom(16).hex()
        with (
            log.open("w") as stderr,
            http_server(Path(tmp) / "config", token, stderr, store_env) as server,
        ):
            numbers = asyncio.run(benchmark(args, server))
        numbers["store"] = args.store
        print(json.dumps(numbers, indent=2))
    ok = (
        numbers["load"]["errors"] == 0
        and numbers["load"]["lost_executions"] == 0
        and not numbers["unfinished_after_load"]
        and set(numbers["unauthorized"]["statuses"]) == {401}
        and numbers["unauthorized"]["executions_before"]
        == numbers["unauthorized"]["executions_after"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
