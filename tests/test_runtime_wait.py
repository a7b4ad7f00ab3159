"""``wait()`` and where the runtime primitives may be called (SPEC §1.2).

A wait is answered from the test with the ZenML client, either while the flow still waits in a
background thread (``flow.run()`` runs in this process) or after it paused (then the flow is
resumed here with ``resume_in_process``). Flows live in ``tests/flows/waiting.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from flows import basic, waiting
from runtime_helpers import (  # noqa: F401  (the *_fixture names are fixtures)
    REPO_ROOT,
    BackgroundRun,
    checkpoint_calls,
    execution,
    new_salt,
    only_wait_of,
    pending_wait,
    run_count,
    workdir_fixture,
)

from kitaru_core import (
    FlowHandle,
    KitaruContextError,
    KitaruExecutionError,
    log,
    save,
    wait,
)
from kitaru_core.models import ExecutionStatus

# While the test answers, the flow waits at most this long (it continues as soon as answered).
WAIT_TIMEOUT = 20

ANSWERS: dict[str, tuple[Any, Any]] = {
    # kind: (what is sent, what the flow gets back)
    "bool": (False, False),
    "int": (7, 7),
    "float": (2.5, 2.5),
    "str": ("ship it", "ship it"),
    "list": ([1, "two"], [1, "two"]),
    "dict": ({"k": [1, 2]}, {"k": [1, 2]}),
    "model": (
        {"approved": True, "score": 9},
        waiting.Review(approved=True, score=9, comment=""),
    ),
    "json_schema": ({"n": 3, "label": "x"}, {"n": 3, "label": "x"}),
}


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_a_typed_answer_comes_back_while_the_flow_waits(zenml_client: Any, kind: str) -> None:
    sent, expected = ANSWERS[kind]
    salt = new_salt()
    background = BackgroundRun(waiting.typed_wait_flow, kind, salt, timeout=WAIT_TIMEOUT)
    condition = pending_wait(zenml_client, salt)
    assert condition.name == "answer"
    assert condition.question == f"Answer with a {kind}"
    assert condition.run_metadata == {"salt": salt}
    exec_id = str(condition.run.id)
    assert FlowHandle(exec_id).status == ExecutionStatus.WAITING

    zenml_client.resolve_run_wait_condition(condition.id, result=sent)
    handle = background.join()
    assert handle.exec_id == exec_id
    value = handle.wait(timeout=30)
    assert type(value) is type(expected)
    assert value == expected


def test_the_wait_schema_is_visible_as_json_schema(zenml_client: Any) -> None:
    handle = waiting.typed_wait_flow.run("model", new_salt(), timeout=0)
    assert handle.status == ExecutionStatus.WAITING
    condition = only_wait_of(zenml_client, handle.exec_id)
    assert condition.data_schema == waiting.Review.model_json_schema()

    other = waiting.typed_wait_flow.run("json_schema", new_salt(), timeout=0)
    assert only_wait_of(zenml_client, other.exec_id).data_schema == waiting.NUMBER_SCHEMA


def test_an_answer_after_the_timeout_resumes_the_paused_flow(zenml_client: Any) -> None:
    from kitaru_core.backend.control import resume_in_process

    handle = waiting.typed_wait_flow.run("model", new_salt(), timeout=0)
    assert handle.status == ExecutionStatus.WAITING
    condition = only_wait_of(zenml_client, handle.exec_id)
    zenml_client.resolve_run_wait_condition(
        condition.id, result={"approved": False, "score": 2, "comment": "redo"}
    )
    resume_in_process(handle.exec_id)
    value = handle.wait(timeout=30)
    assert isinstance(value, waiting.Review)
    assert value == waiting.Review(approved=False, score=2, comment="redo")


def test_resuming_does_not_run_finished_checkpoints_again(
    zenml_client: Any, workdir: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from kitaru_core.backend.control import resume_in_process

    salt = new_salt()
    handle = waiting.resumable_flow.run(workdir, salt, timeout=0)
    assert handle.status == ExecutionStatus.WAITING
    assert basic.calls(workdir, "prepare") == 1
    assert basic.calls(workdir, "finish") == 0
    condition = only_wait_of(zenml_client, handle.exec_id)
    assert condition.question == "Approve the draft?"
    zenml_client.resolve_run_wait_condition(condition.id, result=True)
    resume_in_process(handle.exec_id)

    assert handle.wait(timeout=30) == f"draft {salt} -> True"
    terminal = capfd.readouterr().err
    assert f"[kitaru] flow 'resumable_flow' completed — exec_id {handle.exec_id}" in terminal
    assert "[kitaru] checkpoint 'finish' started" in terminal
    # prepare has cache=False: only the durable record kept it from running again.
    assert basic.calls(workdir, "prepare") == 1
    assert basic.calls(workdir, "finish") == 1
    calls = checkpoint_calls(handle.exec_id)
    assert set(calls) == {"prepare", "finish"}
    assert calls["prepare"].cached is False


def test_a_wait_without_schema_is_a_gate_returning_none(zenml_client: Any) -> None:
    salt = new_salt()
    background = BackgroundRun(waiting.gate_flow, salt, timeout=WAIT_TIMEOUT)
    condition = pending_wait(zenml_client, salt)
    assert condition.data_schema is None
    zenml_client.resolve_run_wait_condition(condition.id)
    assert background.join().wait(timeout=30) == "passed with None"


def test_aborting_a_gate_cancels_the_execution(zenml_client: Any) -> None:
    from zenml.enums import RunWaitConditionResolution

    handle = waiting.gate_flow.run(new_salt(), timeout=0)
    condition = only_wait_of(zenml_client, handle.exec_id)
    zenml_client.resolve_run_wait_condition(
        condition.id, resolution=RunWaitConditionResolution.ABORT
    )
    assert handle.status == ExecutionStatus.CANCELLED
    with pytest.raises(KitaruExecutionError) as info:
        handle.wait(timeout=10)
    assert "cancelled" in info.value.message


def test_aborting_while_the_flow_waits_cancels_it(zenml_client: Any) -> None:
    from zenml.enums import RunWaitConditionResolution

    salt = new_salt()
    background = BackgroundRun(waiting.gate_flow, salt, timeout=WAIT_TIMEOUT)
    condition = pending_wait(zenml_client, salt)
    zenml_client.resolve_run_wait_condition(
        condition.id, resolution=RunWaitConditionResolution.ABORT
    )
    handle = background.join()
    assert handle.status == ExecutionStatus.CANCELLED
    assert execution(handle.exec_id).result is None


def test_except_exception_in_user_code_does_not_swallow_the_pause(zenml_client: Any) -> None:
    handle = waiting.swallowing_flow.run(new_salt(), timeout=0)
    assert handle.status == ExecutionStatus.WAITING
    ex = execution(handle.exec_id)
    assert ex.status == ExecutionStatus.WAITING
    assert ex.result is None
    assert len(zenml_client.list_run_wait_conditions(pipeline_run=handle.exec_id).items) == 1


def test_the_approval_example_publishes_when_approved(zenml_client: Any) -> None:
    from kitaru_core.runtime.loader import load_flow

    flow, _ = load_flow(str(REPO_ROOT / "examples" / "approval.py") + ":approval_flow")
    topic = f"topic {new_salt()}"
    handle = flow.run(topic, timeout=0)
    assert handle.status == ExecutionStatus.WAITING
    condition = only_wait_of(zenml_client, handle.exec_id)
    assert condition.name == "approval"
    assert condition.question == f"Publish this draft? Five things to know about {topic}."
    zenml_client.resolve_run_wait_condition(
        condition.id, result={"approved": True, "note": "ship it"}
    )
    from kitaru_core.backend.control import resume_in_process

    resume_in_process(handle.exec_id)
    assert handle.wait(timeout=30) == (f"published: Five things to know about {topic}. (ship it)")
    assert set(checkpoint_calls(handle.exec_id)) == {"draft", "publish"}


# --- where the primitives may be called ----------------------------------------------------


def test_wait_inside_a_checkpoint_is_a_context_error(zenml_client: Any) -> None:
    handle = waiting.wait_in_checkpoint_flow.run(new_salt())
    with pytest.raises(KitaruExecutionError) as info:
        handle.wait(timeout=30)
    failure = info.value.failure
    assert failure["checkpoint"] == "wait_in_checkpoint"
    assert failure["exception_type"] == "KitaruContextError"
    assert "inside a checkpoint" in failure["message"]
    assert zenml_client.list_run_wait_conditions(pipeline_run=handle.exec_id).total == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: wait(name="x", schema=bool),
        lambda: log(stage="nowhere"),
        lambda: save("thing", 1),
    ],
    ids=["wait", "log", "save"],
)
def test_primitives_outside_a_flow_are_context_errors(zenml_client: Any, call: Any) -> None:
    before = run_count(zenml_client)
    with pytest.raises(KitaruContextError) as info:
        call()
    assert info.value.code == "context_error"
    assert "while a flow is running" in info.value.message
    assert info.value.hint and "@flow" in info.value.hint
    assert run_count(zenml_client) == before


def test_a_checkpoint_that_waits_called_outside_a_flow_is_a_context_error() -> None:
    # Outside a flow the checkpoint is a plain call, so its wait() is "outside a flow".
    with pytest.raises(KitaruContextError):
        waiting.wait_in_checkpoint(new_salt())


def test_an_unsupported_wait_schema_fails_the_flow_with_a_usage_error(zenml_client: Any) -> None:
    handle = waiting.bad_schema_flow.run(new_salt())
    with pytest.raises(KitaruExecutionError) as info:
        handle.wait(timeout=30)
    assert "KitaruUsageError" in str(info.value)
    assert "must be bool, int, float, str, list, dict" in str(info.value)
    assert zenml_client.list_run_wait_conditions(pipeline_run=handle.exec_id).total == 0
