"""Live executions through an MCP client that is not ours (issue 20, "Checked by").

The official TypeScript SDK client (``tests/ts_client/live.mjs``, protocol 2025-11-25) talks to
a real ``kitaru-mcp`` process over stdio and over streamable HTTP: it lists and reads the
resources, subscribes to an execution with ``resources/subscribe`` and follows it through
``notifications/resources/updated`` alone, receives progress notifications for
``kitaru_executions_run`` with ``wait_seconds``, and answers the server's elicitation for a
pending wait. Flows run for real in the store of this test session.

Select with ``-m ts_client``; skipped where ``node`` or the SDK (``tests/ts_client/node_modules``,
``make install-dev``) is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _mcp_flows import FLOWS_DIR, new_salt, target
from ts_support import KITARU_MCP, node_with_sdk, run_ts_script

pytestmark = pytest.mark.ts_client

ANSWER = {"decision": "approve", "reviewer": "ts-client"}


@pytest.fixture(scope="module")
def node() -> str:
    return node_with_sdk(install=False)


def _plan() -> dict[str, Any]:
    return {
        "follow": {"target": target("slow_flow"), "args": {"salt": new_salt(), "steps": 3}},
        "progress": {"target": target("greet_flow"), "args": {"name": "Ts", "salt": new_salt()}},
        "elicit": {
            "target": target("approval_flow"),
            "args": {"salt": new_salt()},
            "answer": ANSWER,
        },
    }


def _run_client(node: str, transport: str, tmp: Path) -> Any:
    serve = [KITARU_MCP, "--mode", "standard", "--allow-path", str(FLOWS_DIR)]
    return run_ts_script(node, "live.mjs", _plan(), transport, serve, tmp, timeout=900)


@pytest.fixture(scope="module", params=["stdio", "http"])
def report(
    request: pytest.FixtureRequest, node: str, zenml_client: Any, tmp_path_factory: Any
) -> Any:
    transport = str(request.param)
    return _run_client(node, transport, tmp_path_factory.mktemp(f"ts-live-{transport}"))


def test_the_typescript_client_lists_and_reads_the_resources(report: dict[str, Any]) -> None:
    listing = report["listing"]
    assert listing["capabilities"]["subscribe"] is True  # advertised to a 2025-era client
    assert "kitaru://waiting" in listing["resources"]
    assert set(listing["templates"]) == {
        "kitaru://executions/{exec_id}",
        "kitaru://executions/{exec_id}/logs",
    }
    assert listing["waiting_mime"] == "application/json" and listing["waiting_has_items"]


def test_the_typescript_client_follows_an_execution_by_update_events(
    report: dict[str, Any],
) -> None:
    follow = report["follow"]
    statuses, finished = follow["statuses"], follow["finished"]
    # It read again only after an update event; the last read shows the finished execution.
    assert statuses[-1] == "completed" and follow["result"] == 3, follow
    assert len(statuses) >= 2 and follow["events"] >= len(statuses) - 1
    # An event came while it still ran, after a checkpoint had finished.
    assert any(
        status == "running" and done > finished[0]
        for status, done in zip(statuses[1:], finished[1:], strict=True)
    ), follow


def test_the_typescript_client_receives_progress_per_checkpoint(report: dict[str, Any]) -> None:
    progress = report["progress"]
    assert progress["status"] == "completed", progress
    messages = [p["message"] for p in progress["progress"]]
    per_checkpoint = [m for m in messages if m.startswith("checkpoint ")]
    # One notification per finished checkpoint, naming it, then one for the end. This client
    # stops listening for a request's progress as soon as its result arrives and handles a
    # notification a tick later: the server leaves a gap before the result so none is lost.
    names = [m.split()[1] for m in per_checkpoint]
    assert names == ["compose", "polish"], messages
    assert messages[-1].startswith("completed: 2 checkpoint call(s) finished"), messages
    assert len(messages) == 3, messages
    values = [p["progress"] for p in progress["progress"]]
    assert values == sorted(set(values)) and all(p["total"] == 60 for p in progress["progress"])


def test_the_typescript_client_answers_an_elicitation(report: dict[str, Any]) -> None:
    elicit = report["elicit"]
    [asked] = elicit["asked"]
    assert "Publish 'draft" in asked["message"]
    assert asked["schema"]["properties"]["decision"]["enum"] == ["approve", "reject"]
    # The human's answer was recorded like kitaru_executions_input and the flow went on.
    assert elicit["status"] == "completed", elicit
    assert elicit["result"].startswith("draft ") and elicit["result"].endswith(": approve")
