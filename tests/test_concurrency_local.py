"""Concurrency without loss on the local SQLite store (issue 19).

- Eight concurrent starters launch sixteen executions of the ten-checkpoint flow through the
  service behind ``kitaru_executions_run`` / ``kitaru run`` (detached workers forked from the
  warm pool); a quarter of them wait for input, answered concurrently. Every execution
  completes, every checkpoint body ran exactly once (marker files), every answer arrived, and
  no worker met ``database is locked``. (``benchmarks/scale.py`` does the same with 64.)
- Two processes race to answer the same waits with different values: for each wait one wins,
  the other gets a typed state error, and the recorded answer is the winner's.

The scenarios live in ``flows_scale/concurrency.py``; ``test_concurrency_mariadb.py`` runs the
same ones against a ZenML server on MariaDB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows_exec.support import DEADLINE
from flows_scale import concurrency, fixtures

EXECUTIONS = 16
STARTERS = 8

# Shared fixtures: a warm worker pool for the module, and a folder for marker files.
warm_pool = fixtures.warm_pool
workdir = fixtures.workdir


def test_concurrent_starts_and_answers_lose_nothing(zenml_client: Any, workdir: str) -> None:
    outcomes = concurrency.crowd(workdir, EXECUTIONS, STARTERS)
    concurrency.check_crowd(outcomes, EXECUTIONS)
    # The checks above fail on their own; these make the essentials visible here too.
    assert [outcome["status"] for outcome in outcomes] == ["completed"] * EXECUTIONS
    assert all(outcome["result"] == outcome["expected"] for outcome in outcomes)


def test_two_processes_racing_to_answer_one_wait(
    zenml_client: Any, workdir: str, tmp_path: Path
) -> None:
    # The racers inherit this process's environment: the same local store.
    outcomes = concurrency.race(workdir, tmp_path / "race", 4, deadline=DEADLINE)
    concurrency.check_race(outcomes)
    assert len(outcomes) == 4
