"""Benchmark: how long the ``kitaru`` command takes, as a whole process.

Run with the project's venv:  .venv/bin/python benchmarks/cli.py [--repeats 7]

It makes a fresh temporary Kitaru config dir, puts a few executions in its store, then reports
the median wall time of several runs of

- ``kitaru --help``            (target ≤ 0.3 s: no ZenML import),
- ``kitaru executions list``   (target ≤ 2 s),
- ``kitaru executions get ID`` (a finished execution with its checkpoints),

next to two reference points: a bare Python start, and ``import zenml`` alone (what any command
that went through ZenML would pay first; on the local store the reads above do not import it).
On a shared machine every number grows with the load; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

TARGETS = {"kitaru --help": 0.3, "kitaru executions list": 2.0}
# What a command that goes through ZenML pays first. Without the interpreter's teardown, which
# the `kitaru` console script skips too (it costs about a second once ZenML is loaded).
IMPORT_ZENML = "import os, zenml; os._exit(0)"
FLOW = textwrap.dedent(
    """
    from kitaru_core import checkpoint, flow


    @checkpoint
    def double(x: int) -> int:
        return 2 * x


    @flow
    def bench_flow(x: int) -> int:
        return double(x)
    """
)


def kitaru_command() -> list[str]:
    script = Path(sys.executable).with_name("kitaru")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kitaru_core.cli.main"]


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr}")
    return elapsed


def median_of(argv: list[str], env: dict[str, str], cwd: Path, repeats: int) -> float:
    timed(argv, env, cwd)  # warm the OS file cache; not counted
    return statistics.median(timed(argv, env, cwd) for _ in range(repeats))


def populate(env: dict[str, str], work: Path, executions: int) -> str:
    """A store with a few finished executions (one process, so this stays quick); returns the
    last one's exec_id."""
    (work / "bench_cli_flow.py").write_text(FLOW, encoding="utf-8")
    code = (
        "from bench_cli_flow import bench_flow\n"
        f"for x in range({executions}):\n"
        "    handle = bench_flow.run(x)\n"
        "    assert handle.wait() == 2 * x\n"
        "print(handle.exec_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=work, check=True, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per command")
    parser.add_argument("--executions", type=int, default=5, help="executions in the store")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kitaru-bench-cli-"))
    try:
        measure(work, args.repeats, args.executions)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(work: Path, repeats: int, executions: int) -> None:
    env = {
        **os.environ,
        "KITARU_CONFIG_PATH": str(work / "config"),
        "ZENML_ANALYTICS_OPT_IN": "false",
    }
    print(f"store: {env['KITARU_CONFIG_PATH']} ({executions} executions)")
    exec_id = populate(env, work, executions)
    kitaru = kitaru_command()
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("python -c 'import zenml'", [sys.executable, "-c", IMPORT_ZENML], None),
        ("kitaru --help", [*kitaru, "--help"], TARGETS["kitaru --help"]),
        (
            "kitaru executions list",
            [*kitaru, "executions", "list"],
            TARGETS["kitaru executions list"],
        ),
        ("kitaru executions list -o json", [*kitaru, "executions", "list", "-o", "json"], None),
        ("kitaru executions get ID", [*kitaru, "executions", "get", exec_id], None),
    ]
    print(f"median of {repeats} runs (load average {os.getloadavg()[0]:.1f}):")
    for label, argv, target in rows:
        seconds = median_of(argv, env, work, repeats)
        verdict = "" if target is None else ("  ok" if seconds <= target else "  OVER")
        goal = "" if target is None else f"  (target ≤ {target:g} s)"
        print(f"  {label:<34} {seconds:6.3f} s{goal}{verdict}")


if __name__ == "__main__":
    main()
