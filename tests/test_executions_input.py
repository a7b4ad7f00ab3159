"""Answering waits for real: input, abort_wait and resume (SPEC §1.2, §4).

A wait is answered either while its worker still polls it (the worker continues by itself) or
after the worker paused and exited (the answer starts a resume worker). Flows live in
``tests/flows_exec/approval.py``; each test passes its own salt and marker folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from flows_exec import approval, records
from flows_exec.common import marks
from flows_exec.support import (
    executions_of,
    new_salt,
    process_gone,
    start,
    until_finished,
    until_paused,
    until_status,
)

from kitaru_core import KitaruClient, liveness
from kitaru_core.errors import (
    KitaruNotFoundError,
    KitaruStateError,
    KitaruWaitValidationError,
)
from kitaru_core.models import ExecutionStatus
from kitaru_core.runtime.handle import FlowHandle
from kitaru_core.services import executions

GOOD = {"decision": "approve", "reviewer": {"name": "ada", "level": 2}, "notes": ["fine"]}
OTHER = {"decision": "reject", "reviewer": {"name": "bob"}}


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    folder = tmp_path / "marks"
    folder.mkdir()
    return str(folder)


def _pending_names(exec_id: str) -> list[str]:
    return [wait.name for wait in executions.waiting() if wait.exec_id == exec_id]


def test_an_answer_that_fails_the_schema_changes_nothing(zenml_client: Any, workdir: str) -> None:
    handle = approval.signoff_flow.run(workdir, new_salt(), timeout=0)
    exec_id = handle.exec_id
    try:
        assert executions.get(exec_id).status == ExecutionStatus.WAITING
        bad_answers = {
            "enum and nested required": (
                {"decision": "maybe", "reviewer": {"level": 1}},
                {"value.decision", "value.reviewer"},
            ),
            "nested type": (
                {"decision": "approve", "reviewer": {"name": "ada", "level": "high"}},
                {"value.reviewer.level"},
            ),
            "array item": (
                {"decision": "approve", "reviewer": {"name": "ada"}, "notes": ["ok", 3]},
                {"value.notes[1]"},
            ),
            "top-level required": ({"reviewer": {"name": "ada"}}, {"value"}),
            "top-level type": ("approve", {"value"}),
        }
        for label, (value, fields) in bad_answers.items():
            with pytest.raises(KitaruWaitValidationError) as caught:
                executions.input(exec_id, wait="approval", value=value)
            assert set(caught.value.fields) == fields, label
            assert caught.value.code == "wait_validation_error"

        # Nothing changed: the wait is still pending, no worker was started, nothing ran on.
        assert _pending_names(exec_id) == ["approval"]
        execution = executions.get(exec_id)
        assert execution.status == ExecutionStatus.WAITING
        assert execution.pending_wait is not None
        assert [call.call_id for call in execution.checkpoints] == ["write_draft"]
        record = liveness.read(exec_id)
        assert record is not None and record["pid"] == os.getpid()  # still only this process
        assert marks(workdir, "finalize") == []
    finally:
        executions.abort_wait(exec_id)


def test_a_gate_takes_no_value_but_continues_on_none(zenml_client: Any, workdir: str) -> None:
    handle = approval.go_gate_flow.run(workdir, new_salt(), timeout=0)
    with pytest.raises(KitaruWaitValidationError) as caught:
        executions.input(handle.exec_id, value=True)
    assert "gate" in caught.value.message
    assert _pending_names(handle.exec_id) == ["go"]

    executions.input(handle.exec_id, value=None)
    done = until_finished(handle.exec_id)
    assert done.status == ExecutionStatus.COMPLETED
    assert done.result.endswith(": go")
    assert marks(workdir, "write_draft") == ["ran"]  # not run again by the resume


def test_input_to_a_worker_still_polling_continues_it(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    exec_id = start("approval", "signoff_flow", workdir=workdir, salt=salt, timeout=60)
    waiting = until_status(exec_id, "waiting")
    assert waiting.pending_wait is not None and waiting.pending_wait.name == "approval"
    worker = liveness.read(exec_id)
    assert worker is not None and worker["pid"] != os.getpid()

    # resume=False cannot hold back a worker that polls: refused, nothing recorded.
    with pytest.raises(KitaruStateError) as refused:
        KitaruClient().executions.input(exec_id, "approval", GOOD, resume=False)
    assert refused.value.details["worker_polling"] is True
    assert _pending_names(exec_id) == ["approval"]

    answered = executions.answer(exec_id, wait="approval", value=GOOD)
    assert answered.outcome == executions.AnswerOutcome.CONTINUES
    assert answered.execution.pending_wait is None
    done = until_finished(exec_id, timeout=60)

    assert done.status == ExecutionStatus.COMPLETED
    assert done.result == f"draft {salt}: approve"
    # The polling worker itself went on: no resume worker took over.
    after = liveness.read(exec_id)
    assert after is not None and after["pid"] == worker["pid"]
    assert marks(workdir, "write_draft") == ["ran"]
    assert marks(workdir, "finalize") == ["approve"]
    assert process_gone(int(worker["pid"]))

    # The same answer again is harmless (named or not); a different one is a state error.
    assert executions.input(exec_id, wait="approval", value=GOOD).status == "completed"
    assert executions.input(exec_id, value=GOOD).status == "completed"
    with pytest.raises(KitaruStateError) as caught:
        executions.input(exec_id, wait="approval", value=OTHER)
    assert caught.value.code == "invalid_state"
    assert caught.value.details["wait"] == "approval"
    with pytest.raises(KitaruStateError):
        executions.input(exec_id, value=OTHER)
    assert marks(workdir, "finalize") == ["approve"]
    assert executions.get(exec_id).status == ExecutionStatus.COMPLETED


def test_input_after_the_worker_paused_resumes_it(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    exec_id = start("approval", "signoff_flow", workdir=workdir, salt=salt, timeout=1)
    until_paused(exec_id)
    first_worker = liveness.read(exec_id)
    assert first_worker is not None
    assert process_gone(int(first_worker["pid"]))  # the paused worker released its process
    assert executions.get(exec_id).status == ExecutionStatus.WAITING

    answered = executions.answer(exec_id, wait="approval", value=GOOD)
    assert answered.outcome == executions.AnswerOutcome.RESUMING
    done = until_finished(exec_id)

    assert done.status == ExecutionStatus.COMPLETED
    assert done.result == f"draft {salt}: approve"
    resumer = liveness.read(exec_id)
    assert resumer is not None and resumer["pid"] not in (first_worker["pid"], os.getpid())
    assert marks(workdir, "write_draft") == ["ran"]  # completed checkpoint not re-run
    assert marks(workdir, "finalize") == ["approve"]
    assert [call.call_id for call in done.checkpoints] == ["write_draft", "finalize"]

    again = executions.input(exec_id, wait="approval", value=GOOD)
    assert again.status == ExecutionStatus.COMPLETED
    assert marks(workdir, "finalize") == ["approve"]  # no second resume


def test_input_to_an_execution_without_a_pending_wait(zenml_client: Any) -> None:
    handle = records.echo_flow.run(f"no-wait-{new_salt()}")
    with pytest.raises(KitaruStateError) as caught:
        executions.input(handle.exec_id, value=GOOD)
    assert caught.value.code == "invalid_state"
    assert "not waiting" in caught.value.message
    assert "waiting" in caught.value.hint
    with pytest.raises(KitaruNotFoundError) as named:
        executions.input(handle.exec_id, wait="approval", value=GOOD)
    assert named.value.details["wait"] == "approval"
    with pytest.raises(KitaruStateError):
        executions.abort_wait(handle.exec_id)
    assert executions.get(handle.exec_id).status == ExecutionStatus.COMPLETED


def test_abort_wait_cancels_the_execution(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    exec_id = start("approval", "signoff_flow", workdir=workdir, salt=salt, timeout=60)
    until_status(exec_id, "waiting")
    worker = liveness.read(exec_id)
    assert worker is not None

    KitaruClient().executions.abort_wait(exec_id, "approval")
    done = until_finished(exec_id)

    assert done.status == ExecutionStatus.CANCELLED
    assert done.pending_wait is None
    assert marks(workdir, "finalize") == []  # nothing after the wait ran
    assert process_gone(int(worker["pid"]))
    assert exec_id not in {wait.exec_id for wait in executions.waiting()}
    with pytest.raises(KitaruStateError):
        executions.abort_wait(exec_id, wait="approval")
    with pytest.raises(KitaruStateError):
        executions.input(exec_id, wait="approval", value=GOOD)
    assert executions.get(exec_id).status == ExecutionStatus.CANCELLED


def test_resume_state_errors_and_resume_after_input_without_resume(
    zenml_client: Any, workdir: str
) -> None:
    salt = new_salt()
    handle = approval.signoff_flow.run(workdir, salt, timeout=0)
    exec_id = handle.exec_id

    with pytest.raises(KitaruStateError) as pending:
        KitaruClient().executions.resume(exec_id)
    assert "still waiting for input" in pending.value.message
    assert "input" in pending.value.hint

    recorded = executions.input(exec_id, wait="approval", value=GOOD, resume=False)
    assert recorded.status == ExecutionStatus.WAITING  # recorded, not continued
    assert recorded.pending_wait is None
    assert executions.get(exec_id).status == ExecutionStatus.WAITING
    assert marks(workdir, "finalize") == []

    resumed = KitaruClient().executions.resume(exec_id)
    assert isinstance(resumed, FlowHandle) and resumed.exec_id == exec_id
    assert resumed.wait(timeout=120) == f"draft {salt}: approve"
    assert marks(workdir, "write_draft") == ["ran"]

    with pytest.raises(KitaruStateError) as finished:
        executions.resume(exec_id)
    assert finished.value.details["status"] == "completed"
    assert "retry" in finished.value.hint


def test_a_second_process_answers_the_wait(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    before = len(executions_of("signoff_flow"))
    exec_id = start("approval", "signoff_flow", workdir=workdir, salt=salt, timeout=60)
    until_status(exec_id, "waiting")

    script = textwrap.dedent(
        f"""
        import json
        from kitaru_core import KitaruClient

        client = KitaruClient()
        waiting = [w for w in client.executions.waiting() if w.exec_id == {exec_id!r}]
        answered = client.executions.input({exec_id!r}, waiting[0].name, {json.dumps(GOOD)})
        print(json.dumps({{"wait": waiting[0].name, "pending": answered.pending_wait}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KITARU_CONFIG_PATH": os.environ["KITARU_CONFIG_PATH"]},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"wait": "approval", "pending": None}

    finished = until_finished(exec_id)
    assert finished.status == ExecutionStatus.COMPLETED
    assert finished.result == f"draft {salt}: approve"
    assert len(executions_of("signoff_flow")) == before + 1  # answered, not re-started
