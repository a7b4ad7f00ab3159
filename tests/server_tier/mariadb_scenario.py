"""An SDK client's scenario for the server tier on MariaDB; prints its answers as JSON.

``python mariadb_scenario.py runs|control`` runs one half. Every value printed is one that must
not depend on where the store lives (no ids, no times): the test compares the answers from the
server with the answers the same script gives on a local store. Run from this folder.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mariadb_flows as flows  # noqa: E402

from kitaru_core import (  # noqa: E402
    KitaruClient,
    create_stack,
    current_stack,
    delete_stack,
    list_stacks,
    use_stack,
)
from kitaru_core.errors import KitaruExecutionError  # noqa: E402
from kitaru_core.models import Execution  # noqa: E402
from kitaru_core.runtime.handle import FlowHandle  # noqa: E402
from kitaru_core.services import executions as exec_service  # noqa: E402

client = KitaruClient()
TARGET = str(HERE / "mariadb_flows.py")


def calls(execution: Execution) -> list[list[Any]]:
    # Sorted: both read paths order calls by creation time, and a replay's reused call can be
    # created in the same instant as the first live one (known gap: on MariaDB they come back
    # in the other order; see the closing notes).
    return sorted([c.call_id, c.status.value, c.cached] for c in execution.checkpoints)


def until_status(exec_id: str, status: str) -> Execution:
    deadline = time.monotonic() + 120  # bounds a hang; not a timing assertion
    while (execution := client.executions.get(exec_id)).status.value != status:
        assert time.monotonic() < deadline, f"{exec_id} never reached {status}"
        time.sleep(0.3)
    return execution


def run_and_read() -> dict[str, Any]:
    handle = flows.doubler.run(value=3)
    result = handle.wait(timeout=120)
    execution = client.executions.get(handle.exec_id)
    listed = client.executions.list(flow="doubler", limit=5)
    chatty = flows.chatty.run(text="hi")
    logs = client.executions.logs(chatty.exec_id, checkpoint="shout")
    return {
        "result": result,
        "status": execution.status.value,
        "calls": calls(execution),
        "listed": handle.exec_id in [item.exec_id for item in listed],
        "chatty": chatty.wait(timeout=120),
        "logged": any("shouting hi" in entry.message for entry in logs),
        "_doubler": handle.exec_id,
    }


def wait_while_polling() -> dict[str, Any]:
    started = exec_service.start(f"{TARGET}:asks", inputs={"value": 5})
    waiting = until_status(started.exec_id, "waiting")
    listed = [w for w in client.executions.waiting() if w.exec_id == started.exec_id]
    client.executions.input(started.exec_id, "more", 7)
    return {
        "pending": waiting.pending_wait.name if waiting.pending_wait else None,
        "questions": [w.question for w in listed],
        "result": FlowHandle(started.exec_id).wait(timeout=120),
    }


def wait_after_timeout() -> dict[str, Any]:
    handle = flows.asks_later.run(value=4)  # the worker gives up at once: timeout=0
    paused = client.executions.get(handle.exec_id)
    client.executions.input(handle.exec_id, "later", 5)  # no worker polls: this resumes it
    result = handle.wait(timeout=120)
    return {
        "paused_status": paused.status.value,
        "pending": paused.pending_wait.name if paused.pending_wait else None,
        "result": result,
        "calls": calls(client.executions.get(handle.exec_id)),
    }


def retry_and_replay(doubled: str) -> dict[str, Any]:
    marker = Path(tempfile.mkdtemp()) / "fail-once"
    marker.touch()
    failed_handle = flows.flaky.run(marker=str(marker), value=2)
    try:
        failed_handle.wait(timeout=120)
        raise AssertionError("flaky should fail once")
    except KitaruExecutionError as error:
        failure = error.code
    failed = client.executions.get(failed_handle.exec_id)
    retried = client.executions.retry(failed.exec_id)
    retried_result = retried.wait(timeout=120)
    plan = client.executions.replay(doubled, from_="double_2", dry_run=True)
    replayed = client.executions.replay(doubled, from_="double_2")
    assert isinstance(replayed, FlowHandle)
    replayed_result = replayed.wait(timeout=120)
    replayed_execution = client.executions.get(replayed.exec_id)
    return {
        "failure": failure,
        "failed": [failed.status.value, failed.failure.checkpoint if failed.failure else None],
        "retried": [retried_result, calls(client.executions.get(retried.exec_id))],
        "plan": plan.model_dump(mode="json") if not isinstance(plan, FlowHandle) else None,
        "replayed": [replayed_result, calls(replayed_execution)],
        "linked": replayed_execution.original_exec_id == doubled,
    }


def deploy_and_invoke() -> dict[str, Any]:
    target = f"{TARGET}:doubler"
    first = client.deployments.deploy(target, inputs={"value": 1}, allow_local=True)
    second = client.deployments.deploy(
        target, inputs={"value": 1}, tag="canary", exclusive=True, allow_local=True
    )
    invoked = client.deployments.invoke("doubler", tag="canary", inputs={"value": 10})
    return {
        "versions": [first.version, second.version],
        "tags": [[t.name for t in first.tags], [t.name for t in second.tags]],
        "invoked": invoked.wait(timeout=120),
        "routed": client.deployments.get("doubler", tag="canary").version,
    }


def stacks() -> dict[str, Any]:
    create_stack("tier-sdk", activate=True)
    on_stack = flows.doubler.run(value=5)
    result = on_stack.wait(timeout=120)
    ran_on = client.executions.get(on_stack.exec_id).stack
    use_stack("default")
    delete_stack("tier-sdk", recursive=True)
    return {
        "result": result,
        "ran_on": ran_on,
        "current": current_stack().name,
        "left": "tier-sdk" in [s.name for s in list_stacks()],
    }


def fast_path() -> bool:
    """Whether this process reads the store through the local SQLite fast path."""
    from kitaru_core.backend import local_store

    return local_store.open_local() is not None


def timed(name: str, step: Any, *args: Any) -> Any:
    """Runs one step and notes on stderr how long it took (to see where the tier's time goes)."""
    began = time.monotonic()
    outcome = step(*args)
    print(f"step {name}: {time.monotonic() - began:.1f} s", file=sys.stderr, flush=True)
    return outcome


def runs_part() -> dict[str, Any]:
    answers: dict[str, Any] = {"run": timed("run", run_and_read)}
    doubled = answers["run"].pop("_doubler")
    answers["retry_replay"] = timed("retry_replay", retry_and_replay, doubled)
    answers["stacks"] = timed("stacks", stacks)
    return answers


def control_part() -> dict[str, Any]:
    return {
        "wait_polling": timed("wait_polling", wait_while_polling),
        "wait_timeout": timed("wait_timeout", wait_after_timeout),
        "deploy": timed("deploy", deploy_and_invoke),
    }


# Two halves, so that the tier can run them side by side (each is one client process).
PARTS = {"runs": runs_part, "control": control_part}

if __name__ == "__main__":
    answers = PARTS[sys.argv[1]]()
    answers["fast_path"] = fast_path()
    print("ANSWERS " + json.dumps(answers, sort_keys=True), flush=True)
