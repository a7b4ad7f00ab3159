"""An unknown or malformed execution id is ``not_found`` on every operation (SPEC §1.5).

Every SDK operation that takes an ``exec_id`` is called with a well-formed UUID that names no
execution and with strings that are not UUIDs at all; each must raise ``KitaruNotFoundError``
with a hint, and change nothing (no execution appears). A representative set goes through the
real CLI (click runner) and the real MCP server (``mcp.Client`` in memory).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from _mcp_support import call, error
from cli_support import kitaru_error

from kitaru_core import KitaruClient
from kitaru_core.errors import KitaruNotFoundError
from kitaru_core.runtime.handle import FlowHandle
from kitaru_core.services import executions

BAD_IDS = [str(uuid.uuid4()), "not-an-id", "1234", "  ", "../etc/passwd"]


def _operations() -> dict[str, Callable[[str], Any]]:
    client = KitaruClient().executions
    return {
        "get": client.get,
        "logs": client.logs,
        "input": lambda exec_id: client.input(exec_id, value=True),
        "input (named wait)": lambda exec_id: client.input(exec_id, "approval", {"a": 1}),
        "input (no resume)": lambda exec_id: client.input(exec_id, value=None, resume=False),
        "abort_wait": client.abort_wait,
        "resume": client.resume,
        "retry": client.retry,
        "replay": lambda exec_id: client.replay(exec_id, from_="x"),
        "replay (dry run)": lambda exec_id: client.replay(exec_id, from_="x", dry_run=True),
        "cancel": client.cancel,
        "artifacts.list": KitaruClient().artifacts.list,
        "FlowHandle.status": lambda exec_id: FlowHandle(exec_id).status,
        "FlowHandle.wait": lambda exec_id: FlowHandle(exec_id).wait(timeout=5),
        "follow": lambda exec_id: next(executions.follow(exec_id)),
        "follow_logs": lambda exec_id: next(executions.follow_logs(exec_id)),
    }


@pytest.mark.parametrize("operation", sorted(_operations()))
def test_every_sdk_operation_says_not_found(zenml_client: Any, operation: str) -> None:
    before, _ = executions.list_executions(limit=200)
    run = _operations()[operation]
    for exec_id in BAD_IDS:
        with pytest.raises(KitaruNotFoundError) as caught:
            run(exec_id)
        assert caught.value.code == "not_found", (operation, exec_id)
        assert "No execution with id" in caught.value.message, (operation, exec_id)
        assert "executions.list()" in caught.value.hint  # the SDK's own call
        assert caught.value.details["exec_id"] == exec_id
    after, _ = executions.list_executions(limit=200)
    assert [e.exec_id for e in after] == [e.exec_id for e in before]  # nothing was started


@pytest.mark.parametrize(
    "args",
    [
        ("executions", "get"),
        ("executions", "logs"),
        ("executions", "input", "--value", "true"),
        ("executions", "input", "--value", "true", "--no-resume"),
        ("executions", "resume"),
        ("executions", "cancel"),
        ("executions", "replay", "--from", "x"),
        ("artifacts", "list"),
    ],
)
def test_cli_says_not_found(zenml_client: Any, args: tuple[str, ...]) -> None:
    for exec_id in (str(uuid.uuid4()), "not-an-id"):
        command = [*args[:2], exec_id, *args[2:]]
        body = kitaru_error(*command, code=1)
        assert body["code"] == "not_found", command
        assert body["details"]["exec_id"] == exec_id


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("kitaru_executions_get", {}),
        ("kitaru_executions_logs", {}),
        ("kitaru_executions_input", {"value": True}),
        ("kitaru_executions_resume", {}),
        ("kitaru_executions_retry", {}),
        ("kitaru_executions_cancel", {}),
        ("kitaru_artifacts_list", {}),
    ],
)
def test_mcp_says_not_found(zenml_client: Any, tool: str, arguments: dict[str, Any]) -> None:
    from kitaru_mcp.server import build_server

    server = build_server("destructive")
    for exec_id in (str(uuid.uuid4()), "not-an-id"):
        body = error(call(server, tool, {"exec_id": exec_id, **arguments}))
        assert body["code"] == "not_found", (tool, exec_id)
        assert body["details"]["exec_id"] == exec_id
