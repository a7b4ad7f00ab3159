"""Concurrency scenarios on the scale flow, shared by the store they run against.

``tests/test_concurrency_local.py`` runs them in the test process on the local store;
``tests/server_tier/mariadb_concurrency.py`` runs them in a client process of the MariaDB
server tier. Each returns plain data (JSON-ready) for the test to assert on:

- :func:`crowd`: concurrent starters launch executions of the ten-checkpoint flow through the
  service behind ``kitaru run`` / ``kitaru_executions_run`` (detached workers); every fourth
  waits for input, answered concurrently, each with its own value. One outcome per execution:
  its status, its result and the result it must have, and its marker files.
- :func:`race`: two processes answer the same waits with different values at the same moment;
  per wait, what each got ("ok" or an error code), and the result the execution ended with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flows_exec.support import DEADLINE, poll, until_finished, until_status

from flows_scale.points import marks
from flows_scale.scale import STEPS
from kitaru_core.services import executions

TARGET = f"{Path(__file__).resolve().parent / 'scale.py'}:scale_flow"
TESTS_DIR = Path(__file__).resolve().parent.parent
TOTAL = sum(range(1, STEPS + 1))
# What a worker's log shows when the store refused it a lock (SQLite, then MySQL/MariaDB).
LOCK_ERRORS = ("database is locked", "Deadlock found", "Lock wait timeout exceeded")


def expected_result(salt: str, answer: int | None) -> str:
    """What ``scale_flow`` returns for ``salt`` when its wait got ``answer`` (or had none)."""
    return f"{salt}:{TOTAL}:{answer}"


def start(workdir: str, salt: str, ask: bool) -> executions.StartedExecution:
    inputs = {"workdir": workdir, "salt": salt, "ask": ask}
    return executions.start(TARGET, inputs=inputs)


def _answer_when_waiting(exec_id: str, value: int, deadline: float) -> None:
    until_status(exec_id, "waiting", timeout=deadline)
    executions.input(exec_id, wait="go", value=value)


def crowd(
    workdir: str, count: int, starters: int, *, deadline: float = DEADLINE
) -> list[dict[str, Any]]:
    """``count`` executions started by ``starters`` threads at once; one outcome each."""
    salts = [f"c{index}-{uuid.uuid4().hex[:8]}" for index in range(count)]
    asks = [index % 4 == 0 for index in range(count)]
    with ThreadPoolExecutor(starters) as pool:
        started = list(pool.map(lambda i: start(workdir, salts[i], asks[i]), range(count)))
    waiting = [index for index in range(count) if asks[index]]
    with ThreadPoolExecutor(max(1, len(waiting))) as pool:
        # Answered at the same time, each with its own value (its index).
        answering = lambda i: _answer_when_waiting(started[i].exec_id, i, deadline)  # noqa: E731
        list(pool.map(answering, waiting))
    outcomes = []
    for index, item in enumerate(started):
        execution = until_finished(item.exec_id, timeout=deadline * 2)
        log = Path(item.log_file).read_text(errors="replace")
        outcomes.append(
            {
                "exec_id": item.exec_id,
                "status": execution.status.value,
                "reason": execution.status_reason,
                "result": execution.result,
                "expected": expected_result(salts[index], index if asks[index] else None),
                "marks": [marks(workdir, salts[index], step) for step in range(STEPS)],
                "lock_errors": [error for error in LOCK_ERRORS if error in log],
            }
        )
    return outcomes


def check_crowd(outcomes: list[dict[str, Any]], count: int) -> None:
    """Nothing lost: all completed, with the right result (answers arrived), every checkpoint
    body ran exactly once, and no worker was refused a lock."""
    assert len({outcome["exec_id"] for outcome in outcomes}) == count
    for outcome in outcomes:
        assert outcome["status"] == "completed", outcome
        assert outcome["result"] == outcome["expected"], outcome  # no lost answer
        assert outcome["marks"] == [["start", "end"]] * STEPS, outcome  # each ran once
        assert outcome["lock_errors"] == [], outcome


RACER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {tests!r})
    from kitaru_core.errors import KitaruError
    from kitaru_core import liveness
    from kitaru_core.services import executions

    # Read as if the executions were past their start grace: a reader that cannot see their
    # workers (another client's config dir, on a server) must still leave them alone.
    liveness.START_GRACE = 0.0

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

RACERS = (111, 222)


def _racer(
    exec_ids: list[str], value: int, folder: Path, env: dict[str, str] | None
) -> subprocess.Popen[str]:
    script = RACER.format(tests=str(TESTS_DIR), exec_ids=exec_ids, value=value, folder=str(folder))
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def race(
    workdir: str,
    folder: Path,
    waits: int,
    racer_env: Callable[[int], dict[str, str] | None] = lambda value: None,
    *,
    deadline: float = DEADLINE,
) -> list[dict[str, Any]]:
    """``waits`` executions wait; two racer processes (environments from ``racer_env``) answer
    each of them at the same moment with different values. One outcome per execution."""
    salts = [f"race{index}-{uuid.uuid4().hex[:8]}" for index in range(waits)]
    exec_ids = [start(workdir, salt, True).exec_id for salt in salts]
    for exec_id in exec_ids:
        until_status(exec_id, "waiting", timeout=deadline)
    folder.mkdir(parents=True, exist_ok=True)
    racers = {value: _racer(exec_ids, value, folder, racer_env(value)) for value in RACERS}
    ready = lambda: all((folder / f"ready-{value}").exists() for value in racers)  # noqa: E731
    poll(ready, "both racers ready", timeout=deadline)
    (folder / "go").touch()
    got: dict[int, dict[str, str]] = {}
    for value, process in racers.items():
        out, err = process.communicate(timeout=deadline)
        assert process.returncode == 0, err[-3000:]
        got[value] = json.loads(out.strip().splitlines()[-1])
    outcomes = []
    for salt, exec_id in zip(salts, exec_ids, strict=True):
        execution = until_finished(exec_id, timeout=deadline)
        outcomes.append(
            {
                "exec_id": exec_id,
                "answers": {str(value): got[value][exec_id] for value in racers},
                "status": execution.status.value,
                "result": execution.result,
                "results_if_won": {str(v): expected_result(salt, v) for v in racers},
            }
        )
    return outcomes


def check_race(outcomes: list[dict[str, Any]]) -> None:
    """Per wait: one racer won, the other got a typed state error, and the execution went on
    with the winner's value (not overwritten by the loser's)."""
    for outcome in outcomes:
        answers = outcome["answers"]
        assert sorted(answers.values()) == ["invalid_state", "ok"], outcome
        winner = next(value for value, got in answers.items() if got == "ok")
        assert outcome["status"] == "completed", outcome
        assert outcome["result"] == outcome["results_if_won"][winner], outcome


def racer_config(value: int) -> dict[str, str]:
    """The environment of a racer in a config dir of its own next to this process's one (a
    client of a server: each client process keeps its own ZenML config)."""
    config = os.environ["KITARU_CONFIG_PATH"]
    return {**os.environ, "KITARU_CONFIG_PATH": f"{config}-racer-{value}"}
