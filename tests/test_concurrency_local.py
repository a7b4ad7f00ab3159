"""Concurrency without loss on the local SQLite store (issue 19).

- Eight concurrent starters launch sixteen executions of the ten-checkpoint flow through the
  service behind ``kitaru_executions_run`` / ``kitaru run`` (detached workers forked from the
  warm pool); a quarter of them wait for input, answered concurrently. Every execution
  completes, every checkpoint body ran exactly once (marker files), every answer arrived, and
  no worker met ``database is locked``. (``benchmarks/scale.py`` does the same with 64.)
- Two processes race to answer the same waits with different values: for each wait one wins,
  the other gets a typed state error, and the recorded answer is the winner's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flows_exec.support import DEADLINE, poll, until_finished, until_status
from flows_scale import fixtures
from flows_scale.points import marks
from flows_scale.scale import STEPS

from kitaru_core.models import ExecutionStatus
from kitaru_core.services import executions

TARGET = f"{Path(__file__).resolve().parent / 'flows_scale' / 'scale.py'}:scale_flow"
TESTS_DIR = Path(__file__).resolve().parent
EXECUTIONS = 16
STARTERS = 8
TOTAL = sum(range(1, STEPS + 1))

# Shared fixtures: a warm worker pool for the module, and a folder for marker files.
warm_pool = fixtures.warm_pool
workdir = fixtures.workdir


def _start(workdir: str, salt: str, ask: bool) -> executions.StartedExecution:
    inputs = {"workdir": workdir, "salt": salt, "ask": ask}
    return executions.start(TARGET, inputs=inputs)


def _answer_when_waiting(exec_id: str, value: int) -> None:
    until_status(exec_id, "waiting")
    executions.input(exec_id, wait="go", value=value)


def test_concurrent_starts_and_answers_lose_nothing(zenml_client: Any, workdir: str) -> None:
    salts = [f"c{index}-{uuid.uuid4().hex[:8]}" for index in range(EXECUTIONS)]
    asks = [index % 4 == 0 for index in range(EXECUTIONS)]
    with ThreadPoolExecutor(STARTERS) as starters:
        started = list(
            starters.map(lambda i: _start(workdir, salts[i], asks[i]), range(EXECUTIONS))
        )
    assert len({item.exec_id for item in started}) == EXECUTIONS

    waiting = [index for index in range(EXECUTIONS) if asks[index]]
    with ThreadPoolExecutor(len(waiting)) as answerers:
        # Answered at the same time, each with its own value (its index).
        list(answerers.map(lambda i: _answer_when_waiting(started[i].exec_id, i), waiting))
    finished = [until_finished(item.exec_id, timeout=DEADLINE * 2) for item in started]

    for index, execution in enumerate(finished):
        assert execution.status == ExecutionStatus.COMPLETED, execution.status_reason
        answer = index if asks[index] else None
        assert execution.result == f"{salts[index]}:{TOTAL}:{answer}"  # no lost answer
        assert [marks(workdir, salts[index], step) for step in range(STEPS)] == [
            ["start", "end"]
        ] * STEPS  # every checkpoint ran exactly once
    logs = "".join(Path(item.log_file).read_text(errors="replace") for item in started)
    assert "database is locked" not in logs


RACER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {tests!r})
    from kitaru_core.errors import KitaruError
    from kitaru_core.services import executions

    exec_ids, value, folder = {exec_ids!r}, {value!r}, {folder!r}
    for exec_id in exec_ids:
        executions.get(exec_id)  # imports and connections done before the race
    from kitaru_core.backend import waits
    for exec_id in exec_ids:
        waits.list_conditions(exec_id)
    open(os.path.join(folder, "ready-" + str(value)), "w").close()
    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.001)
    outcome = {{}}
    for exec_id in exec_ids:
        try:
            executions.input(exec_id, wait="go", value=value)
            outcome[exec_id] = "ok"
        except KitaruError as error:
            outcome[exec_id] = error.code
    print(json.dumps(outcome))
    """
)


def _racer(exec_ids: list[str], value: int, folder: Path) -> subprocess.Popen[str]:
    script = RACER.format(tests=str(TESTS_DIR), exec_ids=exec_ids, value=value, folder=str(folder))
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_processes_racing_to_answer_one_wait(
    zenml_client: Any, workdir: str, tmp_path: Path
) -> None:
    salts = [f"race{index}-{uuid.uuid4().hex[:8]}" for index in range(4)]
    exec_ids = [_start(workdir, salt, True).exec_id for salt in salts]
    for exec_id in exec_ids:
        until_status(exec_id, "waiting")
    folder = tmp_path / "race"
    folder.mkdir()
    racers = {value: _racer(exec_ids, value, folder) for value in (111, 222)}
    poll(lambda: all((folder / f"ready-{v}").exists() for v in racers), "both racers ready")
    (folder / "go").touch()
    outcomes: dict[int, dict[str, str]] = {}
    for value, process in racers.items():
        out, err = process.communicate(timeout=DEADLINE)
        assert process.returncode == 0, err[-3000:]
        outcomes[value] = json.loads(out.strip().splitlines()[-1])

    for salt, exec_id in zip(salts, exec_ids, strict=True):
        results = {value: outcomes[value][exec_id] for value in racers}
        assert sorted(results.values()) == ["invalid_state", "ok"], results
        winner = next(value for value, result in results.items() if result == "ok")
        done = until_finished(exec_id)
        assert done.status == ExecutionStatus.COMPLETED
        assert done.result == f"{salt}:{TOTAL}:{winner}"  # the winner's answer, not overwritten
