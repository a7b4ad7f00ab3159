"""Benchmark: end-to-end latency of flows on the local stack.

Run with the project's venv:  .venv/bin/python benchmarks/flows.py [--repeats 5]

It uses a fresh temporary Kitaru config dir (a new SQLite store), runs a warm-up flow, then
measures `.run()` → result for flows of N = 1, 10, 50 trivial checkpoints (median of
--repeats runs each, uncached: every run gets a new input), fits time = fixed + slope * N by
least squares, and compares a fully cached re-run with an uncached run of the same flow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KITARU_CONFIG_PATH", tempfile.mkdtemp(prefix="kitaru-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _flows_bench import chain  # noqa: E402


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
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return mean_y - slope * mean_x, slope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="1,10,50")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    salt = int(time.time())
    timed_run(2, salt, cache=False)  # warm-up: store bootstrap, imports, first pipeline
    medians: dict[int, float] = {}
    for n in sizes:
        runs = []
        for _ in range(args.repeats):
            salt += 1
            runs.append(timed_run(n, salt, cache=False))
        medians[n] = statistics.median(runs)
        print(f"N={n:>3}: median {medians[n] * 1000:8.1f} ms  (runs: "
              + ", ".join(f"{r * 1000:.0f}" for r in runs) + ")")
    fixed, slope = least_squares([(n, medians[n]) for n in sizes])
    print(f"per-checkpoint slope: {slope * 1000:.1f} ms; fixed per-run cost: {fixed * 1000:.0f} ms")
    uncached, cached = [], []
    for _ in range(args.repeats):
        salt += 1
        uncached.append(timed_run(10, salt, cache=True))  # first run of this input: computes
        cached.append(timed_run(10, salt, cache=True))  # same input again: all cache hits
    u, c = statistics.median(uncached), statistics.median(cached)
    print(f"N=10 uncached {u * 1000:.0f} ms vs cached re-run {c * 1000:.0f} ms: {u / c:.2f}x faster")


if __name__ == "__main__":
    main()
