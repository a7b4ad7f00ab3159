"""A flow that holds inside a checkpoint until a file appears (for the detached worker tests).

It proves that ``start_job`` hands the ``exec_id`` back while the execution is still running.
"""

from __future__ import annotations

import time
from pathlib import Path

from kitaru_core import checkpoint, flow

# A cap, so a test that forgets to open the gate does not leave a worker behind for long.
HOLD_LIMIT = 60.0


@checkpoint(cache=False)
def hold_until(gate_file: str) -> str:
    deadline = time.monotonic() + HOLD_LIMIT
    while not Path(gate_file).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gate_file} never appeared")
        time.sleep(0.05)
    return Path(gate_file).read_text()


@flow
def gated_flow(gate_file: str, salt: str) -> str:
    return f"released: {hold_until(gate_file)}"
