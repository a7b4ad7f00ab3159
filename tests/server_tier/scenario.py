"""One process's worth of checks against a real local ZenML server (run by test_server_tier).

Each step goes through the same services the CLI and the MCP server use, so the REST path of
the store is exercised for executions, waits, stacks and deployments.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

from kitaru_core.backend.bootstrap import server_url
from kitaru_core.requests.stacks import (
    MCP_LABELS,
    build_stack_create_request,
    build_stack_delete_request,
)
from kitaru_core.runtime.handle import FlowHandle
from kitaru_core.services import deployments, executions, stacks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario_flows import doubler


def check_executions() -> None:
    handle = doubler.run(value=3)
    assert handle.wait(timeout=120) == 12
    execution = executions.get(handle.exec_id)
    assert execution.status.value == "completed"
    assert [call.call_id for call in execution.checkpoints] == ["double", "double_2"]
    items, _ = executions.list_executions(flow="doubler", limit=5)
    assert handle.exec_id in [item.exec_id for item in items]


def check_waits() -> None:
    from kitaru_core.runtime.detach import start_job

    exec_id, _ = start_job(
        {"kind": "run", "target": "scenario_flows.py:asks", "inputs": {"value": 5}}
    )
    deadline = time.monotonic() + 120
    while executions.get(exec_id).status.value != "waiting":
        assert time.monotonic() < deadline, "never reached waiting"
        time.sleep(0.3)
    assert any(item.exec_id == exec_id for item in executions.waiting())
    executions.input(exec_id, value=7)
    assert FlowHandle(exec_id).wait(timeout=120) == 17


def check_stacks() -> None:
    name = f"tier-{uuid.uuid4().hex[:6]}"
    stacks.create_stack(build_stack_create_request(name=name, activate=False, labels=MCP_LABELS))
    assert name in [item.name for item in stacks.list_stacks()]
    stacks.delete_stack(build_stack_delete_request(name, recursive=True))
    assert name not in [item.name for item in stacks.list_stacks()]


def check_deployments() -> None:
    target = str(Path(__file__).resolve().parent / "scenario_flows.py") + ":doubler"
    first = deployments.deploy(target, inputs={"value": 1}, allow_local=True)
    assert first.version == 1 and [t.name for t in first.tags] == ["default"]
    second = deployments.deploy(
        target, inputs={"value": 1}, tag="canary", exclusive=True, allow_local=True
    )
    started = deployments.invoke("doubler", tag="canary", inputs={"value": 10})
    assert FlowHandle(started.exec_id).wait(timeout=120) == 40
    deployments.tag("doubler", "stable", version=second.version, exclusive=True)
    assert deployments.get("doubler", tag="stable").version == second.version


if __name__ == "__main__":
    assert server_url() is not None, "the scenario must run against a server"
    for check in (check_executions, check_waits, check_stacks, check_deployments):
        check()
        print(f"ok {check.__name__}", flush=True)
