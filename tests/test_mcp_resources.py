"""Executions and waits as MCP resources, change events for listening clients, and progress
per finished checkpoint — through the official client (in memory, and one stdio subprocess),
against this process's real store with flows running in real workers.

No timed assertions: a test waits for the event it expects with a generous timeout and asserts
that it came.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from _mcp_flows import FLOWS_DIR, greet_once, new_salt, settle, target
from _mcp_support import call, data
from mcp import Client
from mcp.client.subscriptions import Subscription
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import ResourceUpdatedNotification
from ts_support import free_port, wait_for_port

from kitaru_mcp.resources import WAITING_URI, execution_logs_uri, execution_uri
from kitaru_mcp.server import KitaruMCPServer, build_server
from kitaru_mcp.watcher import WatchingBus

REPO = Path(__file__).resolve().parent.parent
EVENT_TIMEOUT = 120.0  # generous: a loaded machine may take long to run a flow


@pytest.fixture(scope="module")
def server(zenml_client: Any) -> KitaruMCPServer:
    return build_server("standard", allow_paths=[FLOWS_DIR])


@pytest.fixture(scope="module")
def greeted(server: KitaruMCPServer) -> dict[str, Any]:
    return greet_once(server)


def _bus(server: KitaruMCPServer) -> WatchingBus:
    bus = server.live_updates
    assert bus is not None
    return bus


async def _read_json(client: Client, uri: str) -> Any:
    result = await client.read_resource(uri)
    assert len(result.contents) == 1
    content = result.contents[0]
    assert content.mime_type == "application/json" and str(content.uri) == uri
    return json.loads(getattr(content, "text", ""))


async def _tool(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    return data(result)


@asynccontextmanager
async def _listening(client: Client, *uris: str) -> AsyncIterator[Subscription]:
    async with client.listen(resource_subscriptions=list(uris)) as subscription:
        assert set(subscription.honored.resource_subscriptions or ()) == set(uris)
        yield subscription


async def _next_update(subscription: Subscription) -> str:
    with anyio.fail_after(EVENT_TIMEOUT):
        event = await subscription.__anext__()
    assert isinstance(event, ResourceUpdated), event
    return event.uri


# ----------------------------------------------------------------------- listing, reading


@pytest.mark.parametrize("mode", ["read-only", "standard", "destructive"])
def test_resources_and_templates_are_listed_in_every_mode(mode: str) -> None:
    async def go() -> tuple[list[str], list[str]]:
        async with Client(build_server(mode)) as client:
            listed = (await client.list_resources()).resources
            templates = (await client.list_resource_templates()).resource_templates
            return [str(r.uri) for r in listed], [t.uri_template for t in templates]

    resources, templates = anyio.run(go)
    assert [uri for uri in resources if uri.startswith("kitaru://")] == [WAITING_URI]
    assert sorted(templates) == [
        "kitaru://executions/{exec_id}",
        "kitaru://executions/{exec_id}/logs",
    ]


def test_each_resource_reads_like_its_tool(
    server: KitaruMCPServer, greeted: dict[str, Any]
) -> None:
    exec_id = greeted["started"]["exec_id"]

    async def go() -> list[Any]:
        async with Client(server) as client:
            return [
                await _read_json(client, execution_uri(exec_id)),
                await _tool(client, "kitaru_executions_get", {"exec_id": exec_id}),
                await _read_json(client, execution_logs_uri(exec_id)),
                await _tool(client, "kitaru_executions_logs", {"exec_id": exec_id}),
                await _read_json(client, WAITING_URI),
                await _tool(client, "kitaru_executions_waiting", {"limit": 200}),
            ]

    execution, got, logs, logs_tool, waiting, waiting_tool = anyio.run(go)
    assert execution == got
    assert execution["exec_id"] == exec_id and execution["status"] == "completed"
    assert [c["call_id"] for c in execution["checkpoints"]] == ["compose", "polish"]
    assert logs == logs_tool and logs["exec_id"] == exec_id
    # Nothing else runs in this test process meanwhile, so both see the same pending waits.
    assert waiting == waiting_tool and {"items", "count", "next_cursor"} <= set(waiting)


@pytest.mark.parametrize("suffix", ["", "/logs"])
def test_an_unknown_execution_is_a_not_found_resource_error(
    server: KitaruMCPServer, suffix: str
) -> None:
    unknown = "3f2b9c1e-6a0d-4b8e-9a55-0d1c2e3f4a5b"

    async def go() -> MCPError:
        async with Client(server) as client:
            with pytest.raises(MCPError) as caught:
                await client.read_resource(f"kitaru://executions/{unknown}{suffix}")
            return caught.value

    problem = anyio.run(go)
    assert "not_found" in str(problem) and unknown in str(problem)
    assert "kitaru_executions_list" in str(problem)  # the hint says what to do


# --------------------------------------------------------------------------------- progress


def test_waiting_tools_send_progress_per_finished_checkpoint(greeted: dict[str, Any]) -> None:
    progress = greeted["progress"]
    messages = [message or "" for _, _, message in progress]
    per_call = [m for m in messages if m.startswith("checkpoint ")]
    assert per_call == [
        "checkpoint compose completed (1 checkpoint call(s) finished)",
        "checkpoint polish completed (2 checkpoint call(s) finished)",
    ]
    assert messages[-1] == "completed: 2 checkpoint call(s) finished"
    values = [value for value, _, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(total == 60 for _, total, _ in progress)


# ---------------------------------------------------------------------------- change events


def test_a_listening_client_follows_a_running_execution(server: KitaruMCPServer) -> None:
    async def go() -> list[dict[str, Any]]:
        async with Client(server) as client:
            arguments = {
                "target": target("slow_flow"),
                "args": {"salt": new_salt(), "steps": 3, "delay": 1.0},
            }
            started = await _tool(client, "kitaru_executions_run", arguments)
            uri = execution_uri(started["exec_id"])
            seen: list[dict[str, Any]] = []
            async with _listening(client, uri) as subscription:
                # Read once after listening: a change before the listen is not announced.
                seen.append(await _read_json(client, uri))
                while seen[-1]["status"] == "running":
                    assert await _next_update(subscription) == uri
                    seen.append(await _read_json(client, uri))
            return seen

    seen = anyio.run(go)
    assert seen[-1]["status"] == "completed"  # the status change was announced
    finished = [sum(1 for c in view["checkpoints"] if c["status"] == "completed") for view in seen]
    # An announcement came while it still ran, after a checkpoint had finished.
    running_with_progress = [
        count
        for view, count in zip(seen[1:], finished[1:], strict=True)
        if view["status"] == "running" and count > finished[0]
    ]
    assert running_with_progress, seen


def test_a_listening_client_sees_a_wait_open_and_close(server: KitaruMCPServer) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any], str]:
        async with Client(server) as client, _listening(client, WAITING_URI) as subscription:
            arguments = {"target": target("approval_flow"), "args": {"salt": new_salt()}}
            exec_id = (await _tool(client, "kitaru_executions_run", arguments))["exec_id"]
            while True:  # other tests' executions may announce their waits too
                assert await _next_update(subscription) == WAITING_URI
                opened = await _read_json(client, WAITING_URI)
                if exec_id in {w["exec_id"] for w in opened["items"]}:
                    break
            value = {"decision": "approve", "reviewer": "Ada"}
            await _tool(client, "kitaru_executions_input", {"exec_id": exec_id, "value": value})
            while True:
                assert await _next_update(subscription) == WAITING_URI
                closed = await _read_json(client, WAITING_URI)
                if exec_id not in {w["exec_id"] for w in closed["items"]}:
                    break
            return opened, closed, exec_id

    opened, _, exec_id = anyio.run(go)
    wait = next(w for w in opened["items"] if w["exec_id"] == exec_id)
    assert wait["name"] == "approval" and wait["question"].startswith("Publish 'draft")
    assert wait["schema"]["required"] == ["decision"]
    assert settle(server, exec_id)["status"] == "completed"


def test_one_watcher_runs_only_while_someone_listens(server: KitaruMCPServer) -> None:
    bus = _bus(server)

    async def go() -> tuple[bool, int, bool]:
        started = bus.watchers_started
        async with Client(server) as one, Client(server) as two, Client(server) as three:
            assert not bus.watching  # connected clients that do not listen cost nothing
            async with (
                _listening(one, WAITING_URI),
                _listening(two, WAITING_URI),
                _listening(three, execution_uri("3f2b9c1e-6a0d-4b8e-9a55-0d1c2e3f4a5b")),
            ):
                during = bus.watching
                count = bus.watchers_started - started
            await anyio.sleep(0)  # let the cancelled watcher unwind
            return during, count, bus.watching

    during, count, after = anyio.run(go)
    assert during and count == 1  # three listeners, one watcher
    assert not after


async def _waiting_execution(client: Client, server: KitaruMCPServer) -> str:
    """An approval_flow execution that is waiting for its answer."""
    arguments = {"target": target("approval_flow"), "args": {"salt": new_salt()}}
    exec_id = (await _tool(client, "kitaru_executions_run", arguments))["exec_id"]
    await anyio.to_thread.run_sync(lambda: settle(server, exec_id, until=("waiting",)))
    return exec_id


def _answer_blocking(exec_id: str) -> None:
    """Answer the approval wait while holding the event loop: the server cannot poll in
    between, so only a first picture taken before the acknowledgement can see the change."""
    from kitaru_core.services import executions

    executions.input(exec_id, value={"decision": "approve", "reviewer": "Ada"})


def test_a_change_right_after_the_listen_is_acknowledged_is_announced(
    server: KitaruMCPServer,
) -> None:
    async def go() -> tuple[str, dict[str, Any]]:
        async with Client(server) as client:
            exec_id = await _waiting_execution(client, server)
            async with _listening(client, WAITING_URI) as subscription:
                _answer_blocking(exec_id)
                while True:  # other executions' waits may be announced too
                    uri = await _next_update(subscription)
                    listed = await _read_json(client, WAITING_URI)
                    if exec_id not in {w["exec_id"] for w in listed["items"]}:
                        return uri, listed

    uri, _ = anyio.run(go)
    assert uri == WAITING_URI


def test_an_older_protocol_client_subscribes_and_gets_updates(server: KitaruMCPServer) -> None:
    """Handshake-era clients (resources/subscribe, notifications/resources/updated) are
    served from the same watcher; each connection counts as one listener."""
    bus = _bus(server)
    updates: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            arrived.set()

    async def go() -> tuple[bool | None, int, int, str, int]:
        nonlocal arrived
        before = bus.listeners
        async with Client(server) as driver:
            exec_id = await _waiting_execution(driver, server)
            uri = execution_uri(exec_id)
            async with Client(server, mode="legacy", message_handler=on_message) as old:
                capabilities = old.server_capabilities.resources
                advertised = capabilities.subscribe if capabilities else None
                with pytest.warns(MCPDeprecationWarning):
                    await old.subscribe_resource(uri)
                    await old.subscribe_resource(WAITING_URI)
                during = bus.listeners - before
                _answer_blocking(exec_id)  # right after the subscribe reply: no gap
                with anyio.fail_after(EVENT_TIMEOUT):
                    while not {uri, WAITING_URI} <= set(updates):
                        await arrived.wait()
                        arrived = anyio.Event()
                with pytest.warns(MCPDeprecationWarning):
                    await old.unsubscribe_resource(uri)
                    await old.unsubscribe_resource(WAITING_URI)
                after_unsubscribe = bus.listeners - before
                with pytest.warns(MCPDeprecationWarning):
                    await old.subscribe_resource(uri)  # left open: closing the client ends it
            await anyio.sleep(0)
            return advertised, during, after_unsubscribe, exec_id, bus.listeners - before

    advertised, during, after_unsubscribe, exec_id, after_close = anyio.run(go)
    assert advertised is True
    assert during == 1 and after_unsubscribe == 0 and after_close == 0
    assert set(updates) <= {execution_uri(exec_id), WAITING_URI}  # only what was asked for
    assert settle(server, exec_id)["status"] == "completed"


def test_subscribe_is_advertised_on_both_protocol_eras(server: KitaruMCPServer) -> None:
    async def go() -> list[bool | None]:
        found: list[bool | None] = []
        for mode in ("legacy", "auto"):
            async with Client(server, mode=mode) as client:
                resources = client.server_capabilities.resources
                found.append(resources.subscribe if resources else None)
        return found

    assert anyio.run(go) == [True, True]


def test_a_store_without_a_file_to_watch_is_polled_through_the_backend(
    server: KitaruMCPServer,
) -> None:
    """The server-connection poller (the same ZenML list calls a server answers), here on
    this session's store: a wait opening and closing and the status changes are seen, and
    polling again without a change announces nothing for the execution."""
    from kitaru_core.services.changes import SERVER_POLL_SECONDS, ServerChangeTracker

    tracker = ServerChangeTracker()
    assert tracker.poll_seconds == SERVER_POLL_SECONDS
    first = tracker.poll()
    assert first is not None and not first  # the first poll only takes the picture
    arguments = {"target": target("approval_flow"), "args": {"salt": new_salt()}}
    exec_id = data(call(server, "kitaru_executions_run", arguments))["exec_id"]
    settle(server, exec_id, until=("waiting",))
    opened = tracker.poll()
    answer = {"exec_id": exec_id, "value": {"decision": "approve"}}
    data(call(server, "kitaru_executions_input", answer))
    assert settle(server, exec_id)["status"] == "completed"
    closed = tracker.poll()
    quiet = tracker.poll()
    assert opened is not None and exec_id in opened.executions and opened.waits
    assert closed is not None and exec_id in closed.executions and closed.waits
    assert quiet is not None and exec_id not in quiet.executions


def test_a_client_that_does_not_listen_sees_todays_behaviour(
    server: KitaruMCPServer, greeted: dict[str, Any]
) -> None:
    polls = _bus(server).polls
    exec_id = greeted["started"]["exec_id"]
    execution = data(call(server, "kitaru_executions_get", {"exec_id": exec_id}))
    assert execution["status"] == "completed"
    assert _bus(server).polls == polls and not _bus(server).watching


# ------------------------------------------------------------------- reads without ZenML


def test_resource_reads_do_not_load_zenml_in_the_server(greeted: dict[str, Any]) -> None:
    exec_id = greeted["started"]["exec_id"]
    script = textwrap.dedent(
        f"""
        import sys, anyio
        from mcp import Client
        from kitaru_mcp.server import build_server

        async def go():
            async with Client(build_server("read-only")) as client:
                for uri in ("kitaru://executions/{exec_id}",
                            "kitaru://executions/{exec_id}/logs", "kitaru://waiting"):
                    assert (await client.read_resource(uri)).contents[0].text
                async with client.listen(resource_subscriptions=["kitaru://waiting"]):
                    await anyio.sleep(1)  # the watcher polls a few times meanwhile

        anyio.run(go)
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "zenml")
        assert not loaded, loaded[:5]
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


# ------------------------------------------------------------------------ stdio and HTTP

# A real server process (``python -m kitaru_mcp``) that may load only the test flows.
_SERVE = ["-m", "kitaru_mcp", "--mode", "standard", "--allow-path", str(FLOWS_DIR)]


@asynccontextmanager
async def _subprocess_client(transport: str, errlog: Any) -> AsyncIterator[Client]:
    """A client of a real ``kitaru-mcp`` process, over stdio or streamable HTTP."""
    if transport == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        parameters = StdioServerParameters(
            command=sys.executable, args=_SERVE, env=dict(os.environ), cwd=REPO
        )
        async with Client(stdio_client(parameters, errlog=errlog)) as client:
            yield client
        return
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    port = free_port()
    http_arguments = ["--transport", "http", "--port", str(port), "--no-auth"]
    process = subprocess.Popen([sys.executable, *_SERVE, *http_arguments], stderr=errlog, cwd=REPO)
    try:
        wait_for_port(port, process, Path(errlog.name))
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            httpx2.AsyncClient(timeout=EVENT_TIMEOUT) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            yield client
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_a_server_process_serves_resources_and_events(
    zenml_client: Any, tmp_path: Path, transport: str
) -> None:
    async def go() -> tuple[list[str], dict[str, Any]]:
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with _subprocess_client(transport, errlog) as client:
                resources = [str(r.uri) for r in (await client.list_resources()).resources]
                arguments = {
                    "target": target("greet_flow"),
                    "args": {"name": "Bo", "salt": new_salt()},
                }
                exec_id = (await _tool(client, "kitaru_executions_run", arguments))["exec_id"]
                uri = execution_uri(exec_id)
                async with _listening(client, uri) as subscription:
                    view = await _read_json(client, uri)
                    deadline = anyio.current_time() + 4 * EVENT_TIMEOUT
                    while view["status"] == "running":
                        # The first picture is taken before the listen is acknowledged, so
                        # every change after the read above is announced: wait for it.
                        assert await _next_update(subscription) == uri
                        view = await _read_json(client, uri)
                        assert anyio.current_time() < deadline, "the execution never finished"
                return resources, view

    resources, view = anyio.run(go)
    assert [uri for uri in resources if uri.startswith("kitaru://")] == [WAITING_URI]
    assert view["status"] == "completed" and view["result"] == "HELLO BO"


def _in_process(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def server_connection(tmp_path: Path) -> Any:
    """A private config dir logged in to a real local ZenML server (as the server tier does)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITARU_", "ZENML_"))}
    env["KITARU_CONFIG_PATH"] = str(tmp_path / "config")
    login = "from kitaru_core.services import server\nprint(server.login(port={}).kind)"
    assert _in_process(login.format(free_port()), env) == "local_server"
    yield env
    logout = "from kitaru_core.services import server\nprint(server.logout().kind)"
    assert _in_process(logout, env) == "local_store"


def test_a_server_connection_gets_change_events(
    server_connection: dict[str, str], tmp_path: Path
) -> None:
    """On a server there is no database file to watch: the watcher asks the server instead,
    and a stdio client still follows an execution by its events alone."""
    from mcp.client.stdio import StdioServerParameters, stdio_client

    parameters = StdioServerParameters(
        command=sys.executable, args=_SERVE, env=server_connection, cwd=REPO
    )

    async def go() -> tuple[str, list[str]]:
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with Client(stdio_client(parameters, errlog=errlog)) as client:
                status = await _tool(client, "kitaru_status", {})
                # Slow enough to be still running when the client first reads it.
                run = {"target": target("slow_flow"), "args": {"salt": new_salt(), "steps": 3}}
                exec_id = (await _tool(client, "kitaru_executions_run", run))["exec_id"]
                uri = execution_uri(exec_id)
                statuses: list[str] = []
                async with _listening(client, uri) as subscription:
                    view = await _read_json(client, uri)
                    while view["status"] == "running":
                        assert await _next_update(subscription) == uri
                        view = await _read_json(client, uri)
                        statuses.append(view["status"])
                return status["connection"]["kind"], statuses

    kind, statuses = anyio.run(go)
    assert kind == "server"
    assert statuses and statuses[-1] == "completed"  # the end was announced, not polled for
