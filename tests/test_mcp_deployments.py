"""The deployment tools through the official MCP client, against this process's real store.

The seed's producer/consumer story with local development deployments (``allow_local``):
this store has only local stacks, and a remote one cannot execute here. Each test deploys its
own flow (``tests/flows_mcp/deployed.py``), so its versions and tags are its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _mcp_flows import (
    DEPLOYED,
    FLOWS_DIR,
    call_with_progress,
    new_salt,
    run_count,
    settle,
    target,
)
from _mcp_support import call, data, error

from kitaru_mcp.server import KitaruMCPServer, build_server

REMOTE_TYPES = ["kubernetes", "vertex", "sagemaker", "azureml"]


@pytest.fixture(scope="module")
def server(zenml_client: Any) -> KitaruMCPServer:
    return build_server("destructive", allow_paths=[FLOWS_DIR])


def _deploy(server: KitaruMCPServer, flow: str, **arguments: Any) -> dict[str, Any]:
    arguments = {"target": target(flow, DEPLOYED), "allow_local": True, **arguments}
    return data(call(server, "kitaru_deployments_deploy", arguments))


def _routes(server: KitaruMCPServer, flow: str) -> dict[int, dict[str, bool]]:
    """version → {tag: exclusive}: the state a refused call must leave unchanged."""
    page = data(call(server, "kitaru_deployments_list", {"flow": flow}))
    return {
        item["version"]: {t["name"]: t["exclusive"] for t in item["tags"]} for item in page["items"]
    }


def _result(server: KitaruMCPServer, started: dict[str, Any]) -> Any:
    execution = settle(server, started["exec_id"])
    assert execution["status"] == "completed", execution
    return execution["result"]


def test_producer_deploys_and_routes_and_consumers_invoke(server: KitaruMCPServer) -> None:
    flow = "mcp_story_agent"
    salt = new_salt()
    # Producer: v1 becomes the default route.
    v1 = _deploy(server, flow, inputs={"topic": "v1 topic", "salt": salt})
    assert v1["flow"] == flow and v1["version"] == 1 and v1["local"] is True
    assert v1["tags"] == [{"name": "default", "exclusive": True}]
    assert v1["inputs"] == {"topic": "v1 topic", "salt": salt}
    assert v1["input_schema"]["required"] == ["topic"]
    # A canary candidate: v2 with one exclusive tag, default stays on v1.
    v2 = _deploy(
        server, flow, inputs={"topic": "v2 topic", "salt": salt}, tag="canary", exclusive=True
    )
    assert v2["version"] == 2 and v2["tags"] == [{"name": "canary", "exclusive": True}]
    assert _routes(server, flow) == {1: {"default": True}, 2: {"canary": True}}

    # Consumer: invoke the canary route (deploy-time inputs), following it with progress.
    result, progress = call_with_progress(
        server, "kitaru_deployments_invoke", {"flow": flow, "tag": "canary", "wait_seconds": 60}
    )
    canary = data(result)
    assert canary["flow"] == flow and progress
    assert _result(server, canary) == "researched v2 topic"

    # Producer promotes v2 to stable; consumers invoke by tag (with their own inputs) and by
    # version, without knowing the source.
    promoted = data(
        call(
            server,
            "kitaru_deployments_tag",
            {"flow": flow, "tag": "stable", "version": 2, "exclusive": True},
        )
    )
    assert {t["name"] for t in promoted["tags"]} == {"canary", "stable"}
    assert (
        data(call(server, "kitaru_deployments_get", {"flow": flow, "tag": "stable"}))["version"]
        == 2
    )
    assert data(call(server, "kitaru_deployments_get", {"flow": flow}))["version"] == 1
    stable = data(
        call(
            server,
            "kitaru_deployments_invoke",
            {"flow": flow, "tag": "stable", "inputs": {"topic": "consumer request"}},
        )
    )
    assert stable["status"] == "running" and stable["execution"] is None
    pinned = data(call(server, "kitaru_deployments_invoke", {"flow": flow, "version": 1}))
    default = data(call(server, "kitaru_deployments_invoke", {"flow": flow}))
    assert _result(server, stable) == "researched consumer request"
    assert _result(server, pinned) == "researched v1 topic"
    assert _result(server, default) == "researched v1 topic"

    # Moving an exclusive tag moves it: stable now on v1, off v2.
    data(
        call(
            server,
            "kitaru_deployments_tag",
            {"flow": flow, "tag": "stable", "version": 1, "exclusive": True},
        )
    )
    assert _routes(server, flow) == {
        1: {"default": True, "stable": True},
        2: {"canary": True},
    }


def test_routing_refusals_change_nothing(server: KitaruMCPServer, zenml_client: Any) -> None:
    flow = "mcp_routing_agent"
    body = error(call(server, "kitaru_deployments_invoke", {"flow": flow}))
    assert body["code"] == "not_found" and "no deployments" in body["message"]

    _deploy(server, flow, inputs={"topic": "one"})
    _deploy(server, flow, inputs={"topic": "two"}, tag="exp")
    data(call(server, "kitaru_deployments_tag", {"flow": flow, "tag": "exp", "version": 1}))
    before = _routes(server, flow)
    assert before == {1: {"default": True, "exp": False}, 2: {"exp": False}}
    runs = run_count(zenml_client)

    def refused(tool: str, arguments: dict[str, Any], code: str) -> dict[str, Any]:
        body = error(call(server, tool, {"flow": flow, **arguments}))
        assert body["code"] == code, body
        assert _routes(server, flow) == before
        return body

    body = refused("kitaru_deployments_invoke", {"tag": "exp"}, "invalid_state")
    assert "shared" in body["message"] and body["details"]["versions"] == [1, 2]
    body = refused("kitaru_deployments_invoke", {"tag": "nope"}, "not_found")
    assert body["details"]["tags"] == ["default", "exp"]
    body = refused("kitaru_deployments_invoke", {"version": 9}, "not_found")
    assert body["details"]["versions"] == [1, 2]
    refused("kitaru_deployments_get", {"version": 9}, "not_found")
    refused("kitaru_deployments_get", {"tag": "nope"}, "not_found")
    refused("kitaru_deployments_invoke", {"version": 1, "tag": "default"}, "usage_error")
    body = refused("kitaru_deployments_invoke", {"version": 0}, "validation_error")
    assert list(body["details"]["fields"]) == ["version"]
    assert run_count(zenml_client) == runs  # no refused invocation started anything

    body = refused("kitaru_deployments_delete", {"version": 1}, "invalid_state")
    assert body["details"]["exclusive_tags"] == ["default"]
    refused("kitaru_deployments_untag", {"tag": "default", "version": 1}, "invalid_state")
    refused("kitaru_deployments_untag", {"tag": "stable", "version": 2}, "invalid_state")
    refused(
        "kitaru_deployments_tag", {"tag": "exp", "version": 2, "exclusive": True}, "invalid_state"
    )
    body = refused("kitaru_deployments_tag", {"tag": "bad tag!", "version": 2}, "validation_error")
    assert list(body["details"]["fields"]) == ["tag"]
    refused("kitaru_deployments_tag", {"tag": "x", "version": 7}, "not_found")
    body = refused("kitaru_deployments_curl", {"version": 1}, "invalid_state")
    assert "local development deployment" in body["message"]

    # What is allowed: removing a shared tag, deleting a version without exclusive tags.
    untagged = data(
        call(server, "kitaru_deployments_untag", {"flow": flow, "tag": "exp", "version": 2})
    )
    assert untagged["tags"] == []
    deleted = data(call(server, "kitaru_deployments_delete", {"flow": flow, "version": 2}))
    assert deleted["version"] == 2
    assert _routes(server, flow) == {1: {"default": True, "exp": False}}


def test_deploy_refusals_create_nothing(
    server: KitaruMCPServer, zenml_client: Any, tmp_path: Path
) -> None:
    flow = "mcp_guarded_agent"
    good = {"target": target(flow, DEPLOYED), "inputs": {"topic": "t"}}
    body = error(call(server, "kitaru_deployments_deploy", good))
    assert body["code"] == "invalid_state" and body["details"]["remote_types"] == REMOTE_TYPES
    assert all(kind in body["message"] for kind in REMOTE_TYPES)
    assert "allow_local" in body["hint"]

    outside = tmp_path / "outside_agent.py"
    outside.write_text(
        "from kitaru_core import flow\n\n@flow\ndef outside_agent() -> None:\n    return None\n"
    )
    for arguments, code in (
        ({**good, "allow_local": True, "inputs": {"subject": "t"}}, "usage_error"),
        ({**good, "allow_local": True, "stack": "no-such-stack"}, "not_found"),
        ({**good, "allow_local": True, "tag": "no spaces"}, "validation_error"),
        ({"target": f"{outside}:outside_agent", "allow_local": True}, "validation_error"),
        ({"target": target("missing_agent", DEPLOYED), "allow_local": True}, "not_found"),
    ):
        body = error(call(server, "kitaru_deployments_deploy", arguments))
        assert body["code"] == code, body
    assert data(call(server, "kitaru_deployments_list", {"flow": flow}))["items"] == []
    assert data(call(server, "kitaru_deployments_list", {"flow": "outside_agent"}))["items"] == []
    body = error(call(server, "kitaru_deployments_invoke", {"flow": flow}))
    assert body["code"] == "not_found"


def test_deployment_tools_follow_the_mode(zenml_client: Any) -> None:
    read_only = build_server("read-only", allow_paths=[FLOWS_DIR])
    for tool in (
        "kitaru_deployments_deploy",
        "kitaru_deployments_invoke",
        "kitaru_deployments_tag",
    ):
        body = error(call(read_only, tool, {"flow": "x"}))
        assert body["code"] == "mode_forbidden" and body["details"]["required_mode"] == "standard"
    standard = build_server("standard", allow_paths=[FLOWS_DIR])
    for tool in ("kitaru_deployments_untag", "kitaru_deployments_delete"):
        body = error(call(standard, tool, {"flow": "x"}))
        assert (
            body["code"] == "mode_forbidden" and body["details"]["required_mode"] == "destructive"
        )
    # Reads stay available in read-only mode.
    assert (
        data(call(read_only, "kitaru_deployments_list", {"flow": "never_deployed"}))["items"] == []
    )
