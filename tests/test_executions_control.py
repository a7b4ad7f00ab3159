"""Running executions again and stopping them: retry, replay and cancel (SPEC §4).

Every checkpoint of the flows used here appends to a marker file, so the tests count how often
each body really ran — the proof that reused checkpoints are not re-run and that live ones are
not served from the cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flows_exec import approval, pipeline
from flows_exec.common import marks
from flows_exec.support import (
    executions_of,
    new_salt,
    poll,
    process_gone,
    start,
    until_finished,
)

from kitaru_core import KitaruClient, liveness
from kitaru_core.errors import KitaruStateError, KitaruUsageError, KitaruValidationError
from kitaru_core.models import ExecutionStatus, ReplayPlan, StartedExecution
from kitaru_core.runtime.handle import FlowHandle
from kitaru_core.services import execution_control, executions

CALLS = ["fetch", "analyze", "summarize", "publish"]


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    folder = tmp_path / "marks"
    folder.mkdir()
    return str(folder)


def _ran(workdir: str) -> dict[str, int]:
    return {call: len(marks(workdir, call)) for call in CALLS}


def _linked_to(exec_id: str, flow: str) -> list[str]:
    return [e.exec_id for e in executions_of(flow) if e.original_exec_id == exec_id]


# --- retry ------------------------------------------------------------------------------------


def test_retry_of_a_failed_execution_reuses_completed_checkpoints(
    zenml_client: Any, workdir: str
) -> None:
    salt = new_salt()
    failed = pipeline.fragile_upload_flow.run(workdir, salt)
    before = executions.get(failed.exec_id)
    assert before.status == ExecutionStatus.FAILED
    assert before.failure is not None and before.failure.checkpoint == "fragile"
    assert before.failure.exception_type == "ConnectionError"
    assert marks(workdir, "gather") == ["ran"]

    (Path(workdir) / "fixed").touch()  # the user fixes the cause
    started = execution_control.retry(failed.exec_id)

    assert isinstance(started, StartedExecution)
    assert started.exec_id != failed.exec_id
    assert started.flow == "fragile_upload_flow"
    retried = until_finished(started.exec_id)
    assert retried.status == ExecutionStatus.COMPLETED
    assert retried.result == f"processed gathered {salt}"
    assert retried.original_exec_id == failed.exec_id
    calls = {call.call_id: call for call in retried.checkpoints}
    assert calls["gather"].cached is True
    assert calls["fragile"].cached is False
    assert marks(workdir, "gather") == ["ran"]  # ran once in total
    assert marks(workdir, "fragile") == ["ran", "ran"]
    # The failed execution stays as it was: the retry is a new, linked execution.
    assert executions.get(failed.exec_id).status == ExecutionStatus.FAILED
    assert _linked_to(failed.exec_id, "fragile_upload_flow") == [started.exec_id]


def test_retry_through_the_client_returns_a_handle(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    failed = pipeline.fragile_upload_flow.run(workdir, salt)
    (Path(workdir) / "fixed").touch()
    handle = KitaruClient().executions.retry(failed.exec_id)
    assert isinstance(handle, FlowHandle)
    assert handle.wait(timeout=120) == f"processed gathered {salt}"
    assert marks(workdir, "gather") == ["ran"]


def test_retry_of_a_completed_execution_is_a_state_error(zenml_client: Any, workdir: str) -> None:
    done = pipeline.research_report_flow.run(workdir, new_salt())
    assert done.status == ExecutionStatus.COMPLETED
    count = len(executions_of("research_report_flow"))

    with pytest.raises(KitaruStateError) as caught:
        execution_control.retry(done.exec_id)
    error = caught.value
    assert error.code == "invalid_state"
    assert error.details["status"] == "completed"
    assert "replay" in error.hint
    assert len(executions_of("research_report_flow")) == count  # nothing started
    assert _linked_to(done.exec_id, "research_report_flow") == []
    assert _ran(workdir) == dict.fromkeys(CALLS, 1)


# --- replay -----------------------------------------------------------------------------------


@pytest.fixture
def reported(zenml_client: Any, workdir: str) -> dict[str, str]:
    """A completed four-checkpoint execution: fetch → analyze → summarize → publish."""
    topic = f"topic-{new_salt()}"
    handle = pipeline.research_report_flow.run(workdir, topic)
    assert handle.wait(timeout=60) == f"published: facts about {topic} (3 words)"
    return {"exec_id": handle.exec_id, "topic": topic, "workdir": workdir}


def test_replay_dry_run_returns_the_plan_and_starts_nothing(reported: dict[str, str]) -> None:
    count = len(executions_of("research_report_flow"))
    plan = execution_control.replay(reported["exec_id"], from_="summarize", dry_run=True)
    assert plan == ReplayPlan(
        from_checkpoint="summarize",
        reused=["fetch", "analyze"],
        overridden=[],
        rerun=["summarize", "publish"],
    )
    client_plan = KitaruClient().executions.replay(
        reported["exec_id"],
        overrides={"checkpoint.analyze": {"facts": "x", "words": 1}},
        dry_run=True,
    )
    assert isinstance(client_plan, ReplayPlan)
    assert client_plan.reused == ["fetch"]
    assert client_plan.overridden == ["analyze"]
    assert client_plan.rerun == ["summarize", "publish"]
    assert len(executions_of("research_report_flow")) == count
    assert _ran(reported["workdir"]) == dict.fromkeys(CALLS, 1)


def test_replay_from_the_middle_reuses_before_and_runs_the_rest_live(
    reported: dict[str, str],
) -> None:
    original = reported["exec_id"]
    started = execution_control.replay(original, from_="summarize")
    assert isinstance(started, StartedExecution)
    replayed = until_finished(started.exec_id)

    assert replayed.status == ExecutionStatus.COMPLETED
    assert replayed.original_exec_id == original
    assert replayed.result == f"published: facts about {reported['topic']} (3 words)"
    # Same inputs as before, so a cached run would not have run anything: the counts prove
    # that summarize and publish really ran again.
    assert _ran(reported["workdir"]) == {"fetch": 1, "analyze": 1, "summarize": 2, "publish": 2}
    cached = {call.call_id: call.cached for call in replayed.checkpoints}
    assert cached == {"fetch": True, "analyze": True, "summarize": False, "publish": False}
    assert executions.get(original).status == ExecutionStatus.COMPLETED


def test_replay_with_an_override_does_not_run_that_checkpoint(reported: dict[str, str]) -> None:
    handle = KitaruClient().executions.replay(
        reported["exec_id"], overrides={"checkpoint.summarize": "GIVEN SUMMARY"}
    )
    assert isinstance(handle, FlowHandle)
    assert handle.wait(timeout=120) == "published: GIVEN SUMMARY"

    assert _ran(reported["workdir"]) == {"fetch": 1, "analyze": 1, "summarize": 1, "publish": 2}
    assert marks(reported["workdir"], "publish")[-1] == "GIVEN SUMMARY"  # downstream saw it
    replayed = executions.get(handle.exec_id)
    assert replayed.original_exec_id == reported["exec_id"]
    assert "summarize" not in {call.call_id for call in replayed.checkpoints}


def test_replay_with_new_flow_inputs(reported: dict[str, str]) -> None:
    topic = f"other-{new_salt()}"
    started = execution_control.replay(
        reported["exec_id"], from_="fetch", flow_inputs={"topic": topic}
    )
    assert isinstance(started, StartedExecution)
    replayed = until_finished(started.exec_id)
    assert replayed.status == ExecutionStatus.COMPLETED
    assert replayed.result == f"published: facts about {topic} (3 words)"
    assert _ran(reported["workdir"]) == dict.fromkeys(CALLS, 2)


def test_replaying_a_replay_keeps_its_overrides_before_the_replay_point(
    reported: dict[str, str],
) -> None:
    first = execution_control.replay(
        reported["exec_id"], overrides={"checkpoint.summarize": "GIVEN SUMMARY"}
    )
    assert isinstance(first, StartedExecution)
    assert until_finished(first.exec_id).result == "published: GIVEN SUMMARY"

    plan = execution_control.replay(first.exec_id, from_="publish", dry_run=True)
    assert isinstance(plan, ReplayPlan)
    assert plan.reused == ["fetch", "analyze", "summarize"]  # the overridden call, in its place
    assert plan.rerun == ["publish"]
    second = execution_control.replay(first.exec_id, from_="publish")
    assert isinstance(second, StartedExecution)
    replayed = until_finished(second.exec_id)
    assert replayed.result == "published: GIVEN SUMMARY"
    assert replayed.original_exec_id == first.exec_id
    assert marks(reported["workdir"], "summarize") == ["ran"]


def test_a_chain_of_three_replays_keeps_every_earlier_override(
    reported: dict[str, str],
) -> None:
    workdir = reported["workdir"]
    first = execution_control.replay(
        reported["exec_id"], overrides={"checkpoint.analyze": {"facts": "GIVEN FACTS", "words": 9}}
    )
    assert isinstance(first, StartedExecution)
    assert until_finished(first.exec_id).result == "published: GIVEN FACTS (9 words)"

    # The second replay overrides a later call; the first replay's override comes along.
    second_plan = execution_control.replay(
        first.exec_id, overrides={"checkpoint.summarize": "SECOND"}, dry_run=True
    )
    assert second_plan == ReplayPlan(
        from_checkpoint="summarize",
        reused=["fetch", "analyze"],
        overridden=["summarize"],
        rerun=["publish"],
    )
    second = execution_control.replay(first.exec_id, overrides={"checkpoint.summarize": "SECOND"})
    assert isinstance(second, StartedExecution)
    assert until_finished(second.exec_id).result == "published: SECOND"

    # The third replays only the last call: both earlier overrides stay in place.
    third_plan = execution_control.replay(second.exec_id, from_="publish", dry_run=True)
    assert isinstance(third_plan, ReplayPlan)
    assert third_plan.reused == ["fetch", "analyze", "summarize"]
    third = execution_control.replay(second.exec_id, from_="publish")
    assert isinstance(third, StartedExecution)
    assert until_finished(third.exec_id).result == "published: SECOND"

    assert _ran(workdir) == {"fetch": 1, "analyze": 1, "summarize": 2, "publish": 4}
    assert marks(workdir, "publish")[1:] == ["GIVEN FACTS (9 words)", "SECOND", "SECOND"]
    # Replaying from an overridden call runs it live again (it is the replay point).
    fourth = execution_control.replay(third.exec_id, from_="summarize")
    assert isinstance(fourth, StartedExecution)
    assert until_finished(fourth.exec_id).result == "published: GIVEN FACTS (9 words)"
    assert _ran(workdir) == {"fetch": 1, "analyze": 1, "summarize": 3, "publish": 5}


def test_replay_errors_change_nothing(reported: dict[str, str]) -> None:
    exec_id = reported["exec_id"]
    count = len(executions_of("research_report_flow"))

    with pytest.raises(KitaruValidationError) as unknown_from:
        execution_control.replay(exec_id, from_="summarise")
    assert set(unknown_from.value.fields) == {"from_"}
    assert unknown_from.value.details["valid"] == CALLS
    for call in CALLS:
        assert call in unknown_from.value.message

    with pytest.raises(KitaruValidationError) as unknown_override:
        execution_control.replay(exec_id, overrides={"checkpoint.nope": 1})
    assert set(unknown_override.value.fields) == {"overrides"}
    assert unknown_override.value.details["valid"] == CALLS

    with pytest.raises(KitaruValidationError) as bad_key:
        execution_control.replay(exec_id, overrides={"summarize": "x"})
    assert "checkpoint.<name>" in bad_key.value.message

    with pytest.raises(KitaruUsageError) as nothing:
        execution_control.replay(exec_id)
    assert nothing.value.code == "usage_error"

    with pytest.raises(KitaruUsageError):
        execution_control.replay(exec_id, from_="fetch", flow_inputs=["dogs"])  # type: ignore[arg-type]

    assert len(executions_of("research_report_flow")) == count
    assert _ran(reported["workdir"]) == dict.fromkeys(CALLS, 1)


def test_replay_of_a_waiting_execution_is_a_state_error(zenml_client: Any, workdir: str) -> None:
    handle = approval.signoff_flow.run(workdir, new_salt(), timeout=0)
    try:
        with pytest.raises(KitaruStateError) as caught:
            execution_control.replay(handle.exec_id, from_="write_draft")
        assert caught.value.details["status"] == "waiting"
        assert _linked_to(handle.exec_id, "signoff_flow") == []
    finally:
        executions.abort_wait(handle.exec_id)


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_stops_a_running_worker_at_the_next_checkpoint(
    zenml_client: Any, workdir: str
) -> None:
    exec_id = start(
        "slow",
        "ticking_flow",
        workdir=workdir,
        salt=new_salt(),
        steps=6,
        delay=1.0,
        hold=1,  # the second checkpoint takes 4 s: the cancel arrives while it runs
        hold_delay=4.0,
    )
    poll(lambda: marks(workdir, "tick1"), "the second checkpoint to start")
    worker = liveness.read(exec_id)
    assert worker is not None and worker["pid"] != os.getpid()

    cancelled = KitaruClient().executions.cancel(exec_id)

    assert cancelled.status == ExecutionStatus.CANCELLED
    assert cancelled.status_reason == "Cancelled by request."
    assert process_gone(int(worker["pid"]))
    final = executions.get(exec_id)
    assert final.status == ExecutionStatus.CANCELLED
    statuses = {call.call_id: call.status for call in final.checkpoints}
    # The checkpoint that was running finished (a safe point is between checkpoints); the
    # completed ones stay completed; none after them started.
    assert statuses == {"tick0": ExecutionStatus.COMPLETED, "tick1": ExecutionStatus.COMPLETED}
    assert all(call.outputs for call in final.checkpoints)
    assert marks(workdir, "tick0") == ["start", "end"]
    assert marks(workdir, "tick1") == ["start", "end"]
    assert all(marks(workdir, f"tick{index}") == [] for index in range(2, 6))


def test_cancel_kills_a_worker_that_does_not_stop_within_the_grace_period(
    zenml_client: Any, workdir: str
) -> None:
    exec_id = start(
        "slow", "ticking_flow", workdir=workdir, salt=new_salt(), steps=2, hold=0, hold_delay=60.0
    )
    poll(lambda: marks(workdir, "tick0"), "the first checkpoint to start")
    worker = liveness.read(exec_id)
    assert worker is not None

    cancelled = execution_control.cancel(exec_id, grace=0.5)

    assert cancelled.status == ExecutionStatus.CANCELLED
    assert "grace period" in (cancelled.status_reason or "")
    assert process_gone(int(worker["pid"]), timeout=5)
    assert marks(workdir, "tick0") == ["start"]  # killed inside the checkpoint
    assert [call.status for call in cancelled.checkpoints] == [ExecutionStatus.CANCELLED]
    assert executions.get(exec_id).status == ExecutionStatus.CANCELLED  # not "failed" later


def test_cancel_a_waiting_execution(zenml_client: Any, workdir: str) -> None:
    paused = approval.signoff_flow.run(workdir, new_salt(), timeout=0)
    cancelled = execution_control.cancel(paused.exec_id)
    assert cancelled.status == ExecutionStatus.CANCELLED
    assert cancelled.pending_wait is None
    assert paused.exec_id not in {wait.exec_id for wait in executions.waiting()}

    # Waiting with its answer recorded but not resumed: still cancellable.
    answered = approval.signoff_flow.run(workdir, new_salt(), timeout=0)
    executions.input(
        answered.exec_id,
        wait="approval",
        value={"decision": "approve", "reviewer": {"name": "ada"}},
        resume=False,
    )
    stopped = execution_control.cancel(answered.exec_id)
    assert stopped.status == ExecutionStatus.CANCELLED
    assert marks(workdir, "finalize") == []


def test_cancel_a_finished_execution_is_a_state_error(zenml_client: Any, workdir: str) -> None:
    done = pipeline.research_report_flow.run(workdir, new_salt())
    with pytest.raises(KitaruStateError) as caught:
        execution_control.cancel(done.exec_id)
    assert caught.value.code == "invalid_state"
    assert caught.value.details["status"] == "completed"
    assert "running or waiting" in caught.value.hint
    assert executions.get(done.exec_id).status == ExecutionStatus.COMPLETED
