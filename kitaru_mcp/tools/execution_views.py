"""Result shapes shared by the execution and deployment tools, and following a started run.

An execution as a tool returns it is bounded (its result, traceback, frozen spec and, for very
long executions, its checkpoint list are shortened to fit the size budget, with ``truncated``
and a hint saying where the full data is). Tools that start work (run, invoke, resume, retry,
replay) return a :class:`StartedRun` at once; with ``wait_seconds`` they follow the execution
for a bounded time, sending progress notifications, and return it as it is then.

Cheap to import: pydantic models only (services are imported inside the functions).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult
from pydantic import BaseModel, Field

from kitaru_core.models import (
    CheckpointCall,
    Execution,
    ExecutionStatus,
    StartedExecution,
    UtcDateTime,
)
from kitaru_mcp.results import ITEMS_BUDGET, bound_value, json_size, tail_text

MAX_WAIT_SECONDS = 60
POLL_SECONDS = 0.5
RESULT_CHARS = 16_000
TRACEBACK_CHARS = 8_000
SPEC_CHARS = 8_000
WAIT_METADATA_CHARS = 8_000
SUMMARY_RESULT_CHARS = 1_000
METADATA_CHARS = 8_000  # what log() recorded at flow scope
CALL_METADATA_CHARS = 2_000  # what log() recorded in one checkpoint call

ExecId = Annotated[
    str,
    Field(
        description="Execution id (exec_id) as returned by kitaru_executions_list or a run.",
        examples=["3f2b9c1e-6a0d-4b8e-9a55-0d1c2e3f4a5b"],
    ),
]
WaitSeconds = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_WAIT_SECONDS,
        description=f"Seconds (0 to {MAX_WAIT_SECONDS}) to follow the execution before returning, "
        "with progress notifications; it returns earlier once the execution completes, fails, "
        "is cancelled or waits for input. 0 (default) returns at once.",
        examples=[0, 30],
    ),
]


class ExecutionSummary(BaseModel):
    """One execution in a list: status and timing, without checkpoints (see
    kitaru_executions_get for those)."""

    exec_id: str
    flow: str
    status: ExecutionStatus = Field(description="running, waiting, completed, failed or cancelled.")
    status_reason: str | None = None
    started_at: UtcDateTime | None = None
    ended_at: UtcDateTime | None = None
    stack: str | None = None
    result: Any = Field(
        default=None,
        description=f"The flow's return value once completed (at most ~{SUMMARY_RESULT_CHARS} "
        "characters here; kitaru_executions_get shows more).",
    )
    result_truncated: bool = False
    original_exec_id: str | None = Field(
        default=None, description="The execution this one retries or replays, if any."
    )


class ExecutionDetails(Execution):
    """One execution in full: status, checkpoints (call ids, attempts, cache hits, output
    artifact ids), the pending wait (question and JSON schema), the failure, the frozen spec and
    the result. Big parts are shortened to fit; ``truncated`` and ``hint`` say so."""

    truncated: bool = Field(
        default=False, description="True when some part was shortened to fit the size budget."
    )
    checkpoints_omitted: int = Field(
        default=0,
        description="How many of the earliest checkpoint calls were left out to fit.",
    )
    hint: str | None = Field(default=None, description="Where to read what was shortened.")


class StartedRun(BaseModel):
    """An execution that was started or continued in the background."""

    exec_id: str = Field(description="The execution to follow with kitaru_executions_get.")
    flow: str | None = None
    status: ExecutionStatus = Field(description="Its status when this result was made.")
    waited_seconds: float = Field(
        description="How long this call followed the execution (0 without wait_seconds)."
    )
    execution: ExecutionDetails | None = Field(
        default=None,
        description="The execution as it was when the wait ended (only with wait_seconds > 0).",
    )
    log_file: str | None = Field(
        default=None, description="The worker's log file on the server's machine."
    )
    next_step: str = Field(description="What to call next.")


def summary_view(execution: Execution) -> ExecutionSummary:
    result = bound_value(execution.result, SUMMARY_RESULT_CHARS)
    return ExecutionSummary(
        exec_id=execution.exec_id,
        flow=execution.flow,
        status=execution.status,
        status_reason=execution.status_reason,
        started_at=execution.started_at,
        ended_at=execution.ended_at,
        stack=execution.stack,
        result=result.value,
        result_truncated=result.truncated,
        original_exec_id=execution.original_exec_id,
    )


def _bounded_mapping(value: dict[str, Any], limit: int) -> tuple[dict[str, Any], bool]:
    bounded = bound_value(value, limit)
    if not bounded.truncated:
        return value, False
    shortened = bounded.value
    return (shortened if isinstance(shortened, dict) else {"…": shortened}), True


def execution_view(execution: Execution, *, budget: int = ITEMS_BUDGET) -> ExecutionDetails:
    """``execution`` shortened to fit ``budget`` characters of JSON."""
    expect_answer_if_waiting(execution.status)
    update: dict[str, Any] = {}
    cut: list[str] = []
    result = bound_value(execution.result, RESULT_CHARS)
    if result.truncated:
        update["result"] = result.value
        cut.append("result")
    failure = execution.failure
    if failure is not None and failure.traceback:
        traceback, shortened = tail_text(failure.traceback, TRACEBACK_CHARS)
        if shortened:
            update["failure"] = failure.model_copy(update={"traceback": traceback})
            cut.append("failure.traceback (its end is kept)")
    spec, shortened = _bounded_mapping(execution.frozen_spec, SPEC_CHARS)
    if shortened:
        update["frozen_spec"] = spec
        cut.append("frozen_spec")
    metadata, shortened = _bounded_mapping(execution.metadata, METADATA_CHARS)
    if shortened:
        update["metadata"] = metadata
        cut.append("metadata")
    calls, shortened = _bounded_call_metadata(execution.checkpoints)
    if shortened:
        update["checkpoints"] = calls
        cut.append("checkpoints[].metadata")
    wait = execution.pending_wait
    if wait is not None:
        metadata, shortened = _bounded_mapping(wait.metadata, WAIT_METADATA_CHARS)
        if shortened:
            update["pending_wait"] = wait.model_copy(update={"metadata": metadata})
            cut.append("pending_wait.metadata")
    view = ExecutionDetails.model_validate(
        {**execution.model_copy(update=update).model_dump(by_alias=True), "checkpoints": []}
    )
    all_calls: list[CheckpointCall] = update.get("checkpoints", execution.checkpoints)
    checkpoints = _latest_fitting(all_calls, budget - json_size(view) - 400)
    omitted = len(all_calls) - len(checkpoints)
    if omitted:
        cut.append(f"checkpoints (the first {omitted} calls)")
    hint = None
    if cut:
        hint = (
            f"Shortened to fit: {', '.join(cut)}. Read full values with kitaru_artifacts_list "
            "(this exec_id) and kitaru_artifacts_get (larger max_chars); output lines with "
            "kitaru_executions_logs."
        )
    return view.model_copy(
        update={
            "checkpoints": checkpoints,
            "checkpoints_omitted": omitted,
            "truncated": bool(cut),
            "hint": hint,
        }
    )


def _bounded_call_metadata(calls: list[CheckpointCall]) -> tuple[list[CheckpointCall], bool]:
    """Each call's logged metadata shortened to ``CALL_METADATA_CHARS``."""
    bounded: list[CheckpointCall] = []
    any_cut = False
    for call in calls:
        metadata, shortened = _bounded_mapping(call.metadata, CALL_METADATA_CHARS)
        any_cut = any_cut or shortened
        bounded.append(call.model_copy(update={"metadata": metadata}) if shortened else call)
    return bounded, any_cut


def _latest_fitting(calls: list[CheckpointCall], budget: int) -> list[CheckpointCall]:
    """The most recent calls whose JSON fits in ``budget`` (most recent matter most: that is
    where an execution fails or waits)."""
    kept: list[CheckpointCall] = []
    used = 0
    for call in reversed(calls):
        used += json_size(call) + 1
        if used > budget:
            break
        kept.append(call)
    return kept[::-1]


def next_step(status: ExecutionStatus, exec_id: str) -> str:
    """What an assistant should do next with an execution in ``status``."""
    return {
        ExecutionStatus.RUNNING: f"Still running: poll kitaru_executions_get(exec_id='{exec_id}') "
        "or read its output with kitaru_executions_logs.",
        ExecutionStatus.WAITING: "Waiting for input: read the question and JSON schema with "
        "kitaru_executions_waiting (or kitaru_executions_get), then answer with "
        "kitaru_executions_input.",
        ExecutionStatus.COMPLETED: "Completed: the result is in kitaru_executions_get; stored "
        "values are listed by kitaru_artifacts_list.",
        ExecutionStatus.FAILED: "Failed: read `failure` in kitaru_executions_get and the output "
        "with kitaru_executions_logs; once the cause is fixed, kitaru_executions_retry.",
        ExecutionStatus.CANCELLED: "Cancelled: kitaru_executions_replay runs it again from a "
        "checkpoint.",
    }[status]


def expect_answer_if_waiting(status: ExecutionStatus) -> None:
    """The assistant is about to see a waiting execution, and an answer will likely follow."""
    if status == ExecutionStatus.WAITING:
        from kitaru_core.services.system import expect_answer

        expect_answer()


def started_run(started: StartedExecution) -> StartedRun:
    """The immediate answer of a tool that started work."""
    expect_answer_if_waiting(started.status)
    return StartedRun(
        exec_id=started.exec_id,
        flow=started.flow,
        status=started.status,
        waited_seconds=0.0,
        log_file=started.log_file,
        next_step=next_step(started.status, started.exec_id),
    )


@dataclass
class Followed:
    """How far a follow got before it stopped to ask the human (carried across the rounds of a
    2026-07-28 tool call, so the next round goes on where this one stopped)."""

    seconds: float = 0.0
    finished: list[str] = field(default_factory=list)
    progress: float = 0.0
    asked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Followed:
        return cls(
            seconds=float(raw.get("seconds", 0.0)),
            finished=[str(item) for item in raw.get("finished", [])],
            progress=float(raw.get("progress", 0.0)),
            asked=[str(item) for item in raw.get("asked", [])],
        )


@dataclass
class WaitStep:
    """What following does after meeting a pending wait: poll on (the wait was answered),
    stop, or hand back an ``InputRequiredResult`` (the human is asked between rounds). ``note``
    goes into the result's ``next_step``."""

    go_on: bool = False
    note: str | None = None
    input_required: InputRequiredResult | None = None


WaitHandler = Callable[[Execution, Followed], Awaitable[WaitStep]]


async def follow(ctx: Context[Any, Any], started: StartedExecution, seconds: float) -> StartedRun:
    """Follow a started execution for up to ``seconds`` with progress notifications, stopping
    as soon as it is no longer running; return it as it is then.

    The execution exists whatever happens while following it, so a failure to read it is
    reported in ``next_step`` rather than as an error that would hide the ``exec_id``.
    """
    result = await follow_answering(ctx, started, seconds)
    assert isinstance(result, StartedRun)  # without a wait handler nothing is asked
    return result


async def follow_answering(
    ctx: Context[Any, Any],
    started: StartedExecution,
    seconds: float,
    *,
    on_wait: WaitHandler | None = None,
    resumed: Followed | None = None,
    notes: list[str] | None = None,
) -> StartedRun | InputRequiredResult:
    """:func:`follow`, handing each newly pending wait to ``on_wait`` (which may ask the human:
    the time they take does not count as following). ``resumed`` continues an earlier round."""
    import anyio

    from kitaru_core.errors import translate_exception
    from kitaru_core.services import executions

    if seconds <= 0:
        return started_run(started)
    followed = resumed or Followed()
    notes = list(notes or [])
    progress = _ProgressReporter(ctx, seconds, followed)
    mark = time.monotonic()
    while True:
        try:
            execution = await anyio.to_thread.run_sync(executions.get, started.exec_id)
        except Exception as exc:
            problem = translate_exception(exc)
            return started_run(started).model_copy(
                update={
                    "waited_seconds": round(followed.seconds, 2),
                    "next_step": f"Started, but reading it failed ({problem.code}: "
                    f"{problem.message}); poll kitaru_executions_get(exec_id="
                    f"'{started.exec_id}').",
                }
            )
        now = time.monotonic()
        followed.seconds += now - mark
        mark = now
        await progress.checkpoints(execution, followed.seconds)
        wait = execution.pending_wait
        if on_wait is not None and wait is not None and wait.name not in followed.asked:
            followed.asked.append(wait.name)
            step = await on_wait(execution, followed)
            mark = time.monotonic()  # the human's time is not following time
            if step.input_required is not None:
                return step.input_required
            if step.note:
                notes.append(step.note)
            if step.go_on:
                continue
        if execution.status != ExecutionStatus.RUNNING or followed.seconds >= seconds:
            await progress.end(execution, followed.seconds)
            break
        await anyio.sleep(min(POLL_SECONDS, max(seconds - followed.seconds, 0.01)))
    return StartedRun(
        exec_id=started.exec_id,
        flow=execution.flow,
        status=execution.status,
        waited_seconds=round(followed.seconds, 2),
        execution=execution_view(execution),
        log_file=started.log_file,
        next_step=" ".join([*notes, next_step(execution.status, started.exec_id)]),
    )


class _ProgressReporter:
    """Progress notifications while following an execution: one per checkpoint call that
    finished (its call id in the message) and one when the follow ends. The value is the time
    followed, out of ``wait_seconds``; it strictly increases, as the protocol requires, even
    when several calls are seen finished in the same poll. Without a progress token the SDK
    sends nothing."""

    def __init__(self, ctx: Context[Any, Any], seconds: float, followed: Followed) -> None:
        self._ctx = ctx
        self._seconds = seconds
        self._followed = followed  # what earlier rounds reported is not reported again
        self._finished: set[str] = set(followed.finished)
        self._last = followed.progress

    async def checkpoints(self, execution: Execution, elapsed: float) -> None:
        for call in execution.checkpoints:
            if call.call_id in self._finished or call.status not in _CALL_FINISHED:
                continue
            self._finished.add(call.call_id)
            self._followed.finished.append(call.call_id)
            await self._send(
                elapsed,
                f"checkpoint {call.call_id} {call.status.value} "
                f"({len(self._finished)} checkpoint call(s) finished)",
            )

    async def end(self, execution: Execution, elapsed: float) -> None:
        await self._send(
            elapsed,
            f"{execution.status.value}: {len(self._finished)} checkpoint call(s) finished",
        )
        if self._wanted():
            # The official TypeScript client runs a notification's handler a tick later but
            # handles a response at once, dropping the request's progress handler: notices
            # read in the same chunk as the result are lost. A short pause lets them arrive
            # on their own first (only for callers that asked for progress).
            import anyio

            await anyio.sleep(_NOTICE_GAP_SECONDS)

    def _wanted(self) -> bool:
        """Whether the caller sent a progress token (without one the SDK sends nothing)."""
        meta = getattr(self._ctx.request_context, "meta", None) or {}
        return bool(meta.get("progress_token"))

    async def _send(self, elapsed: float, message: str) -> None:
        value = round(min(elapsed, self._seconds), 3)
        value = value if value > self._last else round(self._last + 0.001, 3)
        self._last = self._followed.progress = value
        await self._ctx.report_progress(value, self._seconds, message)


_CALL_FINISHED = frozenset({ExecutionStatus.COMPLETED, ExecutionStatus.FAILED})
# Between the last progress notice and the result (see ``_ProgressReporter.end``).
_NOTICE_GAP_SECONDS = 0.05
