"""Benchmark: executions per second for many executions of a ten-checkpoint flow at once.

Run with the project's venv:  .venv/bin/python benchmarks/scale.py
    [--store local|mariadb] [--executions 64] [--workers 1 4 8]
    .venv/bin/python benchmarks/scale.py --profile 10   (where one execution's CPU goes)

A *worker* here is one concurrent starter, as an agent or a CI job would be: it starts an
execution through the service behind ``kitaru run`` and ``kitaru_executions_run`` (a detached
worker process forked from the warm pool), follows it to its end with ``FlowHandle.wait()``,
then starts the next one. N workers keep N executions in flight; together they run
``--executions`` executions of ``tests/flows_scale/scale.py:scale_flow`` (ten tiny checkpoints,
each computed: every execution has a new salt, so nothing is a cache hit). Every execution must
complete and every checkpoint body must have run exactly once (its marker file), or the
benchmark fails.

Figures per worker count: wall time, executions/s, median start latency (call → exec_id),
median time from start to completed, and where the CPU went: the flow workers' own CPU time
(the warm pool's reaped children), this process's (starting and following), and the whole
machine's busy time (other users included: the machine is shared).

Stores: each ``--store`` is an :class:`Environment` (the variables that select the store, and
how to set it up and tear it down); a measurement runs in a child process because ZenML reads
its configuration once per process.

- ``local``: a fresh SQLite store in a temporary config dir.
- ``mariadb``: the MariaDB server tier of the tests (``tests/server_tier/mariadb_tier.py``): a
  private ``mariadbd`` on a temporary datadir and a ZenML server (one uvicorn worker) on it,
  both started here and stopped at the end; the child is a remote client with a service
  account's API key, and its detached workers talk to the server over HTTP. Needs
  ``mariadbd`` on PATH (``apt-get install mariadb-server``). The server and the database run
  on the same machine, so their CPU is part of the machine's busy time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET = f"{REPO / 'tests' / 'flows_scale' / 'scale.py'}:scale_flow"
STEPS = 10


@dataclass
class Environment:
    """Where a measurement runs: the variables that select the store, and its clean-up."""

    name: str
    env: dict[str, str]
    cleanup: Callable[[], None] = field(default=lambda: None)


def local_environment() -> Environment:
    """A fresh local SQLite store in a temporary config dir."""
    folder = Path(tempfile.mkdtemp(prefix="kitaru-bench-scale-"))
    return Environment(
        name="local",
        env={"KITARU_CONFIG_PATH": str(folder / "config"), "ZENML_ANALYTICS_OPT_IN": "false"},
        cleanup=lambda: shutil.rmtree(folder, ignore_errors=True),
    )


def mariadb_environment() -> Environment:
    """A ZenML server on a private MariaDB, started now; the child connects as a remote user."""
    sys.path.insert(0, str(REPO / "tests"))
    from server_tier.mariadb_tier import mariadbd, server_tier  # type: ignore[import-not-found]

    if mariadbd() is None:
        raise SystemExit("--store mariadb needs mariadbd on PATH (apt-get install mariadb-server)")
    folder = Path(tempfile.mkdtemp(prefix="kitaru-bench-mariadb-"))
    daemons = ExitStack()
    try:
        tier = daemons.enter_context(server_tier(folder))
    except BaseException:
        daemons.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    client = tier.client_env("bench", via_env=True)

    def cleanup() -> None:
        daemons.close()  # the server, then mariadbd
        shutil.rmtree(folder, ignore_errors=True)

    return Environment(
        name=f"mariadb (ZenML server {tier.server.url})",
        env={k: v for k, v in client.items() if k.startswith(("KITARU_", "ZENML_"))},
        cleanup=cleanup,
    )


ENVIRONMENTS: dict[str, Callable[[], Environment]] = {
    "local": local_environment,
    "mariadb": mariadb_environment,
}


def _child_env(environment: Environment) -> dict[str, str]:
    """This process's environment without a developer's own connection, plus the store's."""
    own = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KITARU_SERVER", "KITARU_AUTH", "KITARU_PROJECT", "ZENML_STORE"))
    }
    return {**own, **environment.env}


def run_in(environment: Environment, executions: int, workers: list[int]) -> list[dict[str, Any]]:
    """Measure every worker count in a child process on ``environment``'s store."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps([executions, workers])],
        env=_child_env(environment),
        cwd=REPO,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


# ----------------------------------------------------------------- in the child process


def _machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (all cores, every process)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _reaped_cpu(pid: int) -> float:
    """CPU seconds of the children ``pid`` has reaped (the pool's finished flow workers)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[13]) + int(stat[14])) / os.sysconf("SC_CLK_TCK")  # cutime + cstime


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _one_execution(workdir: str, salt: str) -> tuple[float, float]:
    """Start one execution and follow it to its end: (start latency, start → completed)."""
    from kitaru_core.runtime.handle import FlowHandle
    from kitaru_core.services import executions

    begin = time.perf_counter()
    started = executions.start(TARGET, inputs={"workdir": workdir, "salt": salt})
    latency = time.perf_counter() - begin
    FlowHandle(started.exec_id).wait(timeout=900)  # raises if it did not complete
    return latency, time.perf_counter() - begin


def _check_markers(workdir: str, salts: list[str]) -> None:
    for salt in salts:
        for index in range(STEPS):
            path = Path(workdir) / f"{salt}.step{index}.marks"
            lines = path.read_text().splitlines() if path.exists() else []
            if lines != ["start", "end"]:
                raise AssertionError(f"{salt} checkpoint {index} ran {lines}, not exactly once")


def measure(executions: int, workers: int, workdir: str, pool_pid: int) -> dict[str, Any]:
    """``executions`` executions by ``workers`` concurrent starters; the figures."""
    salts = [f"w{workers}-{uuid.uuid4().hex[:10]}" for _ in range(executions)]
    queue = iter(salts)
    lock = threading.Lock()
    timings: list[tuple[float, float]] = []

    def worker() -> None:
        while True:
            with lock:
                salt = next(queue, None)
            if salt is None:
                return
            timing = _one_execution(workdir, salt)
            with lock:
                timings.append(timing)

    cpu_before = (_reaped_cpu(pool_pid), _own_cpu(), _machine_busy())
    begin = time.perf_counter()
    with ThreadPoolExecutor(workers) as threads:
        for future in [threads.submit(worker) for _ in range(workers)]:
            future.result()
    wall = time.perf_counter() - begin
    flows_cpu, own_cpu, busy = (
        after - before
        for after, before in zip(
            (_reaped_cpu(pool_pid), _own_cpu(), _machine_busy()), cpu_before, strict=True
        )
    )
    _check_markers(workdir, salts)
    return {
        "workers": workers,
        "executions": executions,
        "wall_s": round(wall, 2),
        "executions_per_s": round(executions / wall, 2),
        "start_latency_median_s": round(statistics.median(t[0] for t in timings), 3),
        "start_to_completed_median_s": round(statistics.median(t[1] for t in timings), 3),
        "flow_workers_cpu_s_per_execution": round(flows_cpu / executions, 3),
        "starter_cpu_s_per_execution": round(own_cpu / executions, 3),
        "machine_busy_cpu_s": round(busy, 1),
        "machine_capacity_cpu_s": round(wall * (os.cpu_count() or 1), 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def child(executions: int, workers: list[int]) -> None:
    from kitaru_core.runtime import detach

    detach.warm_zygote()
    pool = detach._zygote
    assert pool is not None
    workdir = tempfile.mkdtemp(prefix="kitaru-bench-marks-")
    try:
        _one_execution(workdir, f"warm-{uuid.uuid4().hex[:8]}")  # store created, pool ready
        results = [measure(executions, count, workdir, pool.process.pid) for count in workers]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results))


def _area(filename: str, function: str) -> str:
    """Which library a profiled function belongs to (ZenML by sub-package)."""
    if "site-packages/zenml/" in filename:
        parts = filename.split("site-packages/zenml/")[1].split("/")
        return "zenml." + (parts[0] if len(parts) > 1 else parts[0].removesuffix(".py"))
    for marker in ("sqlalchemy", "sqlmodel", "pydantic", "kitaru_core", "yaml", "json"):
        if f"/{marker}/" in filename:
            return marker
    if filename == "~":
        return f"builtin: {function.split(' ')[0][:40]}" if "sqlite3" not in function else "sqlite3"
    return "other python"


def _count_statements() -> dict[str, int]:
    """Counts of the SQL statements this process sends to the store from now on, by verb and
    table (``SELECT pipeline_run``)."""
    import re

    from sqlalchemy import event

    from kitaru_core.backend.bootstrap import zenml_client

    counts: dict[str, int] = {}
    table = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", re.IGNORECASE)

    def counted(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        found = table.search(statement)
        key = f"{statement.split(None, 1)[0].upper()} {found.group(1) if found else ''}".strip()
        counts[key] = counts.get(key, 0) + 1

    engine = getattr(zenml_client().zen_store, "engine", None)
    if engine is not None:  # a server's client sends HTTP, not SQL: nothing to count here
        event.listen(engine, "before_cursor_execute", counted)
    return counts


def profile(runs: int) -> None:
    """Where one execution's CPU goes: ``runs`` executions in this process under cProfile
    (the same code path as a flow worker), own time summed per library."""
    import cProfile
    import pstats

    sys.path.insert(0, str(REPO / "tests"))
    from flows_scale.scale import scale_flow  # type: ignore[import-not-found]

    workdir = tempfile.mkdtemp(prefix="kitaru-bench-marks-")
    scale_flow.run(workdir, f"warm-{uuid.uuid4().hex[:8]}").wait()
    statements = _count_statements()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        scale_flow.run(workdir, uuid.uuid4().hex[:10]).wait()
    profiler.disable()
    print(f"SQL statements per execution (this process): {sum(statements.values()) / runs:.0f}")
    for key, count in sorted(statements.items(), key=lambda item: -item[1])[:12]:
        print(f"{count / runs:8.1f}  {key}")
    areas: dict[str, float] = {}
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own, _, _) in stats.items():
        area = _area(filename, function)
        areas[area] = areas.get(area, 0.0) + own
    total = sum(areas.values())
    print(f"own CPU per execution: {total / runs * 1000:.0f} ms (profiled)")
    for area, own in sorted(areas.items(), key=lambda item: -item[1])[:20]:
        print(f"{own / runs * 1000:8.1f} ms  {own / total:6.1%}  {area}")
    shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=sorted(ENVIRONMENTS), default="local")
    parser.add_argument("--executions", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument(
        "--profile", type=int, metavar="RUNS", help="profile RUNS executions in-process instead"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*json.loads(args.child))
        return
    if args.profile_child:
        profile(args.profile_child)
        return
    if args.profile:
        environment = ENVIRONMENTS[args.store]()
        try:
            subprocess.run(
                [sys.executable, __file__, "--profile-child", str(args.profile)],
                env=_child_env(environment),
                cwd=REPO,
                check=True,
            )
        finally:
            environment.cleanup()
        return
    environment = ENVIRONMENTS[args.store]()
    try:
        results = run_in(environment, args.executions, args.workers)
    finally:
        environment.cleanup()
    print(f"store: {environment.name}, {os.cpu_count()} CPUs")
    for row in results:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
