"""Schema truth: every tool's result validates against the ``outputSchema`` it declares.

Strict clients (the TypeScript SDK inside Claude Code and IDE agents) check each
``structuredContent`` against the tool's ``outputSchema`` with format checks, and reject the
whole result on any mismatch. So this module drives EVERY tool of a destructive-mode server
through the official client, on a store holding executions in every status, pending waits,
cached and failed checkpoints, an ``llm_call``, artifacts, two flows' deployments with tags and a
non-default stack, and validates what comes back with a strict Draft 2020-12 validator
(``date-time`` and other formats enforced). Error results must carry no ``structuredContent``.

The scenario table (:func:`_scenario`) holds one or more cases per tool; a tool the server lists
without a case fails :func:`test_every_listed_tool_has_a_case`. The store is built once per
module. Arguments an assistant sends as strings (``"20"``, ``"true"``, a JSON-object string for a
dict parameter) are part of the cases, and the ones that cannot be coerced must be refused with
a validation error naming the field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _mcp_flows import FLOWS_DIR, new_salt, settle
from _mcp_support import call, data, error, list_tools
from jsonschema import Draft202012Validator
from mcp.types import CallToolResult

from kitaru_mcp.server import KitaruMCPServer, build_server

TRUTH = FLOWS_DIR / "schema_truth.py"
FORMATS = Draft202012Validator.FORMAT_CHECKER


@dataclass
class Probe:
    """One recorded tool call: what was sent, what came back, and what was expected."""

    tool: str
    label: str
    arguments: dict[str, Any]
    result: CallToolResult
    expected_error: str | None


@dataclass
class World:
    """The server, the schemas it declares, and every call the scenario made."""

    server: KitaruMCPServer
    schemas: dict[str, dict[str, Any] | None]
    probes: list[Probe] = field(default_factory=list)
    ids: dict[str, Any] = field(default_factory=dict)

    def ok(self, tool: str, label: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """A case that must succeed; returns its structured content."""
        result = self._record(tool, label, arguments or {}, None)
        assert not result.is_error, f"{tool} [{label}]: {result.content}"
        return data(result)

    def fails(self, tool: str, label: str, arguments: dict[str, Any], code: str) -> None:
        """A case that must be refused with ``code`` (checked by
        :func:`test_refusals_are_error_results_without_structured_content`)."""
        self._record(tool, label, arguments, code)

    def _record(
        self, tool: str, label: str, arguments: dict[str, Any], code: str | None
    ) -> CallToolResult:
        result = call(self.server, tool, arguments)
        self.probes.append(Probe(tool, label, arguments, result, code))
        return result


def strict_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """What a strict client does: Draft 2020-12 with format checks."""
    return Draft202012Validator(schema, format_checker=FORMATS)


# ------------------------------------------------------------------------------- scenario


def _target(flow: str) -> str:
    return str(TRUTH) + ":" + flow


def _executions(world: World, workdir: Path) -> None:
    """Executions in every status, waits, cached/failed checkpoints, an llm call, artifacts."""
    ids = world.ids
    agents = FLOWS_DIR / "agents.py"
    salt = new_salt()
    ids["gate"] = workdir / "gate"
    start = world.ok  # brevity
    ids["hold"] = start(
        "kitaru_executions_run",
        "running flow",
        {
            "target": _target("truth_hold_flow"),
            "args": {"gate_file": str(ids["gate"]), "salt": salt},
        },
    )["exec_id"]
    # args as a JSON-object string, wait_seconds as a numeric string: both coerced.
    greet = start(
        "kitaru_executions_run",
        "args as JSON string, follows to completion",
        {
            "target": f"{agents}:greet_flow",
            "args": json.dumps({"name": "Ada", "salt": salt}),
            "wait_seconds": "60",
        },
    )
    ids["greet"] = greet["exec_id"]
    plain = {"target": f"{agents}:fragile_flow", "args": {"workdir": str(workdir), "salt": salt}}
    ids["failed"] = start("kitaru_executions_run", "failing flow", plain)["exec_id"]
    llm_args = {"target": _target("truth_llm_flow"), "args": {"salt": salt}}
    ids["llm"] = start("kitaru_executions_run", "llm flow", llm_args)["exec_id"]
    for key, flow, timeout in (
        ("approval", "approval_flow", 60),
        ("gate_wait", "gate_flow", 60),
        ("released", "approval_flow", 0),  # timeout 0: stays waiting without a worker
    ):
        arguments = {"target": f"{agents}:{flow}", "args": {"salt": new_salt(), "timeout": timeout}}
        ids[key] = start("kitaru_executions_run", f"{flow} timeout={timeout}", arguments)["exec_id"]
    world.fails(
        "kitaru_executions_run",
        "target outside the allowed roots",
        {"target": "/etc/not_a_flow.py:nothing"},
        "validation_error",
    )
    settle(world.server, ids["greet"])
    # The same inputs again: every checkpoint is a cache hit.
    again = {"target": f"{agents}:greet_flow", "args": {"name": "Ada", "salt": salt}}
    ids["cached"] = start("kitaru_executions_run", "cached rerun", again)["exec_id"]
    for key in ("cached", "failed", "llm"):
        settle(world.server, ids[key])
    for key in ("approval", "gate_wait", "released"):
        settle(world.server, ids[key], until=("waiting",))


def _reads(world: World) -> None:
    ids, ok, fails = world.ids, world.ok, world.fails
    for key in ("hold", "approval", "greet", "cached", "failed", "llm"):
        ok("kitaru_executions_get", f"{key} execution", {"exec_id": ids[key]})
    fails("kitaru_executions_get", "unknown id", {"exec_id": str(uuid.uuid4())}, "not_found")
    ok("kitaru_executions_list", "everything")
    for status in ("running", "waiting", "completed", "failed"):
        ok("kitaru_executions_list", f"status={status}", {"status": status})
    first = ok("kitaru_executions_list", "limit as a string", {"limit": "2"})
    assert first["count"] == 2 and first["next_cursor"]
    ok("kitaru_executions_list", "second page", {"limit": 2, "cursor": first["next_cursor"]})
    fails("kitaru_executions_list", "limit not a number", {"limit": "many"}, "validation_error")
    ok("kitaru_executions_latest", "newest")
    ok("kitaru_executions_latest", "newest failed", {"flow": "fragile_flow", "status": "failed"})
    fails("kitaru_executions_latest", "no match", {"flow": "no_such_flow_zz"}, "not_found")
    ok("kitaru_executions_logs", "tail", {"exec_id": ids["greet"]})
    ok(
        "kitaru_executions_logs",
        "head, strings",
        {"exec_id": ids["greet"], "head": "true", "limit": "3"},
    )
    ok("kitaru_executions_waiting", "pending waits")
    ok("kitaru_executions_waiting", "one per page", {"limit": 1})
    artifacts = ok("kitaru_artifacts_list", "greet artifacts", {"exec_id": ids["greet"]})
    assert artifacts["items"], artifacts
    ok("kitaru_artifacts_list", "by name", {"exec_id": ids["greet"], "name": "draft"})
    for item in artifacts["items"][:2]:
        ok("kitaru_artifacts_get", item["name"], {"artifact_id": item["artifact_id"]})
    first_id = artifacts["items"][0]["artifact_id"]
    ok("kitaru_artifacts_get", "tiny max_chars", {"artifact_id": first_id, "max_chars": "100"})
    fails(
        "kitaru_artifacts_get", "unknown artifact", {"artifact_id": str(uuid.uuid4())}, "not_found"
    )


def _controls(world: World) -> None:
    ids, ok, fails = world.ids, world.ok, world.fails
    greet = ids["greet"]
    ok(
        "kitaru_executions_replay",
        "dry run, bool as string",
        {"exec_id": greet, "from_checkpoint": "polish", "dry_run": "true"},
    )
    ok(
        "kitaru_executions_replay",
        "dry run, overrides as JSON string",
        {"exec_id": greet, "overrides": json.dumps({"checkpoint.compose": "hi"}), "dry_run": True},
    )
    fails(
        "kitaru_executions_replay",
        "overrides not an object",
        {"exec_id": greet, "overrides": "[1, 2]", "dry_run": True},
        "validation_error",
    )
    ids["replay"] = ok(
        "kitaru_executions_replay", "live", {"exec_id": greet, "from_checkpoint": "polish"}
    )["started"]["exec_id"]
    ok("kitaru_executions_retry", "failed execution", {"exec_id": ids["failed"]})
    fails("kitaru_executions_retry", "completed execution", {"exec_id": greet}, "invalid_state")
    answer = json.dumps({"decision": "approve"})  # value as a JSON-object string
    ok(
        "kitaru_executions_input",
        "answer as JSON string",
        {"exec_id": ids["approval"], "value": answer},
    )
    fails(
        "kitaru_executions_input",
        "answer outside the schema",
        {"exec_id": ids["released"], "value": {"decision": "maybe"}},
        "wait_validation_error",
    )
    recorded = {"exec_id": ids["released"], "value": {"decision": "reject"}, "resume": "false"}
    ok("kitaru_executions_input", "record only", recorded)
    ok("kitaru_executions_resume", "answered wait", {"exec_id": ids["released"]})
    fails("kitaru_executions_resume", "completed execution", {"exec_id": greet}, "invalid_state")
    ok("kitaru_executions_abort_wait", "gate", {"exec_id": ids["gate_wait"], "wait": "go"})
    ok("kitaru_executions_cancel", "running execution", {"exec_id": ids["hold"]})
    fails("kitaru_executions_cancel", "finished execution", {"exec_id": greet}, "invalid_state")
    for key in ("approval", "released", "gate_wait", "hold", "replay"):
        settle(world.server, ids[key])
    ok("kitaru_executions_get", "cancelled execution", {"exec_id": ids["hold"]})
    ok("kitaru_executions_list", "status=cancelled", {"status": "cancelled"})


def _deployments(world: World) -> None:
    ok, fails = world.ok, world.fails
    salt = new_salt()
    agent, other = "truth_deployed_agent", "truth_other_agent"
    deploy = "kitaru_deployments_deploy"
    ok(
        deploy,
        "first version",
        {"target": _target(agent), "inputs": {"topic": "a", "salt": salt}, "allow_local": True},
    )
    ok(
        deploy,
        "canary, strings for bools and inputs",
        {
            "target": _target(agent),
            "inputs": json.dumps({"topic": "b", "salt": salt}),
            "tag": "canary",
            "exclusive": "true",
            "allow_local": "true",
        },
    )
    ok(
        deploy,
        "another flow",
        {"target": _target(other), "inputs": {"topic": "c"}, "allow_local": True},
    )
    third = ok(
        deploy,
        "shared tag",
        {"target": _target(agent), "inputs": {"topic": "d"}, "tag": "scratch", "allow_local": True},
    )
    fails(
        deploy,
        "local stack without allow_local",
        {"target": _target(other), "inputs": {"topic": "e"}},
        "invalid_state",
    )
    ok("kitaru_deployments_list", "one flow", {"flow": agent})
    everything = ok("kitaru_deployments_list", "every flow")
    world.ids["all_deployments"] = everything
    page = ok("kitaru_deployments_list", "every flow, one per page", {"limit": "1"})
    ok(
        "kitaru_deployments_list",
        "every flow, next page",
        {"limit": 1, "cursor": page["next_cursor"]},
    )
    ok("kitaru_flows_list", "runs and deployments")
    # The store is shared with the other tests of this process: look at every flow.
    flows = ok("kitaru_flows_list", "every flow", {"limit": 200})
    assert agent in {item["name"] for item in flows["items"]}
    first = ok("kitaru_flows_list", "one per page", {"limit": "1"})
    if first["next_cursor"]:
        ok("kitaru_flows_list", "next page", {"limit": 1, "cursor": first["next_cursor"]})
    fails("kitaru_flows_list", "garbled cursor", {"cursor": "not-a-cursor"}, "validation_error")
    ok("kitaru_deployments_get", "by tag", {"flow": agent, "tag": "canary"})
    ok("kitaru_deployments_get", "default route", {"flow": agent})
    fails("kitaru_deployments_get", "unknown tag", {"flow": agent, "tag": "prod"}, "not_found")
    ok(
        "kitaru_deployments_tag",
        "shared tag, version as string",
        {"flow": agent, "tag": "beta", "version": "2"},
    )
    ok("kitaru_deployments_untag", "shared tag", {"flow": agent, "tag": "beta", "version": 2})
    fails(
        "kitaru_deployments_untag",
        "default",
        {"flow": agent, "tag": "default", "version": 1},
        "invalid_state",
    )
    inputs = json.dumps({"topic": "from a consumer"})
    started = ok(
        "kitaru_deployments_invoke",
        "canary, inputs as string",
        {"flow": agent, "tag": "canary", "inputs": inputs},
    )
    settle(world.server, started["exec_id"])
    fails("kitaru_deployments_curl", "local deployment", {"flow": agent}, "invalid_state")
    ok(
        "kitaru_deployments_delete",
        "shared-tag version",
        {"flow": agent, "version": third["version"]},
    )
    fails(
        "kitaru_deployments_delete", "holds default", {"flow": agent, "version": 1}, "invalid_state"
    )


def _stacks_and_system(world: World) -> None:
    ok, fails = world.ok, world.fails
    name = f"truth-{new_salt()[:8]}"
    ok("kitaru_stacks_create", "local, activate as string", {"name": name, "activate": "false"})
    fails(
        "kitaru_stacks_create",
        "unknown type",
        {"name": name + "x", "stack_type": "mainframe"},
        "validation_error",
    )
    ok("kitaru_stacks_list", "all")
    ok("kitaru_stacks_list", "one per page", {"limit": 1})
    ok("kitaru_stacks_current", "default active")
    ok("kitaru_stacks_show", "non-default", {"name": name})
    ok("kitaru_stacks_show", "active")
    ok("kitaru_stacks_use", "switch", {"name": name})
    ok("kitaru_stacks_current", "non-default active")
    ok("kitaru_stacks_use", "back to default", {"name": "default"})
    ok("kitaru_stacks_delete", "non-default", {"name": name})
    fails("kitaru_stacks_delete", "unknown", {"name": name}, "not_found")
    ok("kitaru_status", "local store")
    ok("kitaru_info", "diagnostics")
    ok("kitaru_server_stop", "no server running")
    fails("kitaru_server_start", "port out of range", {"port": 80}, "validation_error")


@pytest.fixture(scope="module")
def world(zenml_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = build_server("destructive", allow_paths=[FLOWS_DIR])
    schemas = {tool.name: tool.output_schema for tool in list_tools(server)}
    built = World(server=server, schemas=schemas)
    workdir = tmp_path_factory.mktemp("schema-truth")
    try:
        _executions(built, workdir)
        _reads(built)
        _controls(built)
        _deployments(built)
        _stacks_and_system(built)
        yield built
    finally:
        (workdir / "gate").write_text("open")  # never leave the held worker behind
        zenml_client.activate_stack("default")


# ------------------------------------------------------------------------------------ tests


def _server_connection() -> dict[str, Any]:
    from kitaru_core.models_system import ServerConnection

    made = ServerConnection(kind="local_server", url="http://127.0.0.1:8237", project="default")
    return made.model_dump(mode="json")


def _curl_command() -> dict[str, Any]:
    from kitaru_core.models import CurlCommand

    made = CurlCommand(flow="f", version=2, command="curl …", warning="pinned to version 2")
    return made.model_dump(mode="json")


# Tools whose success needs what this machine cannot offer in a test (a real server start, a
# remote deployment behind a server): the scenario has their refusals, and the model they
# return is checked against their declared schema here instead.
REFUSAL_ONLY = {
    "kitaru_server_start": _server_connection,
    "kitaru_deployments_curl": _curl_command,
}


def test_every_listed_tool_has_a_case(world: World) -> None:
    probed = {probe.tool for probe in world.probes}
    assert sorted(set(world.schemas) - probed) == [], "a listed tool has no case"
    succeeded = {probe.tool for probe in world.probes if probe.expected_error is None}
    assert sorted(set(world.schemas) - succeeded) == sorted(REFUSAL_ONLY)


@pytest.mark.parametrize("tool", sorted(REFUSAL_ONLY))
def test_refusal_only_tools_results_fit_their_schema(world: World, tool: str) -> None:
    schema = world.schemas[tool]
    assert schema is not None
    assert not list(strict_validator(schema).iter_errors(REFUSAL_ONLY[tool]()))


def test_every_tool_declares_a_valid_output_schema(world: World) -> None:
    for name, schema in world.schemas.items():
        assert schema is not None, f"{name} has no outputSchema"
        Draft202012Validator.check_schema(schema)
        unknown = sorted(set(_formats(schema)) - set(FORMATS.checkers))
        assert not unknown, f"{name} uses formats a strict client cannot check: {unknown}"


def test_every_structured_result_validates_strictly(world: World) -> None:
    problems = []
    for probe in world.probes:
        if probe.result.is_error:
            continue
        schema = world.schemas[probe.tool]
        assert schema is not None and probe.result.structured_content is not None
        for problem in strict_validator(schema).iter_errors(probe.result.structured_content):
            where = "/".join(str(part) for part in problem.absolute_path)
            problems.append(f"{probe.tool} [{probe.label}] {where}: {problem.message}")
    assert not problems, "\n".join(problems)


def test_refusals_are_error_results_without_structured_content(world: World) -> None:
    refusals = [probe for probe in world.probes if probe.expected_error is not None]
    assert len(refusals) > 10, "the scenario has refusal cases"
    wrong = []
    for probe in refusals:
        body = error(probe.result)  # isError, no structuredContent, the envelope as text
        if body["code"] != probe.expected_error:
            wrong.append(f"{probe.tool} [{probe.label}]: {body['code']} ({body['message']})")
        wire = probe.result.model_dump(by_alias=True, exclude_none=True, mode="json")
        assert "structuredContent" not in wire
    assert not wrong, "\n".join(wrong)


def test_the_store_held_every_status_and_kind_of_record(world: World) -> None:
    seen = {
        (probe.result.structured_content or {}).get("status")
        for probe in world.probes
        if probe.tool == "kitaru_executions_get" and not probe.result.is_error
    }
    assert seen == {"running", "waiting", "completed", "failed", "cancelled"}
    details = [
        probe.result.structured_content or {}
        for probe in world.probes
        if probe.tool == "kitaru_executions_get" and not probe.result.is_error
    ]
    calls = [call for item in details for call in item.get("checkpoints", [])]
    assert any(call["cached"] for call in calls)
    assert any(call["status"] == "failed" for call in calls)
    assert any(call["type"] == "llm_call" for call in calls)
    assert any(item.get("pending_wait") for item in details)


def test_timestamps_are_utc_with_an_offset(world: World) -> None:
    stamps = [
        value
        for probe in world.probes
        if not probe.result.is_error
        for value in _values_named(probe.result.structured_content, ("_at", "timestamp"))
    ]
    assert len(stamps) > 20
    assert all(isinstance(s, str) and (s.endswith("Z") or s.endswith("+00:00")) for s in stamps), (
        stamps
    )


def test_the_validator_enforces_date_time() -> None:
    """Self-check: the strict validator really rejects a timestamp without a time zone."""
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    validator = strict_validator(schema)
    assert not list(validator.iter_errors({"at": "2026-12-06T21:30:20.661709Z"}))
    assert not list(validator.iter_errors({"at": "2026-12-06T21:30:20+00:00"}))
    assert list(validator.iter_errors({"at": "2026-12-06T21:30:20.661709"}))


def test_deployments_list_without_flow_shows_every_flow_newest_first(world: World) -> None:
    page = world.ids["all_deployments"]
    flows = [item["flow"] for item in page["items"]]
    assert {"truth_deployed_agent", "truth_other_agent"} <= set(flows)
    stamps = [item["created_at"] for item in page["items"]]
    assert stamps == sorted(stamps, reverse=True)
    probes = [p for p in world.probes if p.tool == "kitaru_deployments_list"]
    one = next(p for p in probes if p.label == "every flow, one per page")
    nxt = next(p for p in probes if p.label == "every flow, next page")
    assert one.result.structured_content and nxt.result.structured_content
    assert one.result.structured_content["items"][0] == page["items"][0]
    assert nxt.result.structured_content["items"][0] == page["items"][1]


def test_cli_lists_every_flows_deployments_with_utc_times(world: World) -> None:
    """`kitaru flow deployments list` without FLOW: the same list as the MCP tool, and the
    CLI's JSON carries the same RFC 3339 UTC timestamps; a table shows the flow column."""
    from cli_support import kitaru, kitaru_json

    listed = kitaru_json("flow", "deployments", "list")["items"]
    ours = [(i["flow"], i["version"]) for i in listed if i["flow"].startswith("truth_")]
    # Newest first; version 3 of the agent was deleted by the scenario.
    assert ours == [
        ("truth_other_agent", 1),
        ("truth_deployed_agent", 2),
        ("truth_deployed_agent", 1),
    ]
    stamps = [item["created_at"] for item in listed]
    assert stamps == sorted(stamps, reverse=True) and all(s.endswith("Z") for s in stamps)
    table = kitaru("flow", "deployments", "list").stdout
    assert "truth_deployed_agent" in table and "truth_other_agent" in table


def test_models_hold_every_time_as_aware_utc() -> None:
    """Naive values (ZenML's, meaning UTC) are taken as UTC; aware ones are converted."""
    from datetime import UTC, datetime, timedelta, timezone

    from kitaru_core.cli.render import jsonable
    from kitaru_core.models import Execution, LogEntry

    naive = datetime(2026, 12, 6, 21, 30, 20, 661709)
    plus_two = datetime(2026, 12, 6, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    execution = Execution(exec_id="e", flow="f", status="running", started_at=naive)
    assert execution.started_at == naive.replace(tzinfo=UTC)
    assert execution.model_dump(mode="json")["started_at"] == "2026-12-06T21:30:20.661709Z"
    entry = LogEntry(timestamp=plus_two, message="m")
    assert entry.timestamp is not None and entry.timestamp.utcoffset() == timedelta(0)
    assert entry.model_dump(mode="json")["timestamp"] == "2026-12-06T21:30:00Z"
    # The CLI's JSON of a bare datetime (outside a model) follows the same form.
    assert jsonable({"at": naive}) == {"at": "2026-12-06T21:30:20.661709Z"}


@pytest.mark.parametrize(
    ("tool", "arguments", "field_name"),
    [
        ("kitaru_executions_list", {"limit": "twenty"}, "limit"),
        ("kitaru_executions_list", {"limit": "0"}, "limit"),
        ("kitaru_executions_replay", {"exec_id": "x", "dry_run": "perhaps"}, "dry_run"),
        ("kitaru_executions_replay", {"exec_id": "x", "flow_inputs": "not json"}, "flow_inputs"),
        ("kitaru_deployments_invoke", {"flow": "f", "inputs": "[1]"}, "inputs"),
        ("kitaru_deployments_tag", {"flow": "f", "tag": "t", "version": "two"}, "version"),
        ("kitaru_executions_run", {"target": "x.py:f", "args": "{broken"}, "args"),
    ],
)
def test_string_arguments_that_cannot_be_coerced_are_refused_by_name(
    world: World, tool: str, arguments: dict[str, Any], field_name: str
) -> None:
    body = error(call(world.server, tool, arguments))
    assert body["code"] == "validation_error"
    assert field_name in body["details"]["fields"], body


# ---------------------------------------------------------------------------------- helpers


def _formats(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            yield schema["format"]
        for value in schema.values():
            yield from _formats(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _formats(value)


def _values_named(value: Any, suffixes: tuple[str, ...]) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(suffixes) and item is not None:
                yield item
            else:
                yield from _values_named(item, suffixes)
    elif isinstance(value, list):
        for item in value:
            yield from _values_named(item, suffixes)
