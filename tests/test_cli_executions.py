"""``kitaru run``, ``kitaru executions ...`` and ``kitaru artifacts ...`` on real executions.

Flows live in ``tests/flows_cli/``; every run gets its own salt so no two tests share a cache
entry. Runs start detached workers (as the CLI does for users), so the tests share a few
finished executions through module fixtures to stay fast.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cli_support import TESTS_DIR, kitaru, kitaru_error, kitaru_json, target

FINISHED = {"completed", "failed", "cancelled"}
TIMEOUT = 180.0


def salt() -> str:
    return uuid.uuid4().hex[:12]


def finished(exec_id: str) -> dict[str, Any]:
    """Poll ``executions get`` until the execution has finished."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        execution: dict[str, Any] = kitaru_json("executions", "get", exec_id)
        if execution["status"] in FINISHED:
            return execution
        time.sleep(0.3)
    raise AssertionError(f"{exec_id} did not finish within {TIMEOUT} s")


def started_waiting(flow: str, **inputs: Any) -> dict[str, Any]:
    """Run a flow of ``control.py`` with ``--wait``: it stops at its question."""
    execution: dict[str, Any] = kitaru_json(
        "run", target("control", flow), "--input", json.dumps(inputs), "--wait"
    )
    assert execution["status"] == "waiting"
    return execution


@pytest.fixture(scope="module")
def topic() -> str:
    return f"agents {salt()}"


@pytest.fixture(scope="module")
def research(topic: str) -> dict[str, Any]:
    """One completed research_agent execution, as `run --wait -o json` printed it."""
    execution: dict[str, Any] = kitaru_json(
        "run",
        target("research", "research_agent"),
        "--input",
        json.dumps({"topic": topic}),
        "--wait",
    )
    return execution


# ------------------------------------------------------------------------------------- run


def test_run_wait_prints_the_finished_execution_object(
    research: dict[str, Any], topic: str
) -> None:
    assert research["status"] == "completed"
    assert research["result"] == f"summary of notes on {topic}"
    assert research["flow"] == "research_agent"
    assert [c["call_id"] for c in research["checkpoints"]] == ["gather", "summarize"]
    assert {"exec_id", "status", "result", "checkpoints", "pending_wait", "failure"} <= set(
        research
    )


def test_run_in_the_background_then_follow_its_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's shape: a relative file target, inputs from @file, the exec_id at once."""
    monkeypatch.chdir(TESTS_DIR)
    inputs = tmp_path / "inputs.json"
    mark = salt()
    inputs.write_text(json.dumps({"topic": mark}), encoding="utf-8")
    result = kitaru("run", "flows_cli/research.py:research_agent", "--input", f"@{inputs}")
    found = re.search(r"Started execution ([0-9a-f-]{36})", result.stderr)
    assert found, result.stderr
    exec_id = found.group(1)
    assert exec_id in result.stdout
    assert f"kitaru executions logs {exec_id} --follow" in result.stdout
    followed = kitaru("executions", "logs", exec_id, "--follow").stdout  # returns at the end
    assert f"gathering notes on {mark}" in followed
    assert kitaru_json("executions", "get", exec_id)["status"] == "completed"
    lines = kitaru("executions", "logs", exec_id, "--follow", "-o", "json").stdout.splitlines()
    entries = [json.loads(line) for line in lines]  # JSON Lines while following
    assert any(f"gathering notes on {mark}" in entry["message"] for entry in entries)


def test_run_errors_start_nothing() -> None:
    before = kitaru_json("executions", "list", "--limit", "200")["count"]
    missing = kitaru_error("run", "flows_cli/nothere.py:flow", code=1)
    assert missing["code"] == "not_found"
    no_flow = kitaru_error("run", target("research", "nothere"), code=1)
    assert no_flow["code"] == "not_found"
    assert "research_agent" in no_flow["hint"]
    bad_target = kitaru_error("run", "not-a-target", code=2)
    assert bad_target["code"] == "usage_error"
    wrong_inputs = kitaru_error(
        "run", target("research", "research_agent"), "--input", '{"nope": 1}', code=2
    )
    assert "topic" in wrong_inputs["message"]
    not_object = kitaru_error("run", target("research", "research_agent"), "--input", "[1]", code=2)
    assert not_object["code"] == "usage_error"
    assert kitaru_json("executions", "list", "--limit", "200")["count"] == before


# ---------------------------------------------------------------------------- read commands


def test_list_get_latest(research: dict[str, Any]) -> None:
    exec_id = research["exec_id"]
    listed = kitaru_json("executions", "list", "--flow", "research_agent", "--status", "completed")
    assert listed["count"] == len(listed["items"]) >= 1
    assert exec_id in [item["exec_id"] for item in listed["items"]]
    assert set(listed) == {"items", "count", "next_cursor"}
    page = kitaru_json("executions", "list", "--limit", "1")
    assert page["count"] == 1
    if page["next_cursor"]:
        following = kitaru_json(
            "executions", "list", "--limit", "1", "--cursor", page["next_cursor"]
        )
        assert following["items"][0]["exec_id"] != page["items"][0]["exec_id"]
    assert "research_agent" in kitaru("executions", "list").stdout
    got = kitaru_json("executions", "get", exec_id)
    assert got["exec_id"] == exec_id and got["result"] == research["result"]
    assert got["frozen_spec"]["stack"]["value"]
    shown = kitaru("executions", "get", exec_id).stdout
    for text in (exec_id, "completed", "gather", "summarize", "Execution spec"):
        assert text in shown
    latest = kitaru_json("executions", "latest", "--flow", "research_agent")
    assert latest["flow"] == "research_agent"
    assert kitaru_error("executions", "list", "--status", "bogus", code=2)["code"] == (
        "validation_error"
    )
    assert kitaru_error("executions", "list", "--limit", "0", code=2)["code"] == "validation_error"
    assert kitaru_error("executions", "get", str(uuid.uuid4()), code=1)["code"] == "not_found"
    assert kitaru_error("executions", "get", "not-an-id", code=1)["code"] == "not_found"
    none = kitaru_error("executions", "latest", "--flow", f"never_{salt()}", code=1)
    assert none["code"] == "not_found"


def test_logs(research: dict[str, Any], topic: str) -> None:
    exec_id = research["exec_id"]
    logs = kitaru_json("executions", "logs", exec_id)
    assert set(logs) == {"items", "count", "truncated"}
    assert any(f"gathering notes on {topic}" in entry["message"] for entry in logs["items"])
    only = kitaru_json("executions", "logs", exec_id, "--checkpoint", "gather")
    assert only["count"] >= 1
    assert {entry["checkpoint"] for entry in only["items"]} == {"gather"}
    assert kitaru_json("executions", "logs", exec_id, "--limit", "1")["count"] == 1
    assert f"gathering notes on {topic}" in kitaru("executions", "logs", exec_id).stdout
    wrong = kitaru_error("executions", "logs", exec_id, "--checkpoint", "nope", code=2)
    assert "gather" in wrong["message"]


def test_artifacts(research: dict[str, Any], topic: str) -> None:
    exec_id = research["exec_id"]
    listed = kitaru_json("artifacts", "list", exec_id)
    names = {item["name"]: item for item in listed["items"]}
    assert {"gather.output", "summarize.output"} <= set(names)
    assert listed["count"] == len(listed["items"])
    assert kitaru_json("artifacts", "list", exec_id, "--name", "gather")["count"] == 1
    artifact_id = names["gather.output"]["artifact_id"]
    artifact = kitaru_json("artifacts", "get", artifact_id)
    assert artifact["value"] == f"notes on {topic}"
    assert artifact["truncated"] is False
    assert f"notes on {topic}" in kitaru("artifacts", "get", artifact_id).stdout
    cut = kitaru_json("artifacts", "get", artifact_id, "--max-chars", "5")
    assert cut["truncated"] is True
    assert "gather.output" in kitaru("artifacts", "list", exec_id).stdout
    assert kitaru_error("artifacts", "get", str(uuid.uuid4()), code=1)["code"] == "not_found"
    assert kitaru_error("artifacts", "get", "nope", code=1)["code"] == "not_found"


# ------------------------------------------------------------------------- waits and input


def test_wait_then_input_validated_by_schema() -> None:
    mark = salt()
    execution = started_waiting("review_flow", salt=mark)
    exec_id = execution["exec_id"]
    assert execution["pending_wait"]["name"] == "review"
    assert execution["pending_wait"]["question"] == f"Publish 'draft {mark}'?"
    waiting = kitaru_json("executions", "waiting")
    mine = [item for item in waiting["items"] if item["exec_id"] == exec_id]
    assert mine and mine[0]["schema"]["required"] == ["decision"]
    assert exec_id in kitaru("executions", "waiting").stdout
    wrong = kitaru_error("executions", "input", exec_id, "--value", '{"decision": "maybe"}', code=2)
    assert wrong["code"] == "wait_validation_error"
    assert "value.decision" in wrong["details"]["fields"]
    answered = kitaru_json("executions", "input", exec_id, "--value", '{"decision": "approve"}')
    assert answered["exec_id"] == exec_id
    done = finished(exec_id)
    assert done["status"] == "completed"
    assert done["result"] == f"draft {mark}: approve"
    again = kitaru_error(
        "executions", "input", exec_id, "--value", '{"decision": "reject"}', code=1
    )
    assert again["code"] == "invalid_state"


def test_seed_input_value_true() -> None:
    mark = salt()
    exec_id = started_waiting("approve_flow", salt=mark)["exec_id"]
    result = kitaru("executions", "input", exec_id, "--value", "true", "--wait", "approve")
    # Its worker gave up at the timeout (0 s): the answer resumes it, and says so.
    assert f"Answered; execution {exec_id} is resuming in the background." in result.stdout
    assert finished(exec_id)["result"] == f"draft {mark}: approved"


def test_input_follow_shows_the_execution_to_its_end() -> None:
    mark = salt()
    exec_id = started_waiting("approve_flow", salt=mark)["exec_id"]
    result = kitaru("executions", "input", exec_id, "--value", "true", "--follow")
    assert f"execution {exec_id} is resuming" in result.stderr
    assert "publish" in result.stderr  # the checkpoint progress after the answer
    assert "completed" in result.stdout
    assert kitaru_json("executions", "get", exec_id)["result"] == f"draft {mark}: approved"

    other = started_waiting("approve_flow", salt=salt())["exec_id"]
    followed = kitaru_json("executions", "input", other, "--value", "false", "--follow")
    assert followed["status"] == "completed"  # JSON: only the final execution on stdout
    assert followed["result"].endswith(": rejected")


def test_no_resume_is_refused_while_the_worker_still_polls() -> None:
    mark = salt()
    polling = kitaru_json(
        "run",
        target("control", "review_flow"),
        "--input",
        json.dumps({"salt": mark, "timeout": 120}),
    )
    exec_id = polling["exec_id"]
    deadline = time.monotonic() + TIMEOUT
    while kitaru_json("executions", "get", exec_id)["pending_wait"] is None:
        assert time.monotonic() < deadline, "the flow never asked"
        time.sleep(0.2)
    refused = kitaru_error(
        "executions", "input", exec_id, "--value", '{"decision": "approve"}', "--no-resume", code=1
    )
    assert refused["code"] == "invalid_state"
    assert refused["details"]["worker_polling"] is True
    assert "--no-resume" in refused["hint"]
    # Nothing was recorded: the question is still pending, and a plain answer continues it.
    still = kitaru_json("executions", "get", exec_id)
    assert still["status"] == "waiting" and still["pending_wait"]["name"] == "review"
    answered = kitaru("executions", "input", exec_id, "--value", '{"decision": "approve"}')
    assert f"Answered; execution {exec_id} continues." in answered.stdout
    assert finished(exec_id)["result"] == f"draft {mark}: approve"


def test_input_without_resume_then_resume_wait() -> None:
    mark = salt()
    exec_id = started_waiting("review_flow", salt=mark)["exec_id"]
    early = kitaru_error("executions", "resume", exec_id, code=1)
    assert early["code"] == "invalid_state"  # the question is not answered yet
    recorded = kitaru_json(
        "executions", "input", exec_id, "--value", '{"decision": "reject"}', "--no-resume"
    )
    assert recorded["status"] == "waiting"
    resumed = kitaru_json("executions", "resume", exec_id, "--wait")
    assert resumed["exec_id"] == exec_id
    assert resumed["status"] == "completed"
    assert resumed["result"] == f"draft {mark}: reject"
    assert kitaru_error("executions", "resume", exec_id, code=1)["code"] == "invalid_state"


def test_abort_wait_and_cancel_end_cancelled() -> None:
    aborted = started_waiting("approve_flow", salt=salt())["exec_id"]
    result = kitaru_json("executions", "abort-wait", aborted)
    assert result["exec_id"] == aborted
    assert finished(aborted)["status"] == "cancelled"
    assert kitaru_error("executions", "abort-wait", aborted, code=1)["code"] == "invalid_state"
    cancelled = started_waiting("approve_flow", salt=salt())["exec_id"]
    assert kitaru_json("executions", "cancel", cancelled)["exec_id"] == cancelled
    assert finished(cancelled)["status"] == "cancelled"
    assert kitaru_error("executions", "cancel", cancelled, code=1)["code"] == "invalid_state"
    no_wait = kitaru_error("executions", "input", cancelled, "--value", "true", code=1)
    assert no_wait["code"] in {"invalid_state", "not_found"}


# ------------------------------------------------------------------- retry, replay, cancel


def test_failed_run_exits_1_then_retry_completes(tmp_path: Path) -> None:
    inputs = json.dumps({"workdir": str(tmp_path), "salt": salt()})
    result = kitaru(
        "run", target("control", "fragile_flow"), "--input", inputs, "--wait", "-o", "json", code=1
    )
    execution = json.loads(result.stdout)  # the execution object still reaches stdout
    assert execution["status"] == "failed"
    error = json.loads(result.stderr)["error"]  # and exactly one error object reaches stderr
    assert error["code"] == "execution_failed"
    assert error["details"]["failure"]["checkpoint"] == "fragile"
    assert error["details"]["failure"]["exception_type"] == "ConnectionError"
    exec_id = execution["exec_id"]
    table = kitaru("executions", "get", exec_id).stdout
    assert "Failed in checkpoint 'fragile'" in table and "ConnectionError" in table
    (tmp_path / "fixed").touch()
    retried = kitaru_json("executions", "retry", exec_id, "--wait")
    assert retried["status"] == "completed"
    assert retried["original_exec_id"] == exec_id
    assert retried["exec_id"] != exec_id
    refused = kitaru_error("executions", "retry", retried["exec_id"], code=1)
    assert refused["code"] == "invalid_state"


def test_replay_dry_run_and_override(research: dict[str, Any], topic: str) -> None:
    exec_id = research["exec_id"]
    plan = kitaru_json("executions", "replay", exec_id, "--from", "summarize", "--dry-run")
    assert plan == {
        "from_checkpoint": "summarize",
        "reused": ["gather"],
        "overridden": [],
        "rerun": ["summarize"],
    }
    table = kitaru("executions", "replay", exec_id, "--from", "summarize", "--dry-run").stdout
    assert "reused" in table and "re-run" in table
    replayed = kitaru_json(
        "executions", "replay", exec_id, "--override", 'checkpoint.gather="custom notes"', "--wait"
    )
    assert replayed["status"] == "completed"
    assert replayed["result"] == "summary of custom notes"
    assert replayed["original_exec_id"] == exec_id
    wrong = kitaru_error("executions", "replay", exec_id, "--from", "nope", code=2)
    assert "gather" in wrong["message"]
    assert kitaru_error("executions", "replay", exec_id, code=2)["code"] == "usage_error"
    bad_key = kitaru_error("executions", "replay", exec_id, "--override", "gather=1", code=2)
    assert "checkpoint.<name>" in bad_key["message"]


def test_run_image_settings_reach_the_frozen_spec(tmp_path: Path) -> None:
    image = tmp_path / "image.json"
    image.write_text(
        json.dumps({"requirements": ["httpx"], "environment": {"API_TOKEN": "t0k3n-value-123"}})
    )
    topic = f"image-{uuid.uuid4().hex[:6]}"
    execution = kitaru_json(
        "run",
        target("research", "research_agent"),
        "--input",
        json.dumps({"topic": topic}),
        "--image",
        f"@{image}",
        "--wait",
    )
    spec = execution["frozen_spec"]["image"]
    assert spec["source"] == "invocation"
    assert spec["value"]["requirements"] == ["httpx"]
    assert "t0k3n-value-123" not in json.dumps(execution)  # secrets masked in the spec


def test_run_rejects_bad_image_settings_before_starting_anything() -> None:
    before = kitaru_json("executions", "list", "--limit", "200")["count"]
    error = kitaru_error(
        "run", target("research", "research_agent"), "--image", '{"base": 1}', code=2
    )
    assert error["code"] == "usage_error"
    assert kitaru_json("executions", "list", "--limit", "200")["count"] == before
