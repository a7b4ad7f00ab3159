"""Benchmark: latency of flows and execution management on the local stack.

Run with the project's venv:  .venv/bin/python benchmarks/flows.py [--repeats 5]

It uses a fresh temporary Kitaru config dir (a new SQLite store) and reports medians:
- runs: `.run()` → result for flows of N = 1, 10, 50 trivial checkpoints (uncached: every run
  gets a new input), the least-squares fit time = fixed + slope * N; then, with caching on, the
  first run of a new input against a fully cached re-run of it (the same fit for the re-runs,
  and the N = 10 ratio); ``--compare-zenml-cache`` measures the same pairs with Kitaru's cache
  fast path off (ZenML's own lookup and record), interleaved, for a same-run comparison;
  ``--compare-record`` does the same for the uncached runs with the computed checkpoints'
  record off, and ``--compare-run-record`` for both sections with the runs' status updates
  recorded by ZenML's ``update_run`` (``run_record`` off);
- manage: `input()` → `completed` for a detached worker that is waiting, replay from the middle
  of a 10-checkpoint execution (call return and completion, with the warm worker pool the MCP
  server uses), and warm `get` / `list` latency on a store with 200 executions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KITARU_CONFIG_PATH", tempfile.mkdtemp(prefix="kitaru-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _flows_bench import chain

HERE = Path(__file__).resolve().parent


def timed_run(n: int, salt: int, cache: bool) -> float:
    started = time.perf_counter()
    result = chain.run(n=n, salt=salt, cache=cache).wait()
    elapsed = time.perf_counter() - started
    assert result == salt + n, result
    return elapsed


def least_squares(points: list[tuple[int, float]]) -> tuple[float, float]:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - slope * mean_x, slope


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def wait_until(check, timeout: float = 120.0, interval: float = 0.01) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(interval)


def bench_manage(repeats: int) -> None:
    from kitaru_core.runtime import detach
    from kitaru_core.services import execution_control, executions

    detach.warm_zygote()
    assert detach._zygote is not None and detach._zygote.ready.wait(120)
    os.chdir(HERE)
    cycle = []
    for index in range(repeats):
        exec_id, _ = detach.start_job(
            {"kind": "run", "target": "_flows_bench.py:gated", "inputs": {"salt": index}}
        )
        wait_until(lambda eid=exec_id: executions.get(eid).status.value == "waiting")
        started = time.perf_counter()
        executions.input(exec_id, value=1, wait="go")
        wait_until(lambda eid=exec_id: executions.get(eid).status.value == "completed")
        cycle.append(time.perf_counter() - started)
    print(
        f"input -> completed (worker waiting): median {ms(statistics.median(cycle))} "
        f"(runs: {', '.join(ms(c) for c in cycle)})"
    )
    original = chain.run(n=10, salt=int(time.time()), cache=False).exec_id
    returned, finished = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        replayed = execution_control.replay(original, from_="step_once_6")
        returned.append(time.perf_counter() - started)
        new_id = replayed.exec_id
        wait_until(lambda eid=new_id: executions.get(eid).status.is_finished, interval=0.02)
        finished.append(time.perf_counter() - started)
    print(
        f"replay from the 6th of 10 checkpoints: call returns in median "
        f"{ms(statistics.median(returned))}, completed in {ms(statistics.median(finished))}"
    )
    existing = len(executions.list_executions(limit=200)[0])
    for index in range(max(0, 200 - existing)):
        chain.run(n=1, salt=10_000_000 + index, cache=False)
    gets, lists = [], []
    executions.get(original)
    executions.list_executions(limit=20)
    for _ in range(max(repeats, 10)):
        started = time.perf_counter()
        executions.get(original)
        gets.append(time.perf_counter() - started)
        started = time.perf_counter()
        executions.list_executions(limit=20)
        lists.append(time.perf_counter() - started)
    total = len(executions.list_executions(limit=200)[0])
    print(
        f"store with {total} executions: get (10 checkpoints) median "
        f"{ms(statistics.median(gets))}, list (20 items) median {ms(statistics.median(lists))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--sections", default="runs,manage")
    parser.add_argument(
        "--compare-zenml-cache",
        action="store_true",
        help="also measure cached re-runs with Kitaru's cache fast path off (ZenML's path)",
    )
    parser.add_argument(
        "--compare-record",
        action="store_true",
        help="also measure uncached runs with the computed-checkpoint record off (ZenML's path)",
    )
    parser.add_argument(
        "--compare-run-record",
        action="store_true",
        help="also measure uncached runs and cached re-runs with the run status record off",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    salt = int(time.time())
    timed_run(2, salt, cache=False)  # warm-up: store bootstrap, imports, first pipeline
    if "runs" in args.sections:
        bench_runs(
            sizes,
            args.repeats,
            salt,
            args.compare_zenml_cache,
            args.compare_record,
            args.compare_run_record,
        )
    if "manage" in args.sections:
        bench_manage(args.repeats)


def _run_record_variant(variants: dict[str, Any], compare_run_record: bool) -> dict[str, Any]:
    """``variants`` plus, with ``compare_run_record``, one with the run status record off."""
    if compare_run_record:
        from kitaru_core.backend.run_record import zenml_path_only

        variants["zenml-run-record"] = zenml_path_only
    return variants


def bench_runs(
    sizes: list[int],
    repeats: int,
    salt: int,
    compare: bool,
    compare_record: bool = False,
    compare_run_record: bool = False,
) -> None:
    """Uncached runs; with ``compare_record``, every run is also measured with the computed
    checkpoints' completion recorded by ZenML's own path, and with ``compare_run_record`` with
    the run's status updates by ZenML's ``update_run``, interleaved (same load for all)."""
    import contextlib

    from kitaru_core.backend.step_record import zenml_path_only

    variants: dict[str, Any] = {"kitaru": contextlib.nullcontext, "zenml": zenml_path_only}
    if not compare_record:
        del variants["zenml"]
    variants = _run_record_variant(variants, compare_run_record)
    compared = len(variants) > 1
    runs: dict[str, dict[int, list[float]]] = {name: {} for name in variants}
    for n in sizes:
        for _ in range(repeats):
            for name, variant in variants.items():
                salt += 1
                with variant():
                    runs[name].setdefault(n, []).append(timed_run(n, salt, cache=False))
    for name in variants:
        label = f"[{name} record path] " if compared else ""
        medians = {n: statistics.median(runs[name][n]) for n in sizes}
        for n in sizes:
            print(
                f"{label}N={n:>3}: median {medians[n] * 1000:8.1f} ms  (runs: "
                + ", ".join(f"{r * 1000:.0f}" for r in runs[name][n])
                + ")"
            )
        fixed, slope = least_squares([(n, medians[n]) for n in sizes])
        print(
            f"{label}per-checkpoint slope: {slope * 1000:.1f} ms; "
            f"fixed per-run cost: {fixed * 1000:.0f} ms"
        )
    bench_cached(sizes, repeats, salt, compare, compare_run_record)


def bench_cached(
    sizes: list[int],
    repeats: int,
    salt: int,
    compare: bool = False,
    compare_run_record: bool = False,
) -> None:
    """Cached re-runs against first runs of the same input, caching on in both.

    Each pair gets inputs far from every other run's: a chain computes salt, salt + 1, ...,
    so nearby salts would turn the "uncached" first run into cache hits of earlier runs. With
    ``compare``, every pair is also measured with Kitaru's cache fast path switched off (ZenML's
    own lookup and record), interleaved with the fast pairs so that both see the same load.
    """
    import contextlib

    from kitaru_core.backend.step_cache import zenml_path_only

    variants: dict[str, Any] = {"kitaru": contextlib.nullcontext, "zenml": zenml_path_only}
    if not compare:
        del variants["zenml"]
    variants = _run_record_variant(variants, compare_run_record)
    firsts: dict[str, dict[int, list[float]]] = {name: {} for name in variants}
    reruns: dict[str, dict[int, list[float]]] = {name: {} for name in variants}
    for n in sorted(set(sizes) | {10}):
        for _ in range(repeats):
            for name, variant in variants.items():
                salt += 1_000_000
                with variant():
                    first = timed_run(n, salt, cache=True)  # first run of this input
                    again = timed_run(n, salt, cache=True)  # same input again: all hits
                firsts[name].setdefault(n, []).append(first)
                reruns[name].setdefault(n, []).append(again)
    for name in variants:
        medians = {n: statistics.median(reruns[name][n]) for n in sizes}
        fixed, slope = least_squares([(n, medians[n]) for n in sizes])
        u, c = statistics.median(firsts[name][10]), statistics.median(reruns[name][10])
        print(
            f"[{name} cache path] cached re-runs: per-checkpoint slope {slope * 1000:.1f} ms, "
            f"fixed per-run cost {fixed * 1000:.0f} ms; N=10 uncached {u * 1000:.0f} ms vs "
            f"cached re-run {c * 1000:.0f} ms: {u / c:.2f}x faster"
        )
        print(
            f"    uncached: {', '.join(ms(r) for r in firsts[name][10])}; cached: "
            f"{', '.join(ms(r) for r in reruns[name][10])}"
        )


if __name__ == "__main__":
    main()
