"""``kitaru_flows_list`` / ``kitaru flow list`` / ``KitaruClient().flows.list()``: the flows the
store knows (they ran or were deployed), with target, typed parameters, last execution and
deployed versions, on a real store through every surface."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _mcp_support import call, data, error, list_tools
from cli_support import TESTS_DIR, kitaru, kitaru_error, kitaru_json
from flows_catalog.deployed import catalog_agent
from flows_catalog.logged import logged_flow
from flows_exec.support import new_salt
from jsonschema import Draft202012Validator

from kitaru_core import KitaruClient, KitaruValidationError
from kitaru_core.models import FlowInfo
from kitaru_core.services import deployments, executions, flows
from kitaru_mcp.server import build_server

CATALOG = TESTS_DIR / "flows_catalog"


@pytest.fixture(scope="module")
def known(zenml_client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``logged_flow`` ran twice (no LLM call); ``catalog_agent`` has two local versions and
    never ran."""
    workdir = tmp_path_factory.mktemp("flows")
    ran = [logged_flow.run(str(workdir), new_salt(), limit=2, ask=False).exec_id for _ in range(2)]
    for exec_id in ran:
        executions.get(exec_id)  # both finished (run() in-process returns once they did)
    if not deployments.list_deployments("catalog_agent"):
        catalog_agent.deploy(allow_local=True, topic="durable agents")
        catalog_agent.deploy(allow_local=True, tag="beta", topic="v2")
    return {"ran": ran}


def by_name(items: list[FlowInfo]) -> dict[str, FlowInfo]:
    return {item.name: item for item in items}


def test_a_flow_that_ran_shows_target_parameters_and_last_execution(
    known: dict[str, Any],
) -> None:
    items, _ = flows.list_flows(limit=200)
    flow = by_name(items)["logged_flow"]
    assert flow.target == f"{CATALOG / 'logged.py'}:logged_flow"
    types = {p.name: p.type for p in flow.parameters}
    assert types == {
        "workdir": "string",
        "salt": "string",
        "limit": "integer",
        "note": "string | null",
        "ask": "boolean",
    }
    assert flow.last_execution is not None
    latest = executions.latest(flow="logged_flow")
    assert flow.last_execution.exec_id == latest.exec_id
    assert flow.last_execution.status == latest.status
    assert flow.last_execution.started_at == latest.started_at
    assert flow.deployments == []


def test_a_deployed_flow_shows_its_versions_tags_and_signature(known: dict[str, Any]) -> None:
    flow = by_name(flows.list_flows(limit=200)[0])["catalog_agent"]
    assert flow.last_execution is None  # deployed, never run
    assert flow.target == f"{CATALOG / 'deployed.py'}:catalog_agent"
    assert [(d.version, {t.name for t in d.tags}, d.local) for d in flow.deployments] == [
        (1, {"default"}, True),
        (2, {"beta"}, True),
    ]
    # The deployment saved the real signature: which inputs are required is known.
    assert [(p.name, p.type, p.required) for p in flow.parameters] == [
        ("topic", "string", True),
        ("depth", "integer", False),
        ("tags", "array[string] | null", False),
    ]


def test_pages_walk_every_flow_once(known: dict[str, Any]) -> None:
    everything, last = flows.list_flows(limit=200)
    assert last is None
    names = [item.name for item in everything]
    assert names == sorted(names)
    walked: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = flows.list_flows(limit=1, cursor=cursor)
        assert len(page) == 1
        walked.append(page[0].name)
        if cursor is None:
            break
    assert walked == names


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"cursor": "garbled"}, "cursor")],
)
def test_bad_paging_is_a_validation_error(
    known: dict[str, Any], arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(KitaruValidationError) as info:
        flows.list_flows(**arguments)
    assert field in str(info.value.details)


def test_the_sdk_lists_flows(known: dict[str, Any]) -> None:
    names = {item.name for item in KitaruClient().flows.list(limit=200)}
    assert {"logged_flow", "catalog_agent"} <= names


# ------------------------------------------------------------------------------------ CLI


def test_cli_flow_list_json(known: dict[str, Any]) -> None:
    listed = kitaru_json("flow", "list", "--limit", "200")
    assert listed["count"] == len(listed["items"]) and listed["next_cursor"] is None
    flow = {item["name"]: item for item in listed["items"]}["catalog_agent"]
    assert flow["target"].endswith("deployed.py:catalog_agent")
    assert flow["deployments"][0]["tags"] == [{"name": "default", "exclusive": True}]
    first = kitaru_json("flow", "list", "--limit", "1")
    assert first["count"] == 1 and first["next_cursor"]
    second = kitaru_json("flow", "list", "--limit", "1", "--cursor", first["next_cursor"])
    assert second["items"][0]["name"] != first["items"][0]["name"]


def test_cli_flow_list_table(known: dict[str, Any]) -> None:
    table = kitaru("flow", "list", "--limit", "200").stdout
    assert "catalog_agent" in table and "logged_flow" in table
    assert "v1 [default*]" in table and "v2 [beta]" in table
    assert "depth?: integer" in table  # ? marks an optional input
    assert known["ran"][-1] in table or executions.latest(flow="logged_flow").exec_id in table


def test_cli_flow_list_bad_limit(known: dict[str, Any]) -> None:
    body = kitaru_error("flow", "list", "--limit", "0", code=2)
    assert body["code"] == "validation_error" and "limit" in body["message"]


# ------------------------------------------------------------------------------------ MCP


def test_mcp_flows_list_in_read_only_mode(known: dict[str, Any]) -> None:
    server = build_server("read-only")
    tools = {tool.name: tool for tool in list_tools(server)}
    assert "kitaru_flows_list" in tools
    page = data(call(server, "kitaru_flows_list", {"limit": 200}))
    # What a strict client checks: the result against the declared outputSchema, formats too.
    schema = tools["kitaru_flows_list"].output_schema
    assert schema is not None
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(page)
    assert page["count"] == len(page["items"]) and page["next_cursor"] is None
    flow = {item["name"]: item for item in page["items"]}["logged_flow"]
    assert flow["last_execution"]["status"] == "completed"
    assert {p["name"] for p in flow["parameters"]} >= {"workdir", "salt", "limit"}
    first = data(call(server, "kitaru_flows_list", {"limit": 1}))
    assert first["count"] == 1 and first["next_cursor"]
    second = data(call(server, "kitaru_flows_list", {"limit": 1, "cursor": first["next_cursor"]}))
    assert second["items"][0]["name"] != first["items"][0]["name"]


def test_mcp_flows_list_refuses_a_garbled_cursor(known: dict[str, Any]) -> None:
    result = call(build_server("read-only"), "kitaru_flows_list", {"cursor": "garbled"})
    body = error(result)
    assert body["code"] == "validation_error" and "cursor" in json.dumps(body)


def test_a_flow_defined_without_a_file_has_no_target(tmp_path: Path) -> None:
    from kitaru_core.backend.flows import FlowRecord
    from kitaru_core.services.flows import run_target

    source = {"module": "__main__", "attribute": "__kitaru_flow__adhoc"}
    assert run_target(FlowRecord(name="adhoc", source=source, interactive=True)) is None
    assert run_target(FlowRecord(name="adhoc", source=source, source_root=str(tmp_path))) is None
    moved = {"module": "pkg.flows", "attribute": "__kitaru_flow__adhoc"}
    # The file is gone from this machine: the module target still names it.
    assert run_target(FlowRecord(name="adhoc", source=moved, source_root=str(tmp_path))) == (
        "pkg.flows:adhoc"
    )
    plain = {"module": "pkg.flows", "attribute": "some_zenml_pipeline"}
    assert run_target(FlowRecord(name="adhoc", source=plain)) is None
