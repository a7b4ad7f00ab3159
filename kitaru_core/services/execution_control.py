"""Execution operations that run flows again or stop them: retry, replay, cancel."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from kitaru_core.errors import KitaruStateError, KitaruUsageError
from kitaru_core.hints import Hint
from kitaru_core.jobs import RerunJob
from kitaru_core.models import Execution, ExecutionStatus, ReplayPlan, StartedExecution
from kitaru_core.requests.executions import build_replay_plan, parse_overrides
from kitaru_core.services.executions import get

CANCEL_GRACE = 10.0


def _started(exec_id: str, log_file: Any) -> StartedExecution:
    execution = get(exec_id)
    return StartedExecution(
        exec_id=exec_id, status=execution.status, flow=execution.flow, log_file=str(log_file)
    )


def _refuse_in_worker(exec_id: str, action: str) -> None:
    """Retry and replay always run in a worker process, which cannot load a flow defined
    outside a file."""
    from kitaru_core.runtime import interactive

    run = interactive.lookup(exec_id)
    if run is not None:
        raise interactive.refusal(exec_id, run, action)


def retry(exec_id: str) -> StartedExecution:
    """Run a ``failed`` execution again, reusing every checkpoint that completed.

    The retry is a new execution linked to the failed one by ``original_exec_id``.
    """
    from kitaru_core.backend import replay
    from kitaru_core.backend.store import execution_store
    from kitaru_core.runtime.detach import start_job

    execution = get(exec_id)
    if execution.status != ExecutionStatus.FAILED:
        raise KitaruStateError(
            f"Execution {exec_id} is {execution.status.value}; only a failed execution can be "
            "retried.",
            hint=Hint(
                sdk="Replay it from a checkpoint: "
                "`KitaruClient().executions.replay(exec_id, from_=...)`.",
                cli="Replay it from a checkpoint: "
                "`kitaru executions replay EXEC_ID --from CALL_ID`.",
                mcp="{tool:kitaru_executions_replay|replay it from a checkpoint}.",
            ),
            details={"exec_id": exec_id, "status": execution.status.value},
        )
    _refuse_in_worker(exec_id, "retried")
    job = RerunJob(exec_id=exec_id, skip=replay.successful_calls(exec_id), live=False)
    new_id, log_file = start_job(job)
    execution_store().mark_retried(exec_id, new_id)
    return _started(new_id, log_file)


def plan_replay(
    exec_id: str, *, from_: str | None = None, overrides: dict[str, Any] | None = None
) -> ReplayPlan:
    from kitaru_core.backend import replay

    get(exec_id)  # not found → a clear error first
    calls = replay.recorded_calls(exec_id)
    return build_replay_plan(calls, from_=from_, overrides=parse_overrides(overrides))


def replay(
    exec_id: str,
    *,
    from_: str | None = None,
    overrides: dict[str, Any] | None = None,
    flow_inputs: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> ReplayPlan | StartedExecution:
    """A new execution that reuses the calls before ``from_`` and runs the rest live.

    Overridden calls are replaced by the given values (not run); everything downstream runs
    live, never from the cache. ``dry_run`` returns the plan without running anything.
    """
    from kitaru_core.runtime.detach import start_job

    execution = get(exec_id)
    if not execution.status.is_finished:
        raise KitaruStateError(
            f"Execution {exec_id} is still {execution.status.value}; replay a finished one.",
            hint=Hint(
                sdk="Wait for it to finish, or cancel it first "
                "(`KitaruClient().executions.cancel(exec_id)`).",
                cli="Wait for it to finish, or cancel it first "
                "(`kitaru executions cancel EXEC_ID`).",
                mcp="Wait for it to finish, or {tool:kitaru_executions_cancel|cancel it} first.",
            ),
            details={"exec_id": exec_id, "status": execution.status.value},
        )
    if flow_inputs is not None and not isinstance(flow_inputs, dict):
        raise KitaruUsageError("flow_inputs must be a mapping of flow parameter names to values.")
    plan = plan_replay(exec_id, from_=from_, overrides=overrides)
    if dry_run:
        return plan
    _refuse_in_worker(exec_id, "replayed")
    values = parse_overrides(overrides)
    by_call = {call: values[name] for call, name in zip(plan.overridden, values, strict=True)}
    job = RerunJob(
        exec_id=exec_id,
        skip=list(plan.reused),
        overrides=by_call,
        flow_inputs=dict(flow_inputs or {}),
        live=True,
        replay_from=plan.from_checkpoint,
    )
    new_id, log_file = start_job(job)
    return _started(new_id, log_file)


def cancel(exec_id: str, *, grace: float = CANCEL_GRACE) -> Execution:
    """Stop a running or waiting execution; completed checkpoints stay."""
    from kitaru_core import liveness
    from kitaru_core.backend.store import execution_store
    from kitaru_core.runtime import cancellation

    store = execution_store()
    waits = store.wait_operations()
    execution = get(exec_id)
    if execution.status.is_finished:
        raise KitaruStateError(
            f"Execution {exec_id} already finished ({execution.status.value}).",
            hint="Only running or waiting executions can be cancelled.",
            details={"exec_id": exec_id, "status": execution.status.value},
        )
    if waits.list_conditions(exec_id):
        waits.resolve(waits.find_condition(exec_id, None), abort=True)
        return get(exec_id)
    if execution.status == ExecutionStatus.WAITING:
        store.stop_run(exec_id, "Cancelled by request.")
        return get(exec_id)
    cancellation.request(exec_id)
    record = liveness.read(exec_id)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if get(exec_id).status.is_finished:
            return get(exec_id)
        time.sleep(0.1)
    if record and liveness.pid_alive(int(record["pid"])) and int(record["pid"]) != os.getpid():
        os.kill(int(record["pid"]), signal.SIGKILL)
    reason = f"Cancelled by request; stopped after a {grace:g} s grace period."
    store.stop_run(exec_id, reason)
    return get(exec_id)
