"""The human answers, not the model: pending waits put to the user through MCP elicitation.

The schema mapping is tested as pure functions. Everything else goes through the official
client (in memory) against this process's real store, with flows running in real workers; the
client's ``elicitation_callback`` plays the user. Both wires are driven: the 2026-07-28 one
(the default in-memory client: the tool returns ``InputRequiredResult`` and is called again)
and the 2025-11-25 one (``mode="legacy"``: ``elicitation/create`` in the middle of the call).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from _mcp_flows import AGENTS, FLOWS_DIR, new_salt, settle, target
from _mcp_support import data, error
from mcp import Client
from mcp.types import CallToolResult, ElicitRequestFormParams, ElicitResult, ErrorData
from mcp_types._v2025_11_25 import PrimitiveSchemaDefinition
from pydantic import TypeAdapter

from kitaru_mcp.elicitation import (
    UnmappableSchemaError,
    answer_from,
    form_schema,
)
from kitaru_mcp.server import KitaruMCPServer, build_server

APPROVAL = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["approve", "reject"]},
        "reviewer": {"type": "string"},
    },
    "required": ["decision"],
}
PRIMITIVE = TypeAdapter[Any](PrimitiveSchemaDefinition)
WIRES = ["auto", "legacy"]  # 2026-07-28 (InputRequiredResult) and 2025-11-25 (mid-call request)

# Flows whose wait schemas exist only for these tests: written to a folder the server may load.
EXTRA_FLOWS = textwrap.dedent(
    """
    from kitaru_core import checkpoint, flow, wait


    @checkpoint
    def prepare(salt: str) -> str:
        return f"batch {salt}"


    @checkpoint
    def ship(text: str, count: int) -> str:
        return f"{text} x{count}"


    @flow
    def count_flow(salt: str, timeout: float = 60) -> str:
        \"\"\"A primitive schema: the form wraps it as the single field `value`.\"\"\"
        text = prepare(salt)
        count = wait(name="count", schema={"type": "integer", "minimum": 1},
                     question="How many copies?", timeout=timeout)
        return ship(text, count)


    @flow
    def nested_flow(salt: str, timeout: float = 60) -> str:
        \"\"\"A nested schema no flat form can show.\"\"\"
        text = prepare(salt)
        answer = wait(
            name="address",
            schema={"type": "object", "properties": {"to": {"type": "object", "properties":
                    {"city": {"type": "string"}}}}, "required": ["to"]},
            question="Ship where?", timeout=timeout)
        return ship(text, len(answer["to"]["city"]))
    """
)


# ------------------------------------------------------------------------- schema mapping


def _assert_form_is_valid(requested: dict[str, Any]) -> None:
    """What the spec allows: a flat object whose every property is a primitive definition."""
    assert requested["type"] == "object"
    for prop in requested["properties"].values():
        PRIMITIVE.validate_python(prop)
    assert set(requested.get("required", [])) <= set(requested["properties"])


def test_an_object_of_primitives_maps_field_by_field() -> None:
    schema = {
        "type": "object",
        "title": "Review",
        "properties": {
            "decision": {
                "type": "string",
                "enum": ["approve", "reject"],
                "title": "Decision",
                "default": "approve",
            },
            "email": {"type": "string", "format": "email", "description": "Who reviewed"},
            "ticket": {"type": "string", "format": "uuid", "pattern": "^[a-f0-9-]+$"},
            "copies": {"type": "integer", "minimum": 1, "maximum": 9, "multipleOf": 1},
            "score": {"type": ["number", "null"], "default": 0.5},
            "urgent": {"type": "boolean", "default": False},
            "tags": {
                "type": "array",
                "items": {"type": "string", "enum": ["a", "b"]},
                "default": ["a"],
            },
        },
        "required": ["decision", "copies"],
        "additionalProperties": False,
    }
    form = form_schema(schema)
    assert not form.wrapped
    _assert_form_is_valid(form.requested)
    props = form.requested["properties"]
    assert props["decision"] == {
        "type": "string",
        "enum": ["approve", "reject"],
        "title": "Decision",
        "default": "approve",
    }
    assert props["email"] == {"type": "string", "format": "email", "description": "Who reviewed"}
    assert props["ticket"] == {"type": "string"}  # what a form cannot carry is checked later
    assert props["copies"] == {"type": "integer", "minimum": 1, "maximum": 9}
    assert props["score"] == {"type": "number", "default": 0.5}
    assert props["urgent"] == {"type": "boolean", "default": False}
    assert props["tags"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["a", "b"]},
        "default": ["a"],
    }
    assert form.requested["required"] == ["decision", "copies"]
    assert form.requested["title"] == "Review"


def test_a_primitive_schema_is_wrapped_as_one_value_field() -> None:
    form = form_schema({"type": "integer", "minimum": 1, "description": "How many"})
    assert form.wrapped
    _assert_form_is_valid(form.requested)
    assert form.requested["properties"] == {
        "value": {"type": "integer", "minimum": 1, "description": "How many", "title": "Answer"}
    }
    assert form.requested["required"] == ["value"]
    assert answer_from({"value": 3}, form) == 3
    assert form_schema({"enum": ["yes", "no"]}).requested["properties"]["value"]["enum"] == [
        "yes",
        "no",
    ]


def test_a_gate_is_an_empty_form_and_answers_none() -> None:
    form = form_schema(None)
    assert form.requested == {"type": "object", "properties": {}}
    assert answer_from({}, form) is None


def test_empty_fields_are_left_out_of_the_answer() -> None:
    form = form_schema(APPROVAL)
    assert answer_from({"decision": "approve", "reviewer": None}, form) == {"decision": "approve"}


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "object", "properties": {"to": {"type": "object"}}}, "'to'"),
        (
            {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"type": "object"}}},
            },
            "'items' is an array",
        ),
        ({"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}}, "$ref"),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "oneOf"),
        (
            {"type": "object", "properties": {"n": {"anyOf": [{"type": "string"}]}}},
            "anyOf",
        ),
        ({"type": "object", "additionalProperties": {"type": "string"}}, "free-form"),
        ({"type": "object", "properties": {"n": {"enum": [1, 2]}}}, "non-string choices"),
        ({"type": ["string", "integer"]}, "union"),
        ({"type": "object", "properties": {"n": {"type": "string", "const": "x"}}}, "const"),
    ],
)
def test_a_schema_a_form_cannot_express_is_refused_with_the_reason(
    schema: dict[str, Any], reason: str
) -> None:
    with pytest.raises(UnmappableSchemaError) as caught:
        form_schema(schema)
    assert reason in str(caught.value)


# ------------------------------------------------------------------------ the user, played


class User:
    """An elicitation callback that answers as told and remembers what it was asked."""

    def __init__(self, action: str = "accept", content: dict[str, Any] | None = None) -> None:
        self.action = action
        self.content = content
        self.asked: list[ElicitRequestFormParams] = []

    async def __call__(self, context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        self.asked.append(params)
        content = self.content if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def extra_flows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("elicitation_flows")
    path = folder / "elicitation_flows.py"
    path.write_text(EXTRA_FLOWS, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(zenml_client: Any, extra_flows: Path) -> KitaruMCPServer:
    return build_server("standard", allow_paths=[FLOWS_DIR, extra_flows.parent])


def _call(
    server: KitaruMCPServer,
    name: str,
    arguments: dict[str, Any],
    *,
    user: Callable[..., Any] | None = None,
    wire: str = "auto",
    progress: list[str] | None = None,
) -> CallToolResult:
    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if progress is not None:
            progress.append(message or "")

    async def go() -> CallToolResult:
        async with Client(server, mode=wire, elicitation_callback=user) as client:  # type: ignore[arg-type]
            return await client.call_tool(name, arguments, progress_callback=on_progress)

    return anyio.run(go)


def _waiting(server: KitaruMCPServer, flow: str, file: Path = AGENTS) -> str:
    """Start ``flow`` and return its exec_id once it waits (no elicitation: no user)."""
    arguments = {"target": target(flow, file), "args": {"salt": new_salt(), "timeout": 120}}
    exec_id = data(_call(server, "kitaru_executions_run", arguments))["exec_id"]
    assert settle(server, exec_id, until=("waiting", "failed"))["status"] == "waiting"
    return str(exec_id)


# ------------------------------------------------------------- kitaru_executions_input


@pytest.mark.parametrize("wire", WIRES)
def test_an_accepted_answer_is_recorded_and_the_execution_completes(
    server: KitaruMCPServer, wire: str
) -> None:
    exec_id = _waiting(server, "approval_flow")
    user = User(content={"decision": "approve", "reviewer": "Ada"})
    arguments = {"exec_id": exec_id}
    view = data(_call(server, "kitaru_executions_input", arguments, user=user, wire=wire))
    assert len(user.asked) == 1
    asked = user.asked[0]
    assert asked.message.startswith("Publish 'draft")  # the wait's question comes first
    assert "approval_flow" in asked.message and exec_id in asked.message
    assert "'approval'" in asked.message
    assert asked.requested_schema == APPROVAL
    assert view["exec_id"] == exec_id and view["pending_wait"] is None
    assert "The user answered wait 'approval'" in view["hint"]
    done = settle(server, exec_id)
    assert done["status"] == "completed"
    assert done["result"].endswith(": approve")


def test_a_wrapped_primitive_answer_is_unwrapped(
    server: KitaruMCPServer, extra_flows: Path
) -> None:
    exec_id = _waiting(server, "count_flow", extra_flows)
    user = User(content={"value": 3})
    data(_call(server, "kitaru_executions_input", {"exec_id": exec_id}, user=user))
    assert user.asked[0].requested_schema["properties"]["value"]["type"] == "integer"
    done = settle(server, exec_id)
    assert done["status"] == "completed" and done["result"].endswith(" x3")


def test_an_invalid_accepted_answer_is_refused_and_nothing_is_recorded(
    server: KitaruMCPServer,
) -> None:
    exec_id = _waiting(server, "approval_flow")
    user = User(content={"decision": "maybe"})  # a client that did not check the enum
    problem = error(_call(server, "kitaru_executions_input", {"exec_id": exec_id}, user=user))
    assert problem["code"] == "wait_validation_error"
    assert "value.decision" in problem["details"]["fields"]
    still = settle(server, exec_id, until=("waiting",))
    assert still["pending_wait"]["name"] == "approval"  # nothing was recorded
    # A right answer afterwards is taken as usual.
    value = {"decision": "reject"}
    data(_call(server, "kitaru_executions_input", {"exec_id": exec_id, "value": value}))
    assert settle(server, exec_id)["result"].endswith(": reject")


@pytest.mark.parametrize(("action", "words"), [("decline", "declined"), ("cancel", "cancelled")])
@pytest.mark.parametrize("wire", WIRES)
def test_a_decline_or_cancel_leaves_the_wait_pending(
    server: KitaruMCPServer, action: str, words: str, wire: str
) -> None:
    exec_id = _waiting(server, "approval_flow")
    user = User(action)
    arguments = {"exec_id": exec_id}
    view = data(_call(server, "kitaru_executions_input", arguments, user=user, wire=wire))
    assert len(user.asked) == 1
    assert view["status"] == "waiting" and view["pending_wait"]["name"] == "approval"
    assert words in view["hint"] and "nothing was aborted" in view["hint"]
    still = settle(server, exec_id, until=("waiting",))  # cancel aborted nothing
    assert still["pending_wait"]["name"] == "approval"
    value = {"decision": "approve"}
    data(_call(server, "kitaru_executions_input", {"exec_id": exec_id, "value": value}))
    assert settle(server, exec_id)["status"] == "completed"


def test_a_client_that_fails_to_show_the_form_leaves_the_wait_pending(
    server: KitaruMCPServer,
) -> None:
    exec_id = _waiting(server, "approval_flow")
    asked: list[str] = []

    async def broken(context: Any, params: Any) -> ErrorData:
        asked.append(params.message)
        return ErrorData(code=-32603, message="form renderer crashed")

    arguments = {"exec_id": exec_id}
    view = data(_call(server, "kitaru_executions_input", arguments, user=broken, wire="legacy"))
    assert len(asked) == 1
    assert view["status"] == "waiting" and view["pending_wait"]["name"] == "approval"
    assert "could not show" in view["hint"] and "form renderer crashed" in view["hint"]
    value = {"decision": "approve"}
    data(_call(server, "kitaru_executions_input", {"exec_id": exec_id, "value": value}))
    assert settle(server, exec_id)["status"] == "completed"


def test_without_elicitation_support_the_answer_is_missing_as_today(
    server: KitaruMCPServer,
) -> None:
    exec_id = _waiting(server, "approval_flow")
    bare = error(_call(server, "kitaru_executions_input", {"exec_id": exec_id}))
    user = User(content={"decision": "approve"})
    opted_out = {"exec_id": exec_id, "confirm_with_user": False}
    declined_to_ask = error(_call(server, "kitaru_executions_input", opted_out, user=user))
    assert not user.asked  # confirm_with_user=false never asks
    for problem in (bare, declined_to_ask):
        assert problem["code"] == "wait_validation_error"
        assert "client's form" not in problem["hint"]
    assert bare == declined_to_ask
    assert settle(server, exec_id, until=("waiting",))["pending_wait"]["name"] == "approval"
    value = {"decision": "approve"}
    data(_call(server, "kitaru_executions_input", {"exec_id": exec_id, "value": value}))
    assert settle(server, exec_id)["status"] == "completed"


def test_an_unmappable_schema_falls_back_and_says_why(
    server: KitaruMCPServer, extra_flows: Path
) -> None:
    exec_id = _waiting(server, "nested_flow", extra_flows)
    user = User(content={})
    problem = error(_call(server, "kitaru_executions_input", {"exec_id": exec_id}, user=user))
    assert not user.asked
    assert problem["code"] == "wait_validation_error"
    assert "cannot be mapped" in problem["hint"] and "'to'" in problem["hint"]
    value = {"to": {"city": "Oslo"}}
    data(_call(server, "kitaru_executions_input", {"exec_id": exec_id, "value": value}))
    done = settle(server, exec_id)
    assert done["status"] == "completed" and done["result"].endswith(" x4")


def test_a_gate_is_asked_only_when_confirm_with_user_is_true(server: KitaruMCPServer) -> None:
    exec_id = _waiting(server, "gate_flow")
    user = User(content={})
    arguments = {"exec_id": exec_id, "confirm_with_user": True}
    view = data(_call(server, "kitaru_executions_input", arguments, user=user))
    assert len(user.asked) == 1 and user.asked[0].requested_schema["properties"] == {}
    assert "Go ahead?" in user.asked[0].message
    assert view["pending_wait"] is None
    assert settle(server, exec_id)["status"] == "completed"


# --------------------------------------------------------------- kitaru_executions_run


@pytest.mark.parametrize("wire", WIRES)
def test_a_run_that_meets_a_wait_asks_the_user_and_follows_on(
    server: KitaruMCPServer, wire: str
) -> None:
    user = User(content={"decision": "approve"})
    progress: list[str] = []
    arguments = {
        "target": target("approval_flow"),
        "args": {"salt": new_salt()},
        "wait_seconds": 60,
    }
    run = data(
        _call(server, "kitaru_executions_run", arguments, user=user, wire=wire, progress=progress)
    )
    assert len(user.asked) == 1 and user.asked[0].requested_schema == APPROVAL
    assert run["exec_id"] in user.asked[0].message
    assert run["status"] == "completed", run
    assert run["execution"]["result"].endswith(": approve")
    assert run["next_step"].startswith("The user answered wait 'approval'")
    per_call = [m for m in progress if m.startswith("checkpoint ")]
    assert per_call == [
        "checkpoint draft completed (1 checkpoint call(s) finished)",
        "checkpoint finalize completed (2 checkpoint call(s) finished)",
    ]
    assert progress[-1] == "completed: 2 checkpoint call(s) finished"


def test_a_run_whose_user_declines_returns_the_pending_wait(server: KitaruMCPServer) -> None:
    user = User("decline")
    arguments = {
        "target": target("approval_flow"),
        "args": {"salt": new_salt(), "timeout": 120},
        "wait_seconds": 60,
    }
    run = data(_call(server, "kitaru_executions_run", arguments, user=user))
    assert len(user.asked) == 1
    assert run["status"] == "waiting"
    assert run["execution"]["pending_wait"]["name"] == "approval"
    assert "declined" in run["next_step"] and "kitaru_executions_input" in run["next_step"]
    value = {"decision": "approve"}
    data(_call(server, "kitaru_executions_input", {"exec_id": run["exec_id"], "value": value}))
    assert settle(server, run["exec_id"])["status"] == "completed"


def test_a_run_without_elicitation_support_returns_the_pending_wait_as_today(
    server: KitaruMCPServer,
) -> None:
    arguments = {
        "target": target("approval_flow"),
        "args": {"salt": new_salt(), "timeout": 120},
        "wait_seconds": 60,
    }
    run = data(_call(server, "kitaru_executions_run", arguments))
    assert run["status"] == "waiting"
    assert run["execution"]["pending_wait"]["name"] == "approval"
    assert run["next_step"].startswith("Waiting for input:")  # today's words, nothing added
    value = {"decision": "approve"}
    data(_call(server, "kitaru_executions_input", {"exec_id": run["exec_id"], "value": value}))
    assert settle(server, run["exec_id"])["status"] == "completed"


def test_a_server_process_over_stdio_asks_mid_call(zenml_client: Any, tmp_path: Path) -> None:
    """The wire the TypeScript SDK 1.x speaks (2025-11-25): elicitation/create over stdio."""
    import os
    import sys

    from mcp.client.stdio import StdioServerParameters, stdio_client

    user = User(content={"decision": "approve"})
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kitaru_mcp", "--mode", "standard", "--allow-path", str(FLOWS_DIR)],
        env=dict(os.environ),
        cwd=Path(__file__).resolve().parent.parent,
    )
    arguments = {
        "target": target("approval_flow"),
        "args": {"salt": new_salt()},
        "wait_seconds": 60,
    }

    async def go() -> CallToolResult:
        with (tmp_path / "stderr.log").open("w") as errlog:
            transport = stdio_client(parameters, errlog=errlog)
            async with Client(transport, mode="legacy", elicitation_callback=user) as client:
                return await client.call_tool("kitaru_executions_run", arguments)

    run = data(anyio.run(go))
    assert len(user.asked) == 1 and user.asked[0].requested_schema == APPROVAL
    assert run["status"] == "completed" and run["execution"]["result"].endswith(": approve")
