"""Concurrency without loss on a ZenML server on MariaDB (issue 19, the server half).

The scenarios of ``test_concurrency_local.py`` (``flows_scale/concurrency.py``), run by a client
process of the MariaDB tier (``server_tier/mariadb_concurrency.py``): its detached workers and
its racers talk to the ZenML server over HTTP, and the server writes to MariaDB.

- Eight concurrent starters launch eight executions of the ten-checkpoint flow, two of which
  wait for input, answered concurrently: every execution completes with the right result (no
  lost answer), every checkpoint body ran exactly once (marker files), and no worker met a
  deadlock or a lock wait timeout.
- Two processes race to answer the same waits: one wins, the other gets ``invalid_state``,
  and the execution goes on with the winner's value.

Smaller than ``benchmarks/scale.py --store mariadb`` (64 executions), to fit the CI budget.
The tier (one ``mariadbd``, one ZenML server) is shared with ``test_server_mariadb.py``.
Skipped when ``mariadbd`` is not on PATH.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flows_scale import concurrency
from server_tier.mariadb_tier import ServerTier, mariadbd

pytest_plugins = ["server_tier.shared"]
pytestmark = pytest.mark.skipif(
    mariadbd() is None,
    reason="server tier on MariaDB: mariadbd not on PATH (apt-get install mariadb-server)",
)

SCRIPT = Path(__file__).resolve().parent / "server_tier" / "mariadb_concurrency.py"
EXECUTIONS = 8
STARTERS = 8
RACES = 2
RUN_TIMEOUT = 900  # bounds a hang of the client process; no test asserts on durations


def _outcomes(tier: ServerTier, workdir: Path) -> dict[str, Any]:
    env = tier.client_env(f"concurrency-{workdir.name}", via_env=True)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(workdir), str(EXECUTIONS), str(STARTERS), str(RACES)],
        env=env,
        cwd=SCRIPT.parent,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, f"the concurrency client failed:\n{done.stderr[-4000:]}"
    line = next(line for line in done.stdout.splitlines() if line.startswith("OUTCOMES "))
    outcomes: dict[str, Any] = json.loads(line.removeprefix("OUTCOMES "))
    return outcomes


def test_concurrency_on_mariadb_loses_nothing(mariadb_tier: ServerTier, tmp_path: Path) -> None:
    # One test (one client process for both scenarios): the client's warm pool and its
    # connection to the server are paid for once.
    workdir = tmp_path / "marks"
    workdir.mkdir()
    outcomes = _outcomes(mariadb_tier, workdir)

    concurrency.check_crowd(outcomes["crowd"], EXECUTIONS)
    asked = [o for o in outcomes["crowd"] if not o["expected"].endswith(":None")]
    assert len(asked) == 2  # two of the eight waited and got their own answer

    concurrency.check_race(outcomes["race"])
    assert len(outcomes["race"]) == RACES
