"""The execution app (MCP Apps, ``ui://kitaru/execution.html``).

Without a browser: the tools carry ``_meta.ui.resourceUri``, the page is served as an app
resource and is self-contained, and a plain client (no Apps) gets the same structured result.

In a real browser: headless Chromium loads the page inside a minimal host harness
(``tests/app_harness``) that speaks the bridge and forwards the app's ``tools/call`` to the real
server on the real store. The test reads the DOM, answers a wait through the form and sees the
execution complete. Skipped when Chromium or ``websockets`` is missing (CI installs Chromium:
``apt-get install -y --no-install-recommends chromium``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _mcp_flows import FLOWS_DIR, new_salt, settle, target
from _mcp_support import call, data
from app_harness.harness import (
    READ_APP,
    AppHost,
    Browser,
    browser,
    chromium_path,
    fill_and_submit,
    serving,
)
from mcp import Client

from kitaru_mcp.app import APP_TOOLS, EXECUTION_APP_URI, HTML_PATH
from kitaru_mcp.server import KitaruMCPServer, build_server

APP_MIME = "text/html;profile=mcp-app"
APPS_EXTENSION = "io.modelcontextprotocol/ui"


@pytest.fixture(scope="module")
def server(zenml_client: Any) -> KitaruMCPServer:
    return build_server("standard", allow_paths=[FLOWS_DIR])


# ----------------------------------------------------------------- without a browser


def test_the_execution_tools_link_the_app_and_no_other_tool_does() -> None:
    async def go() -> tuple[dict[str, Any], Any]:
        async with Client(build_server("standard")) as client:
            tools = (await client.list_tools()).tools
            return {t.name: t.meta for t in tools}, client.server_capabilities

    metas, capabilities = anyio.run(go)
    linked = {name for name, meta in metas.items() if meta}
    assert linked == APP_TOOLS == {"kitaru_executions_get", "kitaru_executions_run"}
    for name in APP_TOOLS:
        assert metas[name] == {"ui": {"resourceUri": EXECUTION_APP_URI}}
    assert capabilities.extensions is not None and APPS_EXTENSION in capabilities.extensions


@pytest.mark.parametrize("mode", ["read-only", "standard"])
def test_the_app_is_served_as_an_app_resource(mode: str) -> None:
    async def go() -> Any:
        async with Client(build_server(mode)) as client:
            listed = {str(r.uri): r.mime_type for r in (await client.list_resources()).resources}
            read = (await client.read_resource(EXECUTION_APP_URI)).contents
            return listed, read

    listed, contents = anyio.run(go)
    assert listed[EXECUTION_APP_URI] == APP_MIME
    assert len(contents) == 1 and contents[0].mime_type == APP_MIME
    assert contents[0].text == HTML_PATH.read_text(encoding="utf-8")


def test_the_page_is_self_contained_and_never_writes_html_from_data() -> None:
    html = HTML_PATH.read_text(encoding="utf-8")
    # Nothing is loaded from elsewhere: no external script, style, font, image or fetch.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"@import|url\(|fetch\(|XMLHttpRequest|WebSocket|<link\b", html)
    # Text goes through textContent / text nodes only.
    assert "innerHTML" not in html and "outerHTML" not in html and "insertAdjacentHTML" not in html
    assert "document.write" not in html and "eval(" not in html


def test_a_client_without_apps_gets_the_plain_result(server: KitaruMCPServer) -> None:
    started = data(
        call(
            server,
            "kitaru_executions_run",
            {"target": target("greet_flow"), "args": {"name": "Plain", "salt": new_salt()}},
        )
    )
    assert set(started) >= {"exec_id", "status", "next_step"}
    settle(server, started["exec_id"])
    result = call(server, "kitaru_executions_get", {"exec_id": started["exec_id"]})
    view = data(result)
    assert view["status"] == "completed" and view["result"] == "HELLO PLAIN"
    # The text copy is the same JSON, and nothing app-specific is added to the result.
    assert len(result.content) == 1
    assert json.loads(result.content[0].text) == view
    assert result.meta is None or "ui" not in result.meta


# ----------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = chromium_path()
    if binary is None:
        pytest.skip(
            "Chromium is not installed (apt-get install -y --no-install-recommends chromium)"
        )
    pytest.importorskip("websockets.sync.client", reason="websockets is needed for DevTools")
    return binary


@pytest.fixture
def page(chromium: str) -> Iterator[Browser]:
    with browser(chromium) as opened:
        yield opened


def read_when(page: Browser, condition: str) -> dict[str, Any]:
    """What the app shows (READ_APP), once ``condition`` (JavaScript over it, as ``s``) holds:
    each check reads the whole page in one evaluation, so no half-rendered state is mixed in."""
    shown = page.wait_for(f"(() => {{ const s = {READ_APP}; return ({condition}) ? s : null; }})()")
    return dict(shown)


def click_when_shown(page: Browser, selector: str) -> None:
    """Click the element as soon as the app shows it (one evaluation: find, then click)."""
    found = json.dumps(selector)
    page.wait_for(
        f"(() => {{ const b = document.querySelector({found}); if (b) b.click(); return !!b; }})()"
    )


def _waiting_approval(server: KitaruMCPServer) -> dict[str, Any]:
    """An approval_flow execution waiting for its decision (the worker polls for a while)."""
    arguments = {"target": target("approval_flow"), "args": {"salt": new_salt(), "timeout": 120}}
    exec_id = data(call(server, "kitaru_executions_run", arguments))["exec_id"]
    return settle(server, exec_id, until=("waiting", "failed", "cancelled"))


def test_the_page_shows_a_waiting_execution_and_answers_it_through_the_bridge(
    server: KitaruMCPServer, page: Browser
) -> None:
    execution = _waiting_approval(server)
    assert execution["status"] == "waiting"
    exec_id = execution["exec_id"]
    host = AppHost(server, "kitaru_executions_get", {"exec_id": exec_id})
    with serving(host) as base:
        page.open(base + "/")
        shown = read_when(page, "s.fields !== null && s.title === 'approval_flow'")

        assert shown["title"] == "approval_flow" and shown["status"] == "waiting"
        assert exec_id in shown["meta"]
        assert [(c["call_id"], c["status"]) for c in shown["checkpoints"]] == [
            ("draft", "completed")
        ]
        assert shown["question"].startswith("Publish 'draft ")
        fields = {f["name"]: f for f in shown["fields"]}
        assert list(fields) == ["decision", "reviewer"]
        assert fields["decision"]["tag"] == "select" and fields["decision"]["required"]
        assert fields["decision"]["options"] == ["approve", "reject"]
        assert fields["reviewer"]["type"] == "text" and not fields["reviewer"]["required"]

        fill_and_submit(page, {"decision": "approve", "reviewer": "Ada"})
        # The page follows the execution by itself (tools/call kitaru_executions_get).
        page.wait_for("document.getElementById('status').textContent === 'completed'")
        done = page.in_app(READ_APP)

    answers = [c for c in host.calls if c["name"] == "kitaru_executions_input"]
    assert answers == [
        {
            "name": "kitaru_executions_input",
            "arguments": {
                "exec_id": exec_id,
                "wait": "approval",
                "value": {"decision": "approve", "reviewer": "Ada"},
            },
        }
    ]
    assert any(c["name"] == "kitaru_executions_get" for c in host.calls)
    assert [(c["call_id"], c["status"]) for c in done["checkpoints"]] == [
        ("draft", "completed"),
        ("finalize", "completed"),
    ]
    assert done["fields"] is None and done["replay_buttons"] == 2
    final = data(call(server, "kitaru_executions_get", {"exec_id": exec_id}))
    assert final["status"] == "completed"
    assert done["result"] == final["result"] and final["result"].endswith(": approve")
    # Offline: every request the browser made went to the harness.
    assert page.requested_urls() and all(
        url.startswith((base, "about:", "data:")) for url in page.requested_urls()
    )
    assert set(host.paths) <= {"/", "/app", "/initial", "/call"}


def test_replay_from_here_goes_through_the_bridge_and_follows_the_new_execution(
    server: KitaruMCPServer, page: Browser
) -> None:
    arguments = {"target": target("greet_flow"), "args": {"name": "Rex", "salt": new_salt()}}
    exec_id = data(call(server, "kitaru_executions_run", arguments))["exec_id"]
    assert settle(server, exec_id)["status"] == "completed"
    host = AppHost(server, "kitaru_executions_get", {"exec_id": exec_id})
    with serving(host) as base:
        page.open(base + "/")
        click_when_shown(page, "tr[data-call-id=polish] button[data-action=replay]")
        page.wait_for(f"!document.getElementById('meta').textContent.includes('{exec_id}')")
        new_id = page.wait_for(
            "document.getElementById('status').textContent === 'completed' && "
            "document.getElementById('meta').firstChild.textContent"
        )
        shown = page.in_app(READ_APP)

    rows = {c["call_id"]: c for c in shown["checkpoints"]}
    assert [(c, r["status"]) for c, r in rows.items()] == [
        ("compose", "completed"),
        ("polish", "completed"),
    ]
    # compose was served from the original execution; polish ran again.
    assert "reused" in rows["compose"]["text"] and "reused" not in rows["polish"]["text"]
    assert shown["result"] == "HELLO REX"
    replays = [c for c in host.calls if c["name"] == "kitaru_executions_replay"]
    assert replays == [
        {
            "name": "kitaru_executions_replay",
            "arguments": {"exec_id": exec_id, "from_checkpoint": "polish"},
        }
    ]
    replayed = data(call(server, "kitaru_executions_get", {"exec_id": new_id}))
    assert replayed["original_exec_id"] == exec_id and replayed["status"] == "completed"


def test_retry_goes_through_the_bridge_and_follows_the_new_execution(
    server: KitaruMCPServer, page: Browser, tmp_path: Path
) -> None:
    arguments = {
        "target": target("fragile_flow"),
        "args": {"workdir": str(tmp_path), "salt": new_salt()},
    }
    exec_id = data(call(server, "kitaru_executions_run", arguments))["exec_id"]
    assert settle(server, exec_id)["status"] == "failed"
    host = AppHost(server, "kitaru_executions_get", {"exec_id": exec_id})
    with serving(host) as base:
        page.open(base + "/")
        failure = page.wait_for(
            "document.querySelector('button[data-action=retry]') !== null && "
            "document.getElementById('failure').textContent"
        )
        assert "ConnectionError" in failure and "upstream unavailable" in failure
        (tmp_path / "fixed").touch()  # the user fixes the cause, then presses Retry
        click_when_shown(page, "button[data-action=retry]")
        page.wait_for(f"!document.getElementById('meta').textContent.includes('{exec_id}')")
        new_id = page.wait_for(
            "document.getElementById('status').textContent === 'completed' && "
            "document.getElementById('meta').firstChild.textContent"
        )
        shown = page.in_app(READ_APP)

    assert [c for c in host.calls if c["name"] == "kitaru_executions_retry"] == [
        {"name": "kitaru_executions_retry", "arguments": {"exec_id": exec_id}}
    ]
    rows = {c["call_id"]: c for c in shown["checkpoints"]}
    assert "reused" in rows["gather"]["text"] and rows["fragile"]["status"] == "completed"
    assert (tmp_path / "gather.marks").read_text().count("ran") == 1  # not run again
    retried = data(call(server, "kitaru_executions_get", {"exec_id": new_id}))
    assert retried["original_exec_id"] == exec_id and retried["status"] == "completed"
