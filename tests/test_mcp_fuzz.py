"""Fuzzed tool input: every tool of a destructive-mode server, called with arguments generated
from its own ``inputSchema`` (as ``tools/list`` publishes it) and then bent out of shape.

The promise under test (SPEC §6): every call comes back as a valid result or as an ``isError``
result whose JSON body carries a ``code`` — never a traceback — and a refused call changes
nothing in the store (executions and their statuses, wait conditions, deployment tags, stacks).
The server runs in memory against this process's real store, with one real execution waiting
on a typed question and one real local deployment for the fuzzed calls to hit.

Tools that would start or stop real work given valid input only ever get input that cannot
start it: flow targets that escape the allowed roots, unknown flows and execution ids, and for
``kitaru_server_start``/``_stop`` always an unknown argument.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from _mcp_flows import FLOWS_DIR, new_salt, target
from _mcp_support import call, data, error, list_tools, text
from flows_mcp.agents import APPROVAL_SCHEMA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.types import CallToolResult

from kitaru_mcp import registry
from kitaru_mcp.server import KitaruMCPServer, build_server

FUZZ_FLOWS = FLOWS_DIR / "fuzzed.py"
FUZZ_FLOW = "mcp_fuzz_agent"
EXAMPLES_PER_TOOL = 8

# With valid input these start or stop real work (a flow, a worker, a daemon) or end the
# waiting execution the test depends on: they get only input that must be refused.
ALWAYS_UNKNOWN_ARGUMENT = {"kitaru_server_start", "kitaru_server_stop"}
FORGED_IDS_ONLY = {
    "kitaru_executions_cancel",
    "kitaru_executions_abort_wait",
    "kitaru_executions_replay",
    "kitaru_artifacts_get",
}
# Refuse a waiting execution (invalid_state / wait validation) or only read it.
REAL_ID_OK = {
    "kitaru_executions_get",
    "kitaru_executions_logs",
    "kitaru_executions_input",
    "kitaru_executions_resume",
    "kitaru_executions_retry",
    "kitaru_artifacts_list",
}
DEPLOYMENT_SELECTORS = {
    "kitaru_deployments_get",
    "kitaru_deployments_tag",
    "kitaru_deployments_untag",
    "kitaru_deployments_delete",
    "kitaru_deployments_curl",
}

# ---------------------------------------------------------------------------- strategies

HUGE_AND_ODD = [
    "x" * 100_000,
    "é" * 30_000,
    "\U0001f600" * 20_000,
    "\x00" * 64,
    "\ud800",
    "\u202eevil",
    "line\nbreak\r\n\t",
    "' OR 1=1 --",
    "%s%n{0}{{}}",
    "${HOME}",
    "../../etc/passwd",
    "",
    " ",
]
STRINGS = st.text(max_size=30) | st.sampled_from(HUGE_AND_ODD)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | STRINGS
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
EXTREME_INTS = st.sampled_from([-(2**63), -(2**31), -1, 0, 201, 1001, 50_001, 2**31, 2**63, 10**30])
FORGED_IDS = (
    st.uuids().map(str)
    | STRINGS
    | st.sampled_from(["00000000-0000-0000-0000-000000000000", "None", "null", "*", "%"])
)


def _cursor(payload: Any) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors shaped like Kitaru's own (base64 JSON) with offsets no page ever returned.
FORGED_CURSORS = (
    st.builds(lambda offset: _cursor({"o": offset}), EXTREME_INTS | JSON_VALUES)
    | st.builds(_cursor, JSON_VALUES)
    | st.binary(max_size=40).map(lambda raw: base64.urlsafe_b64encode(raw).decode())
    | STRINGS
)
NEAR_MISS_ANSWERS = [
    None,
    {},
    {"decision": "maybe"},
    {"decision": "APPROVE"},
    {"decision": ["approve"]},
    {"decision": None},
    {"decision": "approve", "reviewer": 5},
    {"reviewer": "ada"},
    "approve",
    ["approve"],
    True,
    0,
]
_APPROVAL = jsonschema.Draft202012Validator(APPROVAL_SCHEMA)
# Answers that break the waiting execution's schema (anything that fits is filtered out).
VIOLATING_ANSWERS = (
    st.sampled_from(NEAR_MISS_ANSWERS)
    | JSON_VALUES
    | st.fixed_dictionaries({"decision": JSON_VALUES}, optional={"reviewer": JSON_VALUES})
).filter(lambda value: not _APPROVAL.is_valid(value))


def fitting(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the type the schema declares (strings may still be huge or odd)."""
    if "enum" in schema:
        nullable = any(part.get("type") == "null" for part in schema.get("anyOf", []))
        return st.sampled_from([*schema["enum"], *([None] if nullable else [])])
    if "anyOf" in schema:
        return st.one_of([fitting(part) for part in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "string":
        return STRINGS
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(fitting(schema.get("items", {})), max_size=3)
    if kind == "object":
        return st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=3)
    return JSON_VALUES  # no type: any JSON value (e.g. an input's answer)


class FuzzWorld:
    """What the fuzzed calls may aim at: the waiting execution and the deployed flow."""

    def __init__(self, server: KitaruMCPServer, waiting_id: str, bad_targets: list[str]) -> None:
        self.server = server
        self.waiting_id = waiting_id
        self.bad_targets = bad_targets
        # The store as the last call left it (one read per call instead of two).
        self.last_snapshot: dict[str, Any] | None = None

    def field(self, tool: str, name: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
        """The strategy for one argument: the schema's own type, or a sharper one by name."""
        if name == "target":
            return st.sampled_from(self.bad_targets) | st.builds(
                lambda a, b: f"{a}:{b}", STRINGS, STRINGS
            )
        if name == "exec_id":
            if tool in REAL_ID_OK:
                return st.just(self.waiting_id) | FORGED_IDS
            return FORGED_IDS
        if name == "artifact_id":
            return FORGED_IDS
        if name == "cursor":
            return st.none() | FORGED_CURSORS
        if name in {"limit", "max_chars", "port", "version"}:
            return fitting(schema) | EXTREME_INTS
        if name == "value" and tool == "kitaru_executions_input":
            return VIOLATING_ANSWERS
        if name == "flow" and tool in DEPLOYMENT_SELECTORS:
            return st.just(FUZZ_FLOW) | STRINGS
        if name == "name" and tool.startswith("kitaru_stacks_"):
            return st.just("default") | STRINGS
        return fitting(schema)


@st.composite
def fuzzed_arguments(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    tool: str,
    schema: dict[str, Any],
    world: FuzzWorld,
) -> dict[str, Any]:
    """Arguments from the tool's input schema, then (maybe) wrong types, missing required
    fields and unknown fields."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    arguments: dict[str, Any] = {}
    for name, prop in properties.items():
        if name in required or draw(st.booleans()):
            arguments[name] = draw(world.field(tool, name, prop))
    if arguments and draw(st.integers(0, 3)) == 0:
        wrong = draw(st.sampled_from(sorted(arguments)))
        arguments[wrong] = draw(JSON_VALUES)
    if required and draw(st.integers(0, 4)) == 0:
        arguments.pop(draw(st.sampled_from(sorted(required))), None)
    if tool in ALWAYS_UNKNOWN_ARGUMENT or draw(st.integers(0, 4)) == 0:
        unknown = draw(st.text(min_size=1, max_size=20).filter(lambda n: n not in properties))
        arguments[unknown] = draw(JSON_VALUES)
    return arguments


# ------------------------------------------------------------------------------ the store


def store_snapshot(client: Any, ignore: set[str]) -> dict[str, Any]:
    """What a refused call must not change, read straight from ZenML's store.

    ``ignore``: executions other tests of this process left running; they may finish on
    their own while this module runs.
    """
    runs = client.list_pipeline_runs(size=1000, hydrate=False).items
    waits = client.list_run_wait_conditions(size=1000).items
    snapshots = client.list_snapshots(name="startswith:kitaru::", size=1000, hydrate=True).items
    stacks = client.list_stacks(size=1000).items
    return {
        "executions": {str(r.id): str(r.status) for r in runs if str(r.id) not in ignore},
        "waits": {str(w.id): (str(w.status), str(w.resolution)) for w in waits},
        "deployments": {s.name: sorted(t.name for t in s.tags or []) for s in snapshots},
        "stacks": sorted(s.name for s in stacks),
        "active_stack": client.active_stack_model.name,
    }


def _still_running(client: Any, mine: str) -> set[str]:
    runs = client.list_pipeline_runs(size=1000, hydrate=False).items
    active = {"running", "initializing", "provisioning", "resuming"}
    return {str(r.id) for r in runs if str(r.status) in active and str(r.id) != mine}


def _settled_foreign_runs(client: Any, mine: str, timeout: float = 60.0) -> set[str]:
    """Give executions left running by earlier tests of this process a moment to finish;
    return those that did not (they are left out of the snapshots). ``mine`` is the waiting
    execution, which ZenML shows running while its worker polls for the answer."""
    deadline = time.monotonic() + timeout
    while (running := _still_running(client, mine)) and time.monotonic() < deadline:
        time.sleep(1.0)
    return running


def _outside_flow(folder: Path, marker: Path) -> Path:
    """A flow file outside every allowed root; importing it would leave ``marker`` behind."""
    folder.mkdir()
    file = folder / "outside_flow.py"
    file.write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
        "from kitaru_core import flow\n\n@flow\ndef outside_flow() -> None:\n    return None\n"
    )
    return file


def _escaping_targets(allowed: Path, outside_file: Path) -> list[str]:
    """Targets that reach outside the allowed roots by ``..``, absolute paths and symlinks."""
    (allowed / "escape.py").symlink_to(outside_file)
    (allowed / "linked").symlink_to(outside_file.parent, target_is_directory=True)
    rel = f"../{outside_file.parent.name}/{outside_file.name}"
    return [
        f"{outside_file}:outside_flow",
        f"{allowed}/{rel}:outside_flow",
        f"{FLOWS_DIR}/../flows/basic.py:plain_flow",
        f"{FLOWS_DIR}/{os.path.relpath(outside_file, FLOWS_DIR)}:outside_flow",
        f"{allowed}/escape.py:outside_flow",
        f"{allowed}/linked/outside_flow.py:outside_flow",
        "tests/flows_mcp/../flows/basic.py:plain_flow",
        "/etc/passwd:root",
        "../../../../../../etc/passwd:x",
        "~/outside_flow.py:outside_flow",
        "json:loads",
        "os:system",
        "subprocess:run",
        "outside_flow:outside_flow",
        "flows.basic:plain_flow",
        f"file://{outside_file}:outside_flow",
        f"{outside_file}",
        ":",
        "",
        "a:b:c",
    ]


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fuzz(
    zenml_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FuzzWorld, set[str], Path]]:
    base = tmp_path_factory.mktemp("fuzz")
    allowed = base / "allowed"
    allowed.mkdir()
    marker = base / "imported"
    bad_targets = _escaping_targets(allowed, _outside_flow(base / "outside", marker))
    server = build_server("destructive", allow_paths=[FLOWS_DIR, allowed])
    started = data(
        call(
            server,
            "kitaru_executions_run",
            {
                "target": target("approval_flow"),
                "args": {"salt": new_salt(), "timeout": 600},
                "wait_seconds": 60,
            },
        )
    )
    assert started["status"] == "waiting", started
    deployed = call(
        server,
        "kitaru_deployments_deploy",
        {"target": f"{FUZZ_FLOWS}:{FUZZ_FLOW}", "inputs": {"topic": "t"}, "allow_local": True},
    )
    assert not deployed.is_error, text(deployed)
    ignore = _settled_foreign_runs(zenml_client, started["exec_id"])
    yield FuzzWorld(server, started["exec_id"], bad_targets), ignore, marker
    # Free the worker still polling the wait, and drop the stacks fuzzed creates made.
    call(server, "kitaru_executions_cancel", {"exec_id": started["exec_id"]})
    zenml_client.activate_stack("default")
    for stack in zenml_client.list_stacks(size=1000).items:
        if stack.name != "default":
            zenml_client.zen_store.delete_stack(stack.id)


@pytest.fixture(scope="module")
def schemas(fuzz: tuple[FuzzWorld, set[str], Path]) -> dict[str, dict[str, Any]]:
    return {tool.name: tool.input_schema for tool in list_tools(fuzz[0].server)}


# ---------------------------------------------------------------------------------- tests


def check_call(
    world: FuzzWorld, client: Any, ignore: set[str], tool: str, arguments: dict[str, Any]
) -> CallToolResult:
    """One fuzzed call: a result or a typed error, never a traceback; refused = no change."""
    before = world.last_snapshot or store_snapshot(client, ignore)
    world.last_snapshot = None  # if this call fails the test, the next one reads afresh
    result = call(world.server, tool, arguments)
    # A refusal never carries a server traceback. (A success may: a failed execution's view
    # shows the user's own traceback in failure.traceback, which is data, not a crash.)
    if result.is_error:
        assert "Traceback" not in text(result), text(result)[:2000]
    after = store_snapshot(client, ignore)
    if not result.is_error:
        assert result.structured_content is not None, text(result)[:2000]
    else:
        body = error(result)
        assert isinstance(body["code"], str) and body["code"], body
        # Bad input is the caller's to fix: never reported as a store failure.
        assert body["code"] != "backend_error", body
        assert after == before, (tool, body["code"])
    world.last_snapshot = after
    return result


@pytest.mark.parametrize("tool", sorted(registry.TOOLS))
def test_fuzzed_arguments_get_a_result_or_a_typed_error(
    tool: str,
    fuzz: tuple[FuzzWorld, set[str], Path],
    schemas: dict[str, dict[str, Any]],
    zenml_client: Any,
) -> None:
    world, ignore, marker = fuzz
    assert tool in schemas, f"{tool} is missing from tools/list in destructive mode"

    @settings(
        max_examples=EXAMPLES_PER_TOOL,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(arguments=fuzzed_arguments(tool, schemas[tool], world))
    def check(arguments: dict[str, Any]) -> None:
        check_call(world, zenml_client, ignore, tool, arguments)

    check()
    assert not marker.exists(), "a flow file outside the allowed roots was imported"
    # The server is still up and the waiting execution still waits for its answer.
    assert data(call(world.server, "kitaru_status"))["connection"]["kind"] == "local"
    waiting = data(call(world.server, "kitaru_executions_get", {"exec_id": world.waiting_id}))
    assert waiting["status"] == "waiting" and waiting["pending_wait"]["name"] == "approval"


@pytest.mark.parametrize("tool", ["kitaru_executions_run", "kitaru_deployments_deploy"])
def test_targets_outside_the_allowed_roots_are_refused_without_import(
    tool: str, fuzz: tuple[FuzzWorld, set[str], Path], zenml_client: Any
) -> None:
    world, ignore, marker = fuzz
    for bad in world.bad_targets:
        arguments: dict[str, Any] = {"target": bad}
        if tool == "kitaru_deployments_deploy":
            arguments.update(inputs={"topic": "t"}, allow_local=True)
        body = error(check_call(world, zenml_client, ignore, tool, arguments))
        assert body["code"] in {"validation_error", "usage_error", "not_found"}, (bad, body)
    # The escapes by path, '..' and symlink are refused as such, naming the field.
    for bad in world.bad_targets[:6]:
        body = error(call(world.server, tool, {"target": bad}))
        assert body["code"] == "validation_error" and "target" in body["details"]["fields"], bad
    assert not marker.exists()


def test_schema_violating_answers_leave_the_wait_pending(
    fuzz: tuple[FuzzWorld, set[str], Path], zenml_client: Any
) -> None:
    world, ignore, _ = fuzz

    @settings(max_examples=15, deadline=None, database=None)
    @given(value=VIOLATING_ANSWERS, wait=st.sampled_from([None, "approval"]))
    def check(value: Any, wait: str | None) -> None:
        arguments = {"exec_id": world.waiting_id, "value": value, "wait": wait}
        body = error(check_call(world, zenml_client, ignore, "kitaru_executions_input", arguments))
        assert body["code"] == "wait_validation_error", body

    check()
    pending = data(call(world.server, "kitaru_executions_waiting", {"limit": 200}))
    assert world.waiting_id in {item["exec_id"] for item in pending["items"]}


@pytest.mark.parametrize(
    "tool", ["kitaru_deployments_get", "kitaru_deployments_curl", "kitaru_deployments_list"]
)
def test_a_flow_name_too_long_to_exist_has_no_deployments(
    tool: str, fuzz: tuple[FuzzWorld, set[str], Path], zenml_client: Any
) -> None:
    # Found by the fuzzer: SQLite refused the LIKE pattern of a 100,000-character flow name
    # and the caller got a backend_error ("Could not reach the store") instead of not_found.
    world, ignore, _ = fuzz
    result = check_call(world, zenml_client, ignore, tool, {"flow": "f" * 100_000})
    if tool == "kitaru_deployments_list":
        assert data(result)["items"] == []
    else:
        assert error(result)["code"] == "not_found"
