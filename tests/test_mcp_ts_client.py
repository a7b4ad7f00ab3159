"""A strict client that is not ours calls every tool (issue 17).

The official TypeScript SDK client (``tests/ts_client/check.mjs``, default validation: ajv with
formats against each tool's ``outputSchema``) talks to a real ``kitaru-mcp --mode destructive``
over stdio and over streamable HTTP, on a store populated by really running flows
(``tests/ts_client/ts_flows.py``): completed, failed, waiting (then answered, aborted and
cancelled by the client), an ``llm()`` call, artifacts, two local deployments with tags and a
second local stack. Every listed tool has a case; every success must validate, every failure
must be a readable ``isError`` result (JSON error body as text), and ``kitaru_deployments_list``
without arguments must list what is deployed.

Nothing is mocked: ``KITARU_LLM_MOCK_RESPONSE`` is LiteLLM's own offline answer. Select with
``-m ts_client``; skipped where ``node`` is missing. ``make install-dev`` runs ``npm ci``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _mcp_flows import new_salt, settle
from _mcp_support import call, data
from ts_support import KITARU_MCP, TS_DIR, node_with_sdk, run_ts_script

from kitaru_core.runtime import detach
from kitaru_mcp.server import KitaruMCPServer, build_server

pytestmark = pytest.mark.ts_client

FLOWS = TS_DIR / "ts_flows.py"
DEPLOYED_FLOW = "ts_deployed_agent"
SIDE_STACK = "ts-side-stack"
TRANSPORTS = ("stdio", "http")
WAITS = ("answer", "abort", "cancel")  # what each transport does to its own waiting executions


def _target(flow: str) -> str:
    return f"{FLOWS}:{flow}"


# ------------------------------------------------------------------------------ node setup


@pytest.fixture(scope="module")
def node() -> str:
    """``node`` with the SDK installed in tests/ts_client (``npm ci`` when it is missing)."""
    return node_with_sdk(install=True)


# ---------------------------------------------------------------------------- the store


@pytest.fixture(scope="module")
def server(zenml_client: Any) -> KitaruMCPServer:
    """An in-process server that populates the store the client will read."""
    return build_server("destructive", allow_paths=[TS_DIR])


def _start(server: KitaruMCPServer, flow: str, **args: Any) -> str:
    arguments = {"target": _target(flow), "args": {**args, "salt": new_salt()}, "wait_seconds": 0}
    return str(data(call(server, "kitaru_executions_run", arguments))["exec_id"])


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[None]:
    """A warm worker pool of our own, as kitaru-mcp starts one (a cold worker per execution
    would import ZenML each time). Its workers answer ``llm()`` with LiteLLM's offline mock."""
    previous = detach._zygote
    detach._zygote = None
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KITARU_LLM_MOCK_RESPONSE", "a mocked summary")
        detach.warm_zygote()  # the pool keeps the environment it was started with
    yield
    pool = detach._zygote
    if pool is not None:
        pool.process.kill()
        pool.process.wait(30)
    detach._zygote = previous


@pytest.fixture(scope="module")
def populated(node: str, worker_pool: None, server: KitaruMCPServer) -> Iterator[dict[str, Any]]:
    """Real executions, deployments and stacks; the ids the cases need, per transport."""
    starts: dict[str, tuple[str, dict[str, Any]]] = {
        "completed": ("ts_report", {"topic": "agents"}),
        "failed": ("ts_broken", {}),  # retried once per transport
        "llm": ("ts_ask", {}),
    }
    for transport in TRANSPORTS:  # each transport answers, aborts and cancels its own waits
        starts.update({f"{transport}.{key}": ("ts_review", {}) for key in WAITS})
    with ThreadPoolExecutor(max_workers=4) as pool:  # the workers run in parallel
        started = pool.map(lambda spec: _start(server, spec[0], **spec[1]), starts.values())
        ids: dict[str, Any] = dict(zip(starts, started, strict=True))
    assert settle(server, ids["completed"])["status"] == "completed"
    assert settle(server, ids["failed"])["status"] == "failed"
    llm_calls = settle(server, ids["llm"])["checkpoints"]
    assert [c["type"] for c in llm_calls] == ["llm_call"]
    for transport in TRANSPORTS:
        ids[transport] = {key: ids.pop(f"{transport}.{key}") for key in WAITS}
        for exec_id in ids[transport].values():
            settle(server, exec_id, until=("waiting",))

    artifacts = data(call(server, "kitaru_artifacts_list", {"exec_id": ids["completed"]}))
    assert artifacts["items"]
    ids["artifact"] = artifacts["items"][0]["artifact_id"]

    data(call(server, "kitaru_stacks_create", {"name": SIDE_STACK, "activate": False}))
    deploy = {"target": _target(DEPLOYED_FLOW), "allow_local": True}
    data(call(server, "kitaru_deployments_deploy", {**deploy, "inputs": {"topic": "v1"}}))
    canary = {**deploy, "inputs": {"topic": "v2"}, "tag": "canary", "exclusive": True}
    data(call(server, "kitaru_deployments_deploy", canary))
    yield ids
    # Leave the stacks as other tests in this process expect them.
    call(server, "kitaru_stacks_use", {"name": "default"})
    call(server, "kitaru_stacks_delete", {"name": SIDE_STACK})


# ---------------------------------------------------------------------------- the cases


def _ok(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"tool": tool, "arguments": arguments, "expect": "ok"}


def _error(tool: str, code: str | None = None, **arguments: Any) -> dict[str, Any]:
    """A call that must fail readably (with ``code`` when the contract fixes it)."""
    return {"tool": tool, "arguments": arguments, "expect": "error", "code": code}


def _cases(ids: dict[str, Any], transport: str) -> list[dict[str, Any]]:
    """Every tool with real ids, reads before writes; order matters for the writes."""
    own = ids[transport]
    done = ids["completed"]
    flow = {"flow": DEPLOYED_FLOW}
    scratch_stack = f"ts-scratch-{transport}"
    scratch_tag = f"scratch-{transport}"
    return [
        # system
        _ok("kitaru_status"),
        _ok("kitaru_info"),
        _ok("kitaru_server_stop"),  # no server running: stays on the local store
        _error("kitaru_server_start", "validation_error", port=80),
        # reads
        _ok("kitaru_flows_list", limit=200),  # the deployed flow among them (see _verdict)
        _ok("kitaru_executions_list"),
        _ok("kitaru_executions_list", flow="ts_review", status="waiting", limit=5),
        *(_ok("kitaru_executions_get", exec_id=ids[key]) for key in ("completed", "failed", "llm")),
        _ok("kitaru_executions_get", exec_id=own["cancel"]),  # waiting, with its pending wait
        _ok("kitaru_executions_latest", flow="ts_report"),
        _ok("kitaru_executions_logs", exec_id=done),
        _ok("kitaru_executions_waiting"),
        _ok("kitaru_artifacts_list", exec_id=done),
        _ok("kitaru_artifacts_get", artifact_id=ids["artifact"]),
        _ok("kitaru_stacks_list"),
        _ok("kitaru_stacks_current"),
        _ok("kitaru_stacks_show", name=SIDE_STACK),
        _ok("kitaru_deployments_list"),  # no arguments: every flow's deployments
        _ok("kitaru_deployments_list", limit=200),  # the same, surely on one page
        _ok("kitaru_deployments_list", **flow),
        _ok("kitaru_deployments_get", **flow),
        _ok("kitaru_deployments_get", **flow, tag="canary"),
        # bad input
        _error("kitaru_executions_get", "not_found", exec_id=str(uuid.uuid4())),
        _error("kitaru_executions_list", limit=0),
        _error("kitaru_executions_logs", exec_id=done, no_such_argument=1),
        _error("kitaru_deployments_get", "not_found", flow="ts_never_deployed"),
        _error("kitaru_deployments_curl", **flow),  # local deployments have no endpoint
        _error("kitaru_stacks_create", name="ts-bad-type", stack_type="mainframe"),
        # writes
        _ok(
            "kitaru_executions_run",
            target=_target("ts_report"),
            args={"topic": "t", "salt": transport},
        ),
        _ok(
            "kitaru_executions_input",
            exec_id=own["answer"],
            value={"decision": "approve"},
            resume=False,
        ),
        _ok("kitaru_executions_resume", exec_id=own["answer"]),
        _ok("kitaru_executions_abort_wait", exec_id=own["abort"], wait="review"),
        _ok("kitaru_executions_cancel", exec_id=own["cancel"]),
        _ok("kitaru_executions_get", exec_id=own["cancel"]),  # cancelled now
        _ok("kitaru_executions_retry", exec_id=ids["failed"]),
        _ok("kitaru_executions_replay", exec_id=done, from_checkpoint="ts_write", dry_run=True),
        _ok("kitaru_executions_replay", exec_id=done, overrides={"checkpoint.ts_outline": ["x"]}),
        _ok("kitaru_stacks_use", name=SIDE_STACK),
        _ok("kitaru_stacks_use", name="default"),
        _ok("kitaru_stacks_create", name=scratch_stack, activate=False),
        _ok("kitaru_stacks_delete", name=scratch_stack),
        _ok(
            "kitaru_deployments_deploy",
            target=_target(DEPLOYED_FLOW),
            inputs={"topic": transport},
            tag=scratch_tag,
            allow_local=True,
        ),
        _ok("kitaru_deployments_invoke", **flow, tag="canary"),
        _ok("kitaru_deployments_tag", **flow, tag=f"stable-{transport}", version=1),
        _ok("kitaru_deployments_untag", **flow, tag=f"stable-{transport}", version=1),
        _ok("kitaru_deployments_delete", **flow, tag=scratch_tag),
    ]


# ----------------------------------------------------------------------------- running it


def _run_client(node: str, transport: str, cases: list[dict[str, Any]], tmp: Path) -> Any:
    serve = [KITARU_MCP, "--mode", "destructive", "--allow-path", str(TS_DIR)]
    return run_ts_script(node, "check.mjs", cases, transport, serve, tmp, timeout=600)


def _problem(case: dict[str, Any], report: dict[str, Any]) -> str | None:
    """What went wrong in one case, in the client's own words (``None`` when it behaved)."""
    if not report["listed"]:
        return None  # a tool this server does not offer (yet): there is nothing to call
    if report["client_error"]:
        said = report["client_error"]  # e.g. the result failed the tool's outputSchema
    elif report["ok"]:
        code = case.get("code")
        if not code or report["error_text"].startswith(f"{code}:"):
            return None
        said = f"expected code {code}, got {report['error_text']}"
    elif not report["is_error"]:
        said = "succeeded" if case["expect"] == "error" else "no structuredContent"
    else:
        said = report["error_text"] or "isError without a readable JSON error body"
    return (
        f"{case['tool']}({json.dumps(case['arguments'])}) expected {case['expect']}: {said[:400]}"
    )


def _verdict(transport: str, cases: list[dict[str, Any]], report: dict[str, Any]) -> list[str]:
    """Everything wrong with one transport's run (an empty list when all is well)."""
    uncovered = set(report["tools"]) - {case["tool"] for case in cases}
    problems = [f"listed tools without a case: {sorted(uncovered)}"] if uncovered else []
    pairs = list(zip(cases, report["cases"], strict=True))
    problems += [p for case, result in pairs if (p := _problem(case, result))]
    # Without `flow`, the list holds every flow's deployments: ours among them.
    unfiltered = [
        result["structured"]
        for case, result in pairs
        if case["tool"] == "kitaru_deployments_list" and "flow" not in case["arguments"]
    ]
    if all(page is not None for page in unfiltered):
        listed = {(item["flow"], item["version"]) for item in unfiltered[-1]["items"]}
        if not {(DEPLOYED_FLOW, 1), (DEPLOYED_FLOW, 2)} <= listed:
            problems.append(f"kitaru_deployments_list without flow lists only {sorted(listed)}")
    # The flow deployed (and never run) by the fixture is a flow the store knows.
    flow_pages = [r["structured"] for c, r in pairs if c["tool"] == "kitaru_flows_list"]
    if flow_pages and flow_pages[-1] is not None:
        known = {item["name"]: item for item in flow_pages[-1]["items"]}
        versions = [d["version"] for d in known.get(DEPLOYED_FLOW, {}).get("deployments", [])]
        if versions[:2] != [1, 2]:
            problems.append(f"kitaru_flows_list shows {DEPLOYED_FLOW} with versions {versions}")
    return [f"[{transport}] {problem}" for problem in problems]


def test_the_typescript_client_validates_every_tool(
    node: str, populated: dict[str, Any], tmp_path: Path
) -> None:
    problems: list[str] = []
    for transport in TRANSPORTS:  # one store for both: each transport has its own ids
        cases = _cases(populated, transport)
        report = _run_client(node, transport, cases, tmp_path / transport)
        problems += _verdict(transport, cases, report)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
