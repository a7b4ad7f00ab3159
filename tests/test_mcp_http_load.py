"""``kitaru-mcp`` over streamable HTTP under concurrent clients, and its bearer-token guard.

A real ``kitaru-mcp --transport http`` subprocess on its own fresh config dir (a few completed
executions, two waiting on a typed question). Twenty concurrent sessions of the official
client, each with its ``Authorization: Bearer`` header, read (list, get, waiting, latest),
a few start a tiny flow and every one answers a waiting execution (several answer the same
wait with the same value, which is idempotent). Then a thousand raw requests with no token or
a wrong one all get 401 and start nothing. The same code, with the full counts and latency
figures, is ``benchmarks/http_load.py``; no timing is asserted here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CLIENTS, CALLS, RUNS, UNAUTHORIZED = 20, 10, 4, 1000


def _load_benchmark() -> ModuleType:
    """``benchmarks/http_load.py`` by path: putting ``benchmarks/`` on ``sys.path`` would let
    ``benchmarks/mcp.py`` shadow the ``mcp`` package."""
    spec = importlib.util.spec_from_file_location(
        "_http_load", REPO / "benchmarks" / "http_load.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("http-load")
    with (
        (folder / "server.log").open("w") as log,
        bench.http_server(folder / "config", "load-test-token-0123456789", log) as running,
    ):
        yield running


def test_concurrent_clients_get_no_errors_and_lose_no_execution(server: Any) -> None:
    async def scenario() -> tuple[Any, list[str], list[str]]:
        completed, waiting = await bench.seed(server, completed=2, waiting=2)
        report = await bench.load(
            server,
            clients=CLIENTS,
            calls=CALLS,
            runs=RUNS,
            known=completed + waiting,
            waiting=waiting,
        )
        stuck = await bench.unfinished(server, report.started + waiting)
        return report, waiting, stuck

    report, waiting, stuck = asyncio.run(scenario())
    assert report.errors == []
    assert len(report.started) == RUNS and len(set(report.started)) == RUNS
    assert report.lost == []
    assert len(report.read_seconds) + len(report.write_seconds) == CLIENTS * CALLS
    # Every answered wait resumed its execution, and every started flow ran to the end.
    assert stuck == []

    async def results() -> dict[str, Any]:
        async with bench.Session(server) as client:
            return {
                exec_id: await bench.call(client, "kitaru_executions_get", {"exec_id": exec_id})
                for exec_id in report.started + waiting
            }

    for exec_id, execution in asyncio.run(results()).items():
        assert execution["status"] == "completed", (exec_id, execution["status"])
        if exec_id in waiting:
            assert str(execution["result"]).endswith(": approve"), execution["result"]


def test_unauthorized_requests_get_401_and_start_nothing(server: Any) -> None:
    before = asyncio.run(bench.execution_count(server))
    refused = asyncio.run(bench.unauthorized_burst(server, UNAUTHORIZED))
    assert refused["statuses"] == {401: UNAUTHORIZED}
    assert refused["codes"] == ["unauthorized"]
    assert asyncio.run(bench.execution_count(server)) == before
    assert server.process.poll() is None  # and the server is still serving
