"""A client of the MariaDB server tier runs the concurrency scenarios; prints their outcomes.

``python mariadb_concurrency.py WORKDIR EXECUTIONS STARTERS RACES``, in an environment from
``ServerTier.client_env``: the scenarios of ``flows_scale/concurrency.py`` run here against
the ZenML server (their detached workers, forked from this process's warm pool, inherit the
connection), and the racers each get a config dir of their own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from flows_scale import concurrency  # noqa: E402

from kitaru_core.runtime import detach  # noqa: E402

# Bounds a hang of one step on a loaded 2-core machine; nothing asserts on durations.
DEADLINE = 300.0


def main(workdir: str, executions: int, starters: int, races: int) -> None:
    detach.warm_zygote()
    outcomes = {
        "crowd": concurrency.crowd(workdir, executions, starters, deadline=DEADLINE),
        "race": concurrency.race(
            workdir,
            Path(workdir) / "race",
            races,
            concurrency.racer_config,
            deadline=DEADLINE,
        ),
    }
    print("OUTCOMES " + json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
