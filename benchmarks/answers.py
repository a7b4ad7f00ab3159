"""Benchmark: answering a wait from the CLI on the local store.

Run with the project's venv:  .venv/bin/python benchmarks/answers.py [--repeats 5] [--before DIR]

Each round starts ``benchmarks/_flows_bench.py:gated`` with ``timeout=0`` (its worker releases
the execution at once: the answer must resume it), waits until it is paused, then times
``kitaru executions input EXEC_ID --wait go --value 1 -o json`` as a process (the command's
whole time) and input -> ``completed`` (read from the store every 20 ms).

``--before DIR`` also times another copy of the code in the same run, interleaved round by
round (the machine is shared, so only figures from one run compare), e.g. the last commit:
``git archive HEAD | tar -x -C /tmp/kitaru-before`` then ``--before /tmp/kitaru-before``.
That copy is put first on ``PYTHONPATH`` of the answering command and of the resume worker.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLI = [sys.executable, "-m", "kitaru_core.cli.main"]
GATED = "benchmarks/_flows_bench.py:gated"


def waiting_execution(env: dict[str, str], salt: int) -> str:
    """A ``gated`` execution whose worker has released it (paused, waiting for ``go``)."""
    inputs = json.dumps({"salt": salt, "timeout": 0})
    done = subprocess.run(
        [
            *CLI,
            "run",
            "benchmarks/_flows_bench.py:gated",
            "--input",
            inputs,
            "--wait",
            "-o",
            "json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    exec_id = str(json.loads(done.stdout)["exec_id"])
    until(lambda: zenml_status(exec_id) == "paused")
    return exec_id


def zenml_status(exec_id: str) -> str:
    from kitaru_core.backend.local_store import open_local

    store = open_local()
    if store is None:  # the store is being written this instant (or this is not the local store)
        return ""
    with store.connect() as db:
        row = db.execute(
            "SELECT status FROM pipeline_run WHERE id = ?", (exec_id.replace("-", ""),)
        ).fetchone()
    return str(row[0])


def until(check: Any, timeout: float = 300.0) -> float:
    """Seconds until ``check()`` holds (polled every 20 ms)."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the execution did not get there in time")
        time.sleep(0.02)
    return time.perf_counter() - started


def answer(env: dict[str, str], exec_id: str) -> tuple[float, float]:
    """(seconds the command took, seconds from the command's start to ``completed``)."""
    started = time.perf_counter()
    subprocess.run(
        [*CLI, "executions", "input", exec_id, "--wait", "go", "--value", "1", "-o", "json"],
        # Outside the checkout: `python -m` puts its working directory first on sys.path, which
        # would shadow the older code that ``--before`` puts on PYTHONPATH.
        cwd=tempfile.gettempdir(),
        env=env,
        capture_output=True,
        check=True,
    )
    command = time.perf_counter() - started
    until(lambda: zenml_status(exec_id) == "completed")
    return command, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", type=Path, help="another copy of the code to compare with")
    args = parser.parse_args()
    os.environ.setdefault("KITARU_CONFIG_PATH", tempfile.mkdtemp(prefix="kitaru-answer-bench-"))
    env = dict(os.environ)
    subprocess.run(  # bootstrap the store once, so rounds measure answers, not migrations
        [sys.executable, "-c", "from kitaru_core.backend.bootstrap import zenml_client as z; z()"],
        env=env,
        check=True,
    )
    variants = {"this tree": env}
    assert "kitaru_core" not in os.listdir(tempfile.gettempdir())
    if args.before is not None:
        path = os.pathsep.join(filter(None, [str(args.before.resolve()), env.get("PYTHONPATH")]))
        variants["before"] = {**env, "PYTHONPATH": path}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for index in range(args.repeats):
        for name, variant_env in variants.items():
            exec_id = waiting_execution(env, salt=700_000 + index * 10 + len(results[name]))
            results[name].append(answer(variant_env, exec_id))
            print(f"  round {index + 1}, {name}: {results[name][-1]}", flush=True)
    for name, runs in results.items():
        command = statistics.median(run[0] for run in runs)
        completed = statistics.median(run[1] for run in runs)
        print(
            f"{name}: `kitaru executions input` median {command:.3f} s "
            f"(runs {', '.join(f'{run[0]:.2f}' for run in runs)}); "
            f"input -> completed median {completed:.3f} s"
        )


if __name__ == "__main__":
    main()
