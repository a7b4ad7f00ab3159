"""Crash safety (SPEC §4): a process that dies mid-execution leaves it ``failed`` with a reason,
never ``running`` forever, and ``retry`` finishes it without running finished work twice.

The flow is four checkpoints of about a second each; every body appends ``start`` when it begins
and ``end`` just before it returns, so the marker files show exactly what ran, and how often.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from flows_exec.common import marks
from flows_exec.support import (
    FLOWS_DIR,
    new_salt,
    poll,
    process_gone,
    start,
    until_finished,
    until_status,
)

from kitaru_core import KitaruClient, liveness
from kitaru_core.errors import KitaruExecutionError, KitaruStateError
from kitaru_core.models import ExecutionStatus
from kitaru_core.runtime.handle import FlowHandle
from kitaru_core.services import execution_control, executions

STEPS = 4
ANSWER = {"decision": "approve", "reviewer": {"name": "ada"}}


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    folder = tmp_path / "marks"
    folder.mkdir()
    return str(folder)


def _ticks(workdir: str) -> list[list[str]]:
    return [marks(workdir, f"tick{index}") for index in range(STEPS)]


def test_a_killed_worker_is_failed_and_retry_loses_and_repeats_nothing(
    zenml_client: Any, workdir: str
) -> None:
    exec_id = start(
        "slow",
        "ticking_flow",
        workdir=workdir,
        salt=new_salt(),
        steps=STEPS,
        delay=1.0,
        hold=2,  # the third checkpoint takes a minute the first time: it is killed in it
        hold_delay=60.0,
    )
    poll(lambda: marks(workdir, "tick2"), "the third checkpoint to start")
    worker = liveness.read(exec_id)
    assert worker is not None and worker["pid"] != os.getpid()
    os.kill(int(worker["pid"]), signal.SIGKILL)
    assert process_gone(int(worker["pid"]), timeout=10)
    before_retry = _ticks(workdir)
    assert before_retry == [["start", "end"], ["start", "end"], ["start"], []]

    crashed = KitaruClient().executions.get(exec_id)

    assert crashed.status == ExecutionStatus.FAILED  # detected on this read, not "running"
    assert crashed.status_reason is not None
    assert "interrupted" in crashed.status_reason
    assert str(worker["pid"]) in crashed.status_reason
    assert "retry" in crashed.status_reason
    statuses = {call.call_id: call.status for call in crashed.checkpoints}
    assert statuses == {
        "tick0": ExecutionStatus.COMPLETED,
        "tick1": ExecutionStatus.COMPLETED,
        "tick2": ExecutionStatus.FAILED,
    }
    assert crashed.failure is not None and crashed.failure.checkpoint == "tick2"
    # Committed outputs survived the crash.
    outputs = {call.call_id: call.outputs for call in crashed.checkpoints}
    assert outputs["tick0"] and outputs["tick1"]
    assert executions.get(exec_id).status == ExecutionStatus.FAILED  # stays failed

    started = execution_control.retry(exec_id)
    retried = until_finished(started.exec_id)

    assert retried.status == ExecutionStatus.COMPLETED
    assert retried.result == list(range(STEPS))
    assert retried.original_exec_id == exec_id
    cached = {call.call_id: call.cached for call in retried.checkpoints}
    assert cached == {"tick0": True, "tick1": True, "tick2": False, "tick3": False}
    # Each finished checkpoint ran exactly once in total; the interrupted one ran again.
    assert _ticks(workdir) == [
        ["start", "end"],
        ["start", "end"],
        ["start", "start", "end"],
        ["start", "end"],
    ]


def test_a_killed_script_that_called_run_is_failed(zenml_client: Any, workdir: str) -> None:
    """The same for a flow run in a plain script's own process (no detached worker)."""
    salt = new_salt()
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(FLOWS_DIR.parent)!r})
        from flows_exec.slow import ticking_flow
        ticking_flow.run({workdir!r}, {salt!r}, steps={STEPS}, delay=1.0)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        poll(lambda: marks(workdir, "tick1"), "the second checkpoint to start")
    finally:
        process.kill()
        process.wait(timeout=30)

    # The first read here is a list: it detects the crash too.
    mine = [
        execution
        for execution in executions.list_executions(flow="ticking_flow", limit=50)[0]
        if (record := liveness.read(execution.exec_id)) and record["pid"] == process.pid
    ]
    assert len(mine) == 1
    assert mine[0].status == ExecutionStatus.FAILED
    assert "interrupted" in (mine[0].status_reason or "")
    crashed = executions.get(mine[0].exec_id)
    assert crashed.status == ExecutionStatus.FAILED
    assert f"pid {process.pid}" in (crashed.status_reason or "")
    assert marks(workdir, "tick0") == ["start", "end"]
    assert {call.call_id: call.status for call in crashed.checkpoints}["tick0"] == (
        ExecutionStatus.COMPLETED
    )


def test_a_worker_killed_while_waiting_is_failed_and_retry_asks_again(
    zenml_client: Any, workdir: str
) -> None:
    salt = new_salt()
    exec_id = start("approval", "signoff_flow", workdir=workdir, salt=salt, timeout=60)
    until_status(exec_id, "waiting")
    worker = liveness.read(exec_id)
    assert worker is not None
    os.kill(int(worker["pid"]), signal.SIGKILL)
    assert process_gone(int(worker["pid"]), timeout=10)

    # A handle following the execution sees it fail (it does not wait for ever).
    with pytest.raises(KitaruExecutionError) as failed:
        FlowHandle(exec_id).wait(timeout=60)
    assert failed.value.exec_id == exec_id
    crashed = executions.get(exec_id)
    assert crashed.status == ExecutionStatus.FAILED
    assert "interrupted" in (crashed.status_reason or "")
    assert crashed.pending_wait is None
    # Its wait can no longer be answered: not listed, and an answer is a state error that
    # changes nothing (no resume is started, the execution stays failed).
    assert exec_id not in {wait.exec_id for wait in executions.waiting()}
    with pytest.raises(KitaruStateError) as caught:
        executions.input(exec_id, wait="approval", value=ANSWER)
    assert caught.value.details["status"] == "failed"
    assert "retry" in caught.value.hint.lower()
    with pytest.raises(KitaruStateError):
        executions.abort_wait(exec_id, wait="approval")
    assert executions.get(exec_id).status == ExecutionStatus.FAILED

    retried = execution_control.retry(exec_id).exec_id
    asked = until_status(retried, "waiting")
    assert asked.pending_wait is not None and asked.pending_wait.name == "approval"
    executions.input(retried, wait="approval", value=ANSWER)
    done = until_finished(retried)
    assert done.status == ExecutionStatus.COMPLETED
    assert done.result == f"draft {salt}: approve"
    assert marks(workdir, "write_draft") == ["ran"]  # committed before the crash, kept
