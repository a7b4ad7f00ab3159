"""The execution tools through the official MCP client, against this process's real store.

Flows (``tests/flows_mcp/agents.py``) run in real detached workers started by
``kitaru_executions_run``; the server may load code only from ``tests/flows_mcp``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _mcp_flows import FLOWS_DIR, greet_once, new_salt, run_count, settle, target
from _mcp_support import call, data, error
from flows_mcp.agents import marks

from kitaru_mcp.server import KitaruMCPServer, build_server


@pytest.fixture(scope="module")
def server(zenml_client: Any) -> KitaruMCPServer:
    return build_server("destructive", allow_paths=[FLOWS_DIR])


@pytest.fixture(scope="module")
def greeted(server: KitaruMCPServer) -> dict[str, Any]:
    return greet_once(server)


def _run(server: KitaruMCPServer, name: str, wait_seconds: float = 0, **args: Any) -> Any:
    arguments = {"target": target(name), "args": args, "wait_seconds": wait_seconds}
    return data(call(server, "kitaru_executions_run", arguments))


# ------------------------------------------------------------------------------------ run


def test_run_with_wait_seconds_follows_the_execution_with_progress(
    greeted: dict[str, Any],
) -> None:
    started, execution = greeted["started"], greeted["execution"]
    assert started["flow"] == "greet_flow" and started["waited_seconds"] > 0
    assert started["execution"]["exec_id"] == started["exec_id"]
    assert started["status"] == started["execution"]["status"] == "completed"
    assert "kitaru_executions_get" in started["next_step"]
    progress = greeted["progress"]
    assert progress and all(total == 60 for _, total, _ in progress)
    values = [value for value, _, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert "checkpoint" in (progress[-1][2] or "")
    assert execution["result"] == "HELLO ADA"
    assert [c["call_id"] for c in execution["checkpoints"]] == ["compose", "polish"]
    assert execution["truncated"] is False and execution["hint"] is None


def test_run_returns_at_once_and_cancel_stops_the_execution(server: KitaruMCPServer) -> None:
    started = _run(server, "slow_flow", salt=new_salt(), steps=60, delay=1.0)
    # Sixty one-second checkpoints cannot have finished: the call did not wait for them.
    assert started["status"] == "running" and started["execution"] is None
    assert started["waited_seconds"] == 0 and "kitaru_executions_get" in started["next_step"]
    exec_id = started["exec_id"]
    cancelled = data(call(server, "kitaru_executions_cancel", {"exec_id": exec_id}))
    assert cancelled["exec_id"] == exec_id and cancelled["status"] == "cancelled"
    done = len(settle(server, exec_id)["checkpoints"])
    assert done < 60
    body = error(call(server, "kitaru_executions_cancel", {"exec_id": exec_id}))
    assert body["code"] == "invalid_state" and body["details"]["status"] == "cancelled"


def test_run_refuses_targets_outside_the_allowed_roots(
    server: KitaruMCPServer, zenml_client: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    outside = tmp_path / "outside_flow.py"
    outside.write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')\n"
        "from kitaru_core import flow\n\n@flow\ndef outside_flow() -> None:\n    return None\n"
    )
    before = run_count(zenml_client)
    escaping = [
        f"{outside}:outside_flow",
        f"{FLOWS_DIR}/../flows/basic.py:plain_flow",  # '..' out of the allowed root
        "flows.basic:plain_flow",  # a module whose file lies outside the allowed root
        "json:loads",  # an installed module
    ]
    for bad in escaping:
        body = error(call(server, "kitaru_executions_run", {"target": bad}))
        assert body["code"] == "validation_error"
        assert list(body["details"]["fields"]) == ["target"]
        assert str(FLOWS_DIR) in body["details"]["allowed_roots"]
    assert not marker.exists()
    assert run_count(zenml_client) == before


@pytest.mark.parametrize(
    ("arguments", "code", "says"),
    [
        ({"target": f"{FLOWS_DIR}/missing.py:greet_flow"}, "not_found", "does not exist"),
        ({"target": target("no_such_flow")}, "not_found", "no attribute"),
        ({"target": target("NOT_A_FLOW")}, "usage_error", "not a flow"),
        ({"target": target("plain_function")}, "usage_error", "not a flow"),
        ({"target": "greet_flow"}, "usage_error", "not a flow target"),
        ({"target": "no_such_module_anywhere:flow"}, "not_found", "no_such_module_anywhere"),
        ({"target": target("greet_flow"), "args": {"name": "Ada"}}, "usage_error", "salt"),
        (
            {"target": target("greet_flow"), "args": {"name": "A", "salt": "s", "mood": 1}},
            "usage_error",
            "mood",
        ),
        (
            {"target": target("greet_flow"), "args": {"name": "A", "salt": "s"}, "stack": "nope"},
            "not_found",
            "nope",
        ),
    ],
)
def test_bad_targets_and_inputs_start_nothing(
    server: KitaruMCPServer,
    zenml_client: Any,
    arguments: dict[str, Any],
    code: str,
    says: str,
) -> None:
    before = run_count(zenml_client)
    body = error(call(server, "kitaru_executions_run", arguments))
    assert body["code"] == code and says in body["message"] + body["hint"]
    assert run_count(zenml_client) == before


def test_run_arguments_are_checked_by_the_schema(server: KitaruMCPServer) -> None:
    body = error(
        call(server, "kitaru_executions_run", {"target": target("greet_flow"), "wait_seconds": 61})
    )
    assert body["code"] == "validation_error" and list(body["details"]["fields"]) == [
        "wait_seconds"
    ]
    body = error(
        call(server, "kitaru_executions_run", {"target": target("greet_flow"), "args": [1]})
    )
    assert body["code"] == "validation_error" and "args" in body["details"]["fields"]


# ----------------------------------------------------------------------- list, get, latest


def test_list_get_and_latest(server: KitaruMCPServer, greeted: dict[str, Any]) -> None:
    exec_id = greeted["started"]["exec_id"]
    page = data(call(server, "kitaru_executions_list", {"flow": "greet_flow"}))
    item = next(item for item in page["items"] if item["exec_id"] == exec_id)
    assert item["status"] == "completed" and item["result"] == "HELLO ADA"
    assert "checkpoints" not in item  # lists hold summaries; get has the details
    assert page["count"] == len(page["items"])
    done = data(call(server, "kitaru_executions_list", {"status": "completed", "limit": 200}))
    assert exec_id in {item["exec_id"] for item in done["items"]}
    failed = data(
        call(server, "kitaru_executions_list", {"flow": "greet_flow", "status": "FAILED"})
    )
    assert exec_id not in {item["exec_id"] for item in failed["items"]}

    everything = [
        i["exec_id"] for i in data(call(server, "kitaru_executions_list", {"limit": 200}))["items"]
    ]
    paged: list[str] = []
    cursor = None
    while True:
        page = data(call(server, "kitaru_executions_list", {"limit": 1, "cursor": cursor}))
        paged += [item["exec_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything

    details = data(call(server, "kitaru_executions_get", {"exec_id": exec_id}))
    assert details["flow"] == "greet_flow" and details["result"] == "HELLO ADA"
    assert {c["call_id"]: c["status"] for c in details["checkpoints"]} == {
        "compose": "completed",
        "polish": "completed",
    }
    latest = data(call(server, "kitaru_executions_latest", {"flow": "greet_flow"}))
    assert latest["exec_id"] == exec_id


@pytest.mark.parametrize(
    ("tool", "arguments", "code", "field"),
    [
        ("kitaru_executions_list", {"status": "sleeping"}, "validation_error", "status"),
        ("kitaru_executions_list", {"cursor": "garbage!"}, "validation_error", "cursor"),
        ("kitaru_executions_list", {"limit": 0}, "validation_error", "limit"),
        ("kitaru_executions_get", {"exec_id": "not-a-uuid"}, "not_found", None),
        (
            "kitaru_executions_get",
            {"exec_id": "00000000-0000-4000-8000-000000000000"},
            "not_found",
            None,
        ),
        ("kitaru_executions_latest", {"flow": "no_such_flow_anywhere"}, "not_found", None),
    ],
)
def test_read_errors(
    server: KitaruMCPServer, tool: str, arguments: dict[str, Any], code: str, field: str | None
) -> None:
    body = error(call(server, tool, arguments))
    assert body["code"] == code
    if field is not None:
        assert field in body["details"]["fields"]


# ----------------------------------------------------------------------------------- logs


def test_logs_tail_head_and_checkpoint_filter(
    server: KitaruMCPServer, greeted: dict[str, Any]
) -> None:
    exec_id = greeted["started"]["exec_id"]
    logs = data(call(server, "kitaru_executions_logs", {"exec_id": exec_id}))
    messages = [entry["message"] for entry in logs["entries"]]
    assert any("composing a greeting for Ada" in m for m in messages)
    assert any("polishing" in m for m in messages)
    assert logs["truncated"] is False and logs["from_start"] is False
    last = data(call(server, "kitaru_executions_logs", {"exec_id": exec_id, "limit": 1}))
    assert last["count"] == 1 and last["entries"] == logs["entries"][-1:]
    assert last["truncated"] is True and "head" in last["hint"]
    first = data(
        call(server, "kitaru_executions_logs", {"exec_id": exec_id, "limit": 1, "head": True})
    )
    assert first["entries"] == logs["entries"][:1] and first["from_start"] is True
    composed = data(
        call(server, "kitaru_executions_logs", {"exec_id": exec_id, "checkpoint": "compose"})
    )
    assert composed["entries"] and all(e["checkpoint"] == "compose" for e in composed["entries"])
    assert any("composing a greeting" in e["message"] for e in composed["entries"])
    body = error(call(server, "kitaru_executions_logs", {"exec_id": exec_id, "checkpoint": "nope"}))
    assert body["code"] == "validation_error" and "checkpoint" in body["details"]["fields"]
    assert "compose" in body["message"]


# ---------------------------------------------------------------------------------- waits


def _waits_of(server: KitaruMCPServer, exec_id: str) -> list[dict[str, Any]]:
    page = data(call(server, "kitaru_executions_waiting", {"limit": 200}))
    return [item for item in page["items"] if item["exec_id"] == exec_id]


def test_waiting_and_input_continue_the_execution(server: KitaruMCPServer) -> None:
    salt = new_salt()
    started = _run(server, "approval_flow", wait_seconds=60, salt=salt, timeout=60)
    assert started["status"] == "waiting"  # the follow stopped at the question
    exec_id = started["exec_id"]
    assert started["execution"]["pending_wait"]["name"] == "approval"
    [pending] = _waits_of(server, exec_id)
    assert pending["name"] == "approval" and pending["flow"] == "approval_flow"
    assert pending["question"] == f"Publish 'draft {salt}'?"
    assert pending["schema"]["required"] == ["decision"]
    assert pending["metadata"] == {"salt": salt}

    wrong = {"exec_id": exec_id, "value": {"decision": "maybe"}}
    body = error(call(server, "kitaru_executions_input", wrong))
    assert body["code"] == "wait_validation_error"
    assert list(body["details"]["fields"]) == ["value.decision"]
    assert settle(server, exec_id, until=("waiting",))["pending_wait"]["name"] == "approval"
    assert len(_waits_of(server, exec_id)) == 1  # nothing changed

    answer = {"exec_id": exec_id, "wait": "approval", "value": {"decision": "approve"}}
    data(call(server, "kitaru_executions_input", answer))
    execution = settle(server, exec_id)
    assert execution["status"] == "completed"
    assert execution["result"] == f"draft {salt}: approve"
    assert _waits_of(server, exec_id) == []
    # The same answer again is harmless; a different one is refused.
    assert data(call(server, "kitaru_executions_input", answer))["status"] == "completed"
    other = {**answer, "value": {"decision": "reject"}}
    assert error(call(server, "kitaru_executions_input", other))["code"] == "invalid_state"


def test_input_without_resume_then_resume(server: KitaruMCPServer) -> None:
    salt = new_salt()
    # timeout=0: the worker releases its compute at once and the execution stays waiting.
    started = _run(server, "approval_flow", wait_seconds=60, salt=salt, timeout=0)
    exec_id = started["exec_id"]
    settle(server, exec_id, until=("waiting",))
    body = error(call(server, "kitaru_executions_resume", {"exec_id": exec_id}))
    assert body["code"] == "invalid_state" and "still waiting for input" in body["message"]

    answer = {"exec_id": exec_id, "value": {"decision": "reject"}, "resume": False}
    assert data(call(server, "kitaru_executions_input", answer))["status"] == "waiting"
    resumed = data(call(server, "kitaru_executions_resume", {"exec_id": exec_id}))
    assert resumed["exec_id"] == exec_id and "kitaru_executions_get" in resumed["next_step"]
    execution = settle(server, exec_id)
    assert execution["status"] == "completed", execution
    assert execution["result"] == f"draft {salt}: reject"
    body = error(call(server, "kitaru_executions_resume", {"exec_id": exec_id}))
    assert body["code"] == "invalid_state" and body["details"]["status"] == "completed"


def test_abort_wait_cancels_the_execution(server: KitaruMCPServer) -> None:
    started = _run(server, "gate_flow", wait_seconds=60, salt=new_salt(), timeout=60)
    exec_id = started["exec_id"]
    assert started["status"] == "waiting"
    data(call(server, "kitaru_executions_abort_wait", {"exec_id": exec_id, "wait": "go"}))
    execution = settle(server, exec_id)
    assert execution["status"] == "cancelled"
    assert [c["call_id"] for c in execution["checkpoints"]] == ["draft"]  # finalize never ran
    body = error(call(server, "kitaru_executions_abort_wait", {"exec_id": exec_id}))
    assert body["code"] in {"invalid_state", "not_found"}
    body = error(call(server, "kitaru_executions_input", {"exec_id": exec_id}))
    assert body["code"] in {"invalid_state", "not_found"}


# ------------------------------------------------------------------------- retry, replay


def test_retry_a_failed_execution(
    server: KitaruMCPServer, greeted: dict[str, Any], tmp_path: Path
) -> None:
    workdir = str(tmp_path)
    failed = _run(server, "fragile_flow", wait_seconds=60, workdir=workdir, salt=new_salt())
    exec_id = failed["exec_id"]
    execution = settle(server, exec_id)
    assert execution["status"] == "failed"
    assert execution["failure"]["checkpoint"] == "fragile"
    assert execution["failure"]["exception_type"] == "ConnectionError"

    completed_id = greeted["started"]["exec_id"]
    body = error(call(server, "kitaru_executions_retry", {"exec_id": completed_id}))
    assert body["code"] == "invalid_state" and body["details"]["status"] == "completed"

    (tmp_path / "fixed").write_text("yes")
    retried = data(call(server, "kitaru_executions_retry", {"exec_id": exec_id}))
    assert retried["exec_id"] != exec_id
    execution = settle(server, retried["exec_id"])
    assert execution["status"] == "completed" and execution["original_exec_id"] == exec_id
    assert marks(workdir, "gather") == 1 and marks(workdir, "fragile") == 2


def test_replay_dry_run_then_for_real(server: KitaruMCPServer, tmp_path: Path) -> None:
    workdir = str(tmp_path)
    # A module target (found on the path, inside the allowed root) works like a file target.
    arguments = {
        "target": "flows_mcp.agents:report_flow",
        "args": {"workdir": workdir, "topic": new_salt()},
        "wait_seconds": 60,
    }
    exec_id = data(call(server, "kitaru_executions_run", arguments))["exec_id"]
    assert settle(server, exec_id)["status"] == "completed"

    dry = {"exec_id": exec_id, "from_checkpoint": "analyze", "dry_run": True}
    plan = data(call(server, "kitaru_executions_replay", dry))
    assert plan["dry_run"] is True and plan["started"] is None
    assert plan["plan"] == {
        "from_checkpoint": "analyze",
        "reused": ["fetch"],
        "overridden": [],
        "rerun": ["analyze", "publish"],
    }
    for bad, field in (
        ({"from_checkpoint": "nope"}, "from_checkpoint"),
        ({"overrides": {"analyze": "x"}}, "overrides"),
    ):
        body = error(call(server, "kitaru_executions_replay", {"exec_id": exec_id, **bad}))
        assert body["code"] == "validation_error" and list(body["details"]["fields"]) == [field]
    body = error(call(server, "kitaru_executions_replay", {"exec_id": exec_id}))
    assert body["code"] == "usage_error"
    assert marks(workdir, "fetch") == marks(workdir, "analyze") == marks(workdir, "publish") == 1

    real = {"exec_id": exec_id, "overrides": {"checkpoint.analyze": "an edited analysis"}}
    replayed = data(call(server, "kitaru_executions_replay", real))
    assert replayed["dry_run"] is False
    assert replayed["plan"]["overridden"] == ["analyze"]
    assert replayed["plan"]["rerun"] == ["publish"]
    new_id = replayed["started"]["exec_id"]
    execution = settle(server, new_id)
    assert execution["status"] == "completed" and execution["original_exec_id"] == exec_id
    assert execution["result"] == "published: an edited analysis"
    assert marks(workdir, "fetch") == marks(workdir, "analyze") == 1
    assert marks(workdir, "publish") == 2


# ------------------------------------------------------------------------------ bounds


def test_an_execution_view_fits_the_budget() -> None:
    from datetime import UTC, datetime

    from kitaru_core.models import CheckpointCall, Execution, ExecutionStatus, Failure
    from kitaru_mcp.results import MAX_RESULT_CHARS, json_size
    from kitaru_mcp.tools.execution_views import execution_view

    now = datetime.now(UTC)
    calls = [
        CheckpointCall(
            call_id=f"step_{i}",
            name="step",
            status=ExecutionStatus.COMPLETED,
            started_at=now,
            ended_at=now,
        )
        for i in range(3000)
    ]
    huge = Execution(
        exec_id="e",
        flow="f",
        status=ExecutionStatus.FAILED,
        result="x" * 200_000,
        checkpoints=calls,
        failure=Failure(message="boom", traceback="line\n" * 50_000),
        frozen_spec={f"k{i}": "v" * 100 for i in range(1000)},
    )
    view = execution_view(huge)
    assert json_size(view) < MAX_RESULT_CHARS
    assert view.truncated and view.hint and "kitaru_artifacts_get" in view.hint
    assert 0 < view.checkpoints_omitted < 3000
    assert view.checkpoints[-1].call_id == "step_2999"  # the most recent calls are kept
    assert view.failure is not None and (view.failure.traceback or "").endswith("line\n")
