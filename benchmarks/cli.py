"""Benchmark: how long the ``kitaru`` command takes, as a whole process.

Run with the project's venv:  .venv/bin/python benchmarks/cli.py [--repeats 7]

It makes a fresh temporary Kitaru config dir, puts a few executions in its store, then reports
the median wall time of several runs of

- ``kitaru --help``            (target ≤ 0.3 s: no ZenML import),
- ``kitaru executions list``   (target ≤ 2 s: ZenML import + store connection + one query),

next to two reference points: a bare Python start, and ``import zenml`` alone (the floor for
any command that reads the store). On a shared machine every number grows with the load; the
load average is printed, and so is what ``executions list`` costs beyond ``import zenml``.
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
# The floor of any command that reads the store. Without the interpreter's teardown, which the
# `kitaru` console script skips too (it costs about a second once ZenML is loaded).
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


def populate(env: dict[str, str], work: Path, executions: int) -> None:
    """A store with a few finished executions (one process, so this stays quick)."""
    (work / "bench_cli_flow.py").write_text(FLOW, encoding="utf-8")
    code = (
        "from bench_cli_flow import bench_flow\n"
        f"for x in range({executions}):\n"
        "    assert bench_flow.run(x).wait() == 2 * x\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=work, check=True, capture_output=True)


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
    populate(env, work, executions)
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
    ]
    print(f"median of {repeats} runs (load average {os.getloadavg()[0]:.1f}):")
    medians: dict[str, float] = {}
    for label, argv, target in rows:
        seconds = medians[label] = median_of(argv, env, work, repeats)
        verdict = "" if target is None else ("  ok" if seconds <= target else "  OVER")
        goal = "" if target is None else f"  (target ≤ {target:g} s)"
        print(f"  {label:<34} {seconds:6.3f} s{goal}{verdict}")
    # On a busy machine every number grows; what Kitaru adds on top of ZenML's import does less.
    beyond = medians["kitaru executions list"] - medians["python -c 'import zenml'"]
    print(f"  executions list beyond `import zenml`: {beyond:.3f} s (store connection + query)")


if __name__ == "__main__":
    main()
