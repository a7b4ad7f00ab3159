"""The artifact tools through the official MCP client, against this process's real store."""

from __future__ import annotations

from typing import Any

import pytest
from _mcp_flows import FLOWS_DIR, new_salt, settle, target
from _mcp_support import call, data, error

from kitaru_mcp.results import MAX_RESULT_CHARS, json_size
from kitaru_mcp.server import KitaruMCPServer, build_server


@pytest.fixture(scope="module")
def server(zenml_client: Any) -> KitaruMCPServer:
    return build_server("read-only", allow_paths=[FLOWS_DIR])


@pytest.fixture(scope="module")
def runner(zenml_client: Any) -> KitaruMCPServer:
    return build_server("standard", allow_paths=[FLOWS_DIR])


def _finished(runner: KitaruMCPServer, flow: str, **args: Any) -> str:
    arguments = {"target": target(flow), "args": args, "wait_seconds": 60}
    exec_id = str(data(call(runner, "kitaru_executions_run", arguments))["exec_id"])
    assert settle(runner, exec_id)["status"] == "completed"
    return exec_id


@pytest.fixture(scope="module")
def greeted(runner: KitaruMCPServer) -> str:
    return _finished(runner, "greet_flow", name="Cy", salt=new_salt())


@pytest.fixture(scope="module")
def big(runner: KitaruMCPServer) -> str:
    return _finished(runner, "big_flow", salt=new_salt(), size=120_000)


def _artifacts(server: KitaruMCPServer, exec_id: str, **arguments: Any) -> dict[str, Any]:
    return data(call(server, "kitaru_artifacts_list", {"exec_id": exec_id, **arguments}))


def test_list_names_outputs_and_saved_values(server: KitaruMCPServer, greeted: str) -> None:
    page = _artifacts(server, greeted)
    by_name = {item["name"]: item for item in page["items"]}
    assert set(by_name) == {"compose.output", "polish.output", "draft"}
    assert by_name["compose.output"]["checkpoint"] == "compose"
    assert by_name["draft"]["checkpoint"] == "polish" and by_name["draft"]["data_type"] == "dict"
    assert all(item["exec_id"] == greeted for item in page["items"])
    assert all("value" not in item for item in page["items"])  # values only through get
    assert page["count"] == page["total"] == 3 and page["next_cursor"] is None

    only = _artifacts(server, greeted, name="output")
    assert {item["name"] for item in only["items"]} == {"compose.output", "polish.output"}

    first = _artifacts(server, greeted, limit=2)
    assert first["count"] == 2 and first["next_cursor"]
    rest = _artifacts(server, greeted, limit=2, cursor=first["next_cursor"])
    assert rest["count"] == 1 and rest["next_cursor"] is None
    assert first["items"] + rest["items"] == page["items"]


def test_get_returns_the_value_and_where_it_came_from(
    server: KitaruMCPServer, greeted: str
) -> None:
    ids = {item["name"]: item["artifact_id"] for item in _artifacts(server, greeted)["items"]}
    saved = data(call(server, "kitaru_artifacts_get", {"artifact_id": ids["draft"]}))
    assert saved["value"] == {"text": "hello Cy"}
    assert saved["truncated"] is False and saved["hint"] is None
    assert saved["exec_id"] == greeted and saved["checkpoint"] == "polish"
    output = data(call(server, "kitaru_artifacts_get", {"artifact_id": ids["polish.output"]}))
    assert output["value"] == "HELLO CY"


def test_big_values_are_cut_with_a_way_to_get_more(server: KitaruMCPServer, big: str) -> None:
    [item] = _artifacts(server, big, name="big_text")["items"]
    result = call(server, "kitaru_artifacts_get", {"artifact_id": item["artifact_id"]})
    value = data(result)
    assert value["truncated"] is True and len(value["value"]) == 16_000
    assert "max_chars" in value["hint"]
    more = data(
        call(
            server,
            "kitaru_artifacts_get",
            {"artifact_id": item["artifact_id"], "max_chars": 50_000},
        )
    )
    assert more["truncated"] is True and len(more["value"]) == 50_000
    assert more["value"].startswith(value["value"])
    assert "kitaru_core.load" in more["hint"]
    assert json_size(more) < MAX_RESULT_CHARS
    # The execution that produced it stays small: its result is only the length.
    execution = data(call(server, "kitaru_executions_get", {"exec_id": big}))
    assert execution["result"] >= 120_000 and json_size(execution) < 10_000


@pytest.mark.parametrize(
    ("tool", "arguments", "code", "field"),
    [
        ("kitaru_artifacts_get", {"artifact_id": "not-a-uuid"}, "not_found", None),
        (
            "kitaru_artifacts_get",
            {"artifact_id": "00000000-0000-4000-8000-000000000000"},
            "not_found",
            None,
        ),
        (
            "kitaru_artifacts_get",
            {"artifact_id": "00000000-0000-4000-8000-000000000000", "max_chars": 0},
            "validation_error",
            "max_chars",
        ),
        (
            "kitaru_artifacts_get",
            {"artifact_id": "00000000-0000-4000-8000-000000000000", "max_chars": 50_001},
            "validation_error",
            "max_chars",
        ),
        (
            "kitaru_artifacts_list",
            {"exec_id": "00000000-0000-4000-8000-000000000000"},
            "not_found",
            None,
        ),
        ("kitaru_artifacts_list", {"exec_id": "nope", "limit": 201}, "validation_error", "limit"),
    ],
)
def test_artifact_errors(
    server: KitaruMCPServer, tool: str, arguments: dict[str, Any], code: str, field: str | None
) -> None:
    body = error(call(server, tool, arguments))
    assert body["code"] == code
    if field is not None:
        assert list(body["details"]["fields"]) == [field]


def test_a_bad_cursor_names_the_field(server: KitaruMCPServer, greeted: str) -> None:
    body = error(call(server, "kitaru_artifacts_list", {"exec_id": greeted, "cursor": "zzz"}))
    assert body["code"] == "validation_error" and list(body["details"]["fields"]) == ["cursor"]
