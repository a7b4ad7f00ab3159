"""``kitaru deploy``, ``kitaru invoke`` and ``kitaru flow ...``: the deployments seed, line by
line, in a project made with ``kitaru init``.

The store's default stack is local, so the seed's plain ``kitaru deploy`` is refused with the
documented error and the story continues with ``--allow-local`` (a development deployment the
CLI invokes in a local worker). ``curl`` needs a Kitaru server and refuses local deployments;
that documented refusal is asserted.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import FLOWS_DIR, kitaru, kitaru_error, kitaru_json, target

FINISHED = {"completed", "failed", "cancelled"}
TIMEOUT = 180.0


def finished(exec_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        execution: dict[str, Any] = kitaru_json("executions", "get", exec_id)
        if execution["status"] in FINISHED:
            return execution
        time.sleep(0.3)
    raise AssertionError(f"{exec_id} did not finish within {TIMEOUT} s")


def tags(deployment: dict[str, Any]) -> dict[str, bool]:
    return {tag["name"]: tag["exclusive"] for tag in deployment["tags"]}


@pytest.fixture
def seed_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project like the seed's: ``flows/research.py`` at the root of a ``kitaru init`` folder.

    The CLI imports the flow in this process as ``flows.research``; the tests' own ``flows``
    package (and ``sys.path``) are put back afterwards so other tests are not affected.
    """
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "__init__.py").write_text("")
    source = (FLOWS_DIR / "research.py").read_text(encoding="utf-8")
    (project / "flows" / "research.py").write_text(source, encoding="utf-8")
    monkeypatch.chdir(project)
    saved_modules = {
        name: module
        for name, module in sys.modules.items()
        if name == "flows" or name.startswith("flows.")
    }
    for name in saved_modules:
        del sys.modules[name]
    saved_path = list(sys.path)
    try:
        yield project
    finally:
        for name in [n for n in sys.modules if n == "flows" or n.startswith("flows.")]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path


def test_seed_producer_and_consumer_story(seed_project: Path) -> None:
    assert kitaru_json("init")["root"] == str(seed_project.resolve())
    source = "flows/research.py:research_agent"
    agents = '{"topic": "durable agents"}'

    # `kitaru deploy flows/research.py:research_agent --input '{...}'` on a local stack.
    refused = kitaru_error("deploy", source, "--input", agents, code=1)
    assert refused["code"] == "invalid_state"
    assert refused["details"]["remote_types"] == ["kubernetes", "vertex", "sagemaker", "azureml"]
    assert "--allow-local" in refused["hint"]
    assert kitaru_json("flow", "deployments", "list", "research_agent")["count"] == 0

    first = kitaru_json("deploy", source, "--input", agents, "--allow-local")
    assert (first["flow"], first["version"], tags(first)) == (
        "research_agent",
        1,
        {"default": True},
    )
    assert first["local"] is True and first["inputs"] == {"topic": "durable agents"}
    canary = kitaru(
        "deploy", source, "--tag", "canary", "--exclusive", "--input", agents, "--allow-local"
    ).stdout
    assert "Deployed research_agent version 2 (tags: canary*)" in canary

    listed = kitaru("flow", "deployments", "list", "research_agent").stdout
    assert "default*" in listed and "canary*" in listed
    as_json = kitaru_json("flow", "deployments", "list", "research_agent")
    assert as_json["count"] == 2
    assert [item["version"] for item in as_json["items"]] == [1, 2]

    stable = kitaru_json("flow", "tag", "research_agent", "stable", "--version", "2", "--exclusive")
    assert tags(stable) == {"canary": True, "stable": True}
    shared = kitaru("flow", "tag", "research_agent", "benchmark", "--version", "2").stdout
    assert "research_agent version 2 tags: benchmark, canary*, stable*" in shared

    # The consumer: `kitaru invoke research_agent --tag stable --input '{...}'`.
    routed = kitaru_json(
        "invoke", "research_agent", "--tag", "stable", "--input", '{"topic": "deployment routing"}',
        "--wait",
    )  # fmt: skip
    assert routed["status"] == "completed"
    assert routed["result"] == "summary of notes on deployment routing"
    serverless = '{"topic": "serverless routing"}'
    started = [
        kitaru_json("invoke", "research_agent", "--tag", "default", "--input", serverless),
        kitaru_json("invoke", "research_agent", "--input", '{"topic": "default route"}'),
        kitaru_json(
            "invoke", "research_agent", "--version", "2", "--input", '{"topic": "pinned run"}'
        ),
    ]
    results = [finished(item["exec_id"])["result"] for item in started]
    assert results == [
        "summary of notes on serverless routing",
        "summary of notes on default route",
        "summary of notes on pinned run",
    ]
    # Deploy-time inputs are the defaults of an invocation without --input.
    default_inputs = kitaru_json("invoke", "research_agent", "--tag", "canary", "--wait")
    assert default_inputs["result"] == "summary of notes on durable agents"

    by_tag = kitaru_json("flow", "deployments", "get", "research_agent", "--tag", "stable")
    assert by_tag["version"] == 2
    assert kitaru_json("flow", "deployments", "get", "research_agent")["version"] == 1
    assert (
        "snapshot_id"
        in kitaru("flow", "deployments", "get", "research_agent", "--version", "1").stdout
    )

    curl = kitaru_error("flow", "deployments", "curl", "research_agent", code=1)
    assert curl["code"] == "invalid_state"
    assert "local development deployment" in curl["message"]

    untagged = kitaru_json("flow", "untag", "research_agent", "benchmark", "--version", "2")
    assert "benchmark" not in tags(untagged)
    gone = kitaru_error("invoke", "research_agent", "--tag", "benchmark", code=1)
    assert gone["code"] == "not_found"
    keep_default = kitaru_error(
        "flow", "untag", "research_agent", "default", "--version", "1", code=1
    )
    assert keep_default["code"] == "invalid_state"
    held = kitaru_error("flow", "deployments", "delete", "research_agent", "--version", "2", code=1)
    assert held["code"] == "invalid_state"
    assert held["details"]["exclusive_tags"] == ["canary", "stable"]
    assert kitaru_json("flow", "deployments", "list", "research_agent")["count"] == 2


def test_routing_errors_and_delete(tmp_path: Path) -> None:
    flow = "echo_agent"
    source = target("deployable", flow)
    inputs = tmp_path / "inputs.json"
    inputs.write_text('{"text": "from a file"}', encoding="utf-8")
    none = kitaru_error("invoke", flow, code=1)
    assert none["code"] == "not_found" and "has no deployments" in none["message"]
    assert kitaru_json("flow", "deployments", "list", flow) == {"items": [], "count": 0}

    first = kitaru_json("deploy", source, "--input", f"@{inputs}", "--allow-local")
    assert first["version"] == 1 and first["inputs"] == {"text": "from a file"}
    for _ in range(2):
        kitaru_json("deploy", source, "--tag", "exp", "--allow-local")
    ambiguous = kitaru_error("invoke", flow, "--tag", "exp", code=1)
    assert ambiguous["code"] == "invalid_state"
    assert ambiguous["details"]["versions"] == [2, 3]
    both = kitaru_error("invoke", flow, "--tag", "exp", "--version", "2", code=2)
    assert both["code"] == "usage_error"
    assert kitaru_error("invoke", flow, "--version", "9", code=1)["code"] == "not_found"
    mode = kitaru_error("flow", "tag", flow, "exp", "--version", "1", "--exclusive", code=1)
    assert mode["code"] == "invalid_state"  # exp is shared on this flow
    bad_tag = kitaru_error("flow", "tag", flow, "bad tag!", "--version", "1", code=2)
    assert bad_tag["code"] == "validation_error"
    assert kitaru_error("flow", "tag", flow, "t", code=2)["code"] == "usage_error"  # --version

    deleted = kitaru_json("flow", "deployments", "delete", flow, "--version", "3")
    assert deleted["version"] == 3
    assert [d["version"] for d in kitaru_json("flow", "deployments", "list", flow)["items"]] == [
        1,
        2,
    ]
    text = kitaru("flow", "deployments", "delete", flow, "--tag", "exp").stdout
    assert f"Deleted {flow} version 2" in text
    executed = kitaru_json("invoke", flow, "--wait")
    assert executed["result"] == "FROM A FILE"

    assert kitaru_error("deploy", "not-a-target", "--allow-local", code=2)["code"] == "usage_error"
    assert kitaru_error("deploy", source, "--stack", "nope", "--allow-local", code=1)["code"] == (
        "not_found"
    )
    bad_input = kitaru_error("deploy", source, "--input", json.dumps({"nope": 1}), code=2)
    assert "text" in bad_input["message"] or "nope" in bad_input["message"]
