"""Execution tools: find and inspect executions, start flows, answer waits, and resume, retry,
replay or cancel executions.

Each tool is arguments → execution service → bounded result model. Starting work never blocks
the server: runs happen in detached workers and the tool returns with the ``exec_id`` at once
(``wait_seconds`` follows it for a bounded time with progress notifications).
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult
from pydantic import BaseModel, Field

from kitaru_core.models import (
    Execution,
    ExecutionStatus,
    LogEntry,
    ReplayPlan,
    StartedExecution,
    WaitInfo,
)
from kitaru_mcp import elicitation
from kitaru_mcp.options import options_of
from kitaru_mcp.results import (
    DEFAULT_LIMIT,
    ITEMS_BUDGET,
    Cursor,
    Limit,
    Page,
    json_size,
    paginate,
)
from kitaru_mcp.tools import execution_answers
from kitaru_mcp.tools.execution_views import (
    ExecId,
    ExecutionDetails,
    ExecutionSummary,
    StartedRun,
    WaitSeconds,
    execution_view,
    expect_answer_if_waiting,
    follow_answering,
    started_run,
    summary_view,
)

STATUSES = ["running", "waiting", "completed", "failed", "cancelled"]
DEFAULT_LOG_LINES = 100
MAX_LOG_LINES = 1000
LOG_MESSAGE_CHARS = 4_000


class ExecutionPage(Page[ExecutionSummary]):
    """A page of executions, newest first."""


class WaitPage(Page[WaitInfo]):
    """A page of pending waits, oldest first: execution, wait name, question, JSON schema,
    metadata."""


class LogsResult(BaseModel):
    """Log lines of one execution, oldest first within the returned window."""

    exec_id: str
    checkpoint: str | None = Field(description="The checkpoint call filtered on, if any.")
    from_start: bool = Field(description="True: the first lines (head); false: the last (tail).")
    entries: list[LogEntry]
    count: int = Field(description="Number of lines returned.")
    truncated: bool = Field(
        description="True when more lines exist than were returned, or long lines were cut."
    )
    hint: str | None = Field(default=None, description="How to read what was left out.")


class ReplayResult(BaseModel):
    """A replay's plan, and the new execution unless it was a dry run."""

    dry_run: bool
    plan: ReplayPlan = Field(
        description="Which checkpoint calls are reused (served from the original execution), "
        "overridden (replaced by the given values) and rerun live."
    )
    started: StartedRun | None = Field(
        default=None, description="The replay execution (null for a dry run)."
    )


Flow = Annotated[
    str | None,
    Field(description="Only executions of this flow (its name).", examples=["research_agent"]),
]
Status = Annotated[
    str | None,
    Field(
        description="Only executions with this status.",
        json_schema_extra={"enum": STATUSES},
        examples=["failed"],
    ),
]
Stack = Annotated[
    str | None,
    Field(description="Only executions that ran on this stack.", examples=["default"]),
]
ConfirmWithUser = Annotated[
    bool | None,
    Field(
        description="Ask the human for a pending wait's answer through the client's own form "
        "(MCP elicitation; only when the client supports it). null (default): ask for waits "
        "whose schema needs a value; true: also ask the user to confirm a continue gate (a "
        "wait without a schema); false: never ask — the pending wait comes back for you.",
        examples=[None, False],
    ),
]
WaitName = Annotated[
    str | None,
    Field(
        description="Name of the wait to act on; omit it when the execution has one pending wait.",
        examples=["approval"],
    ),
]


def kitaru_executions_list(
    flow: Flow = None,
    status: Status = None,
    stack: Stack = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ExecutionPage:
    """List executions newest first, optionally filtered by flow, status and stack. Items are
    summaries (status, times, a short result); no checkpoints.

    Use it to find an exec_id, e.g. status='failed' for what needs attention. Next:
    kitaru_executions_get for one execution in full, kitaru_executions_logs for its output.
    Paged: pass `next_cursor` back as `cursor` while it is not null."""
    from kitaru_core.requests.executions import decode_cursor, encode_cursor
    from kitaru_core.services import executions
    from kitaru_mcp.results import fit_page

    offset = decode_cursor(cursor)
    items, next_cursor = executions.list_executions(
        flow=flow, status=status, stack=stack, limit=limit, cursor=cursor
    )
    if any(item.status == ExecutionStatus.WAITING for item in items):
        expect_answer_if_waiting(ExecutionStatus.WAITING)  # as get, waiting and run do
    return fit_page(
        ExecutionPage,
        [summary_view(item) for item in items],
        next_cursor=next_cursor,
        cursor_after=lambda kept: encode_cursor(offset + kept),
    )


def kitaru_executions_get(exec_id: ExecId) -> ExecutionDetails:
    """One execution in full: status (and why), each checkpoint call (call_id, attempts,
    cached, output artifact ids), the pending wait with its question and JSON schema, the
    failure (checkpoint, exception, message, traceback), the frozen spec and the result.

    Use it to check on a run you started or to diagnose a failure. Next: kitaru_executions_logs
    for output; {tool:kitaru_executions_input|answer a wait}; if failed,
    {tool:kitaru_executions_retry|retry it}; kitaru_artifacts_list for stored values."""
    from kitaru_core.services import executions

    return execution_view(executions.get(exec_id))


def kitaru_executions_latest(
    flow: Flow = None, status: Status = None, stack: Stack = None
) -> ExecutionDetails:
    """The newest execution (optionally of one flow, with one status, on one stack), in full
    as kitaru_executions_get returns it. not_found when nothing matches.

    Use it for "how did my last run go?". Next: kitaru_executions_logs, or
    {tool:kitaru_executions_retry|retry it}."""
    from kitaru_core.services import executions

    return execution_view(executions.latest(flow=flow, status=status, stack=stack))


def kitaru_executions_logs(
    exec_id: ExecId,
    checkpoint: Annotated[
        str | None,
        Field(
            description="Only the lines of this checkpoint call (a call_id from "
            "kitaru_executions_get, e.g. fetch_data or fetch_data_2).",
            examples=["fetch_data"],
        ),
    ] = None,
    limit: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_LOG_LINES,
            description=f"How many lines (1 to {MAX_LOG_LINES}, default {DEFAULT_LOG_LINES}).",
            examples=[DEFAULT_LOG_LINES],
        ),
    ] = DEFAULT_LOG_LINES,
    head: Annotated[
        bool,
        Field(description="Read from the start instead of the end (default: the last lines)."),
    ] = False,
) -> LogsResult:
    """The output of an execution — what its flow body and checkpoints printed or logged —
    with timestamp, level and checkpoint call per line. Returns the last lines by default.

    Use it to see what a running execution is doing or why one failed. Narrow with
    `checkpoint`; `truncated` tells you more lines exist. Next: kitaru_executions_get for
    status and failure; once the cause is fixed, {tool:kitaru_executions_retry|retry it}."""
    from kitaru_core.services import executions

    entries, more = executions.logs(exec_id, checkpoint=checkpoint, limit=limit, head=head)
    cut_lines = False
    bounded: list[LogEntry] = []
    for entry in entries:
        if len(entry.message) > LOG_MESSAGE_CHARS:
            extra = len(entry.message) - LOG_MESSAGE_CHARS
            message = entry.message[:LOG_MESSAGE_CHARS] + f"… [+{extra} characters]"
            entry = entry.model_copy(update={"message": message})
            cut_lines = True
        bounded.append(entry)
    # Keep the lines nearest the reading end (the newest for a tail) that fit the budget.
    ordered = bounded if head else bounded[::-1]
    kept: list[LogEntry] = []
    used = 0
    for entry in ordered:
        used += json_size(entry) + 1
        if used > ITEMS_BUDGET - 1_000:
            break
        kept.append(entry)
    kept = kept if head else kept[::-1]
    dropped = len(bounded) - len(kept)
    notes = []
    if more or dropped:
        side = "later" if head else "earlier"
        notes.append(
            f"There are {side} lines than these; filter by `checkpoint`, change `limit`, or "
            f"use head={'false' if head else 'true'} to read from the other end."
        )
    if cut_lines:
        notes.append(f"Lines longer than {LOG_MESSAGE_CHARS} characters were cut.")
    return LogsResult(
        exec_id=exec_id,
        checkpoint=checkpoint,
        from_start=head,
        entries=kept,
        count=len(kept),
        truncated=bool(more or dropped or cut_lines),
        hint=" ".join(notes) or None,
    )


async def kitaru_executions_run(
    ctx: Context[Any, Any],
    target: Annotated[
        str,
        Field(
            description="The flow to run: '<file.py>:<flow>' (relative to the server's working "
            "directory, or absolute) or '<module>:<flow>'. Must lie inside the directories "
            "this server may load code from (see kitaru_info → mcp_server.allowed_roots).",
            examples=["flows/research.py:research_agent"],
        ),
    ],
    args: Annotated[
        dict[str, Any] | None,
        Field(
            description="The flow's parameters as a JSON object (name → value).",
            examples=[{"topic": "durable execution"}],
        ),
    ] = None,
    stack: Annotated[
        str | None,
        Field(
            description="Stack to run on for this execution only (default: the active stack).",
            examples=["default"],
        ),
    ] = None,
    wait_seconds: WaitSeconds = 0,
    confirm_with_user: ConfirmWithUser = None,
) -> StartedRun | InputRequiredResult:
    """Start a flow in a background worker and return at once with its exec_id and status.
    The target's code is loaded only from inside the server's allowed directories.

    Long agent flows never block this call. Pass wait_seconds (up to 60) to follow the run
    for a while with progress notifications: the result then includes the execution as it
    is when the wait ends. If the flow asks a question meanwhile and the client supports
    elicitation, the user answers it in the client's form (see confirm_with_user); an
    accepted answer is recorded and following goes on; a declined one leaves the wait
    pending and next_step says so. Next: kitaru_executions_get (poll),
    kitaru_executions_logs, and kitaru_executions_waiting if the flow asks a question."""
    import anyio

    from kitaru_core.services import executions

    state = elicitation.round_state(ctx)
    if state is not None:  # 2026-07-28: the client brings the user's answer back
        return await execution_answers.next_run_round(ctx, state, wait_seconds, confirm_with_user)
    options = options_of(ctx)

    def start() -> StartedExecution:
        checked = executions.confined_target(
            target, lambda path: options.check_path(path, field="target")
        )
        return executions.start(checked, inputs=args, stack=stack)

    started = await anyio.to_thread.run_sync(start)
    on_wait = execution_answers.asking_the_user(ctx, started, confirm_with_user)
    return await follow_answering(ctx, started, wait_seconds, on_wait=on_wait)


def kitaru_executions_waiting(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> WaitPage:
    """Every wait that is pending across executions (oldest first): exec_id, flow, wait name,
    the question, the JSON schema the answer must satisfy, and metadata.

    Use it to find executions blocked on a human or agent decision. Next:
    {tool:kitaru_executions_input|answer it}, with a value that fits the schema, or
    {tool:kitaru_executions_abort_wait|abort the wait}; kitaru_executions_get shows the
    execution in full. Paged: pass `next_cursor` back as `cursor`."""
    from kitaru_core.services import executions

    waits = executions.waiting()
    if waits:
        expect_answer_if_waiting(ExecutionStatus.WAITING)
    return paginate(WaitPage, waits, kind="waits", limit=limit, cursor=cursor)


async def kitaru_executions_input(
    ctx: Context[Any, Any],
    exec_id: ExecId,
    value: Annotated[
        Any,
        Field(
            description="The answer; it must fit the wait's JSON schema (see "
            "kitaru_executions_waiting). Omit it (null) for a continue/abort gate without a "
            "schema — or, with a client that supports elicitation, to let the user answer "
            "in the client's form.",
            examples=[{"decision": "approve"}, True],
        ),
    ] = None,
    wait: WaitName = None,
    resume: Annotated[
        bool,
        Field(
            description="Continue the execution right away (default true). false only records "
            "the answer and kitaru_executions_resume continues later; it applies only once "
            "the wait has timed out (its worker released the execution) and is refused "
            "(invalid_state, nothing changed) while a worker still polls the wait."
        ),
    ] = True,
    confirm_with_user: ConfirmWithUser = None,
) -> ExecutionDetails | InputRequiredResult:
    """Answer a pending wait: the value is validated against the wait's full JSON schema, then
    recorded, and the execution continues (at once if its worker is still waiting, otherwise in
    a new background worker). A value that does not fit is rejected (wait_validation_error with
    the failing fields, e.g. value.decision) and nothing changes. Sending the same answer again
    is harmless; a wait that was answered differently is invalid_state.

    The human decides, not you: called without a value for a wait that needs one, and if the
    client supports elicitation, the user is shown the question as a form; their answer is
    validated and recorded the same way. If they decline or cancel, the wait stays pending and
    the hint says so (nothing is aborted). Next: kitaru_executions_get to follow the
    execution to completion."""
    import anyio

    from kitaru_core.errors import KitaruError
    from kitaru_core.services import executions

    note: str | None = None
    if value is None:
        answer = await execution_answers.answer_from_user(ctx, exec_id, wait, confirm_with_user)
        if not isinstance(answer, execution_answers.UserAnswer):
            return answer  # the question for the client, or the wait the user left pending
        value, wait, note = answer.value, answer.wait, answer.note

    def record() -> Execution:
        return executions.input(exec_id, value=value, wait=wait, resume=resume)

    try:
        execution = await anyio.to_thread.run_sync(record)
    except KitaruError as exc:
        if note is not None and value is None:
            exc.hint = note
        raise
    return execution_answers.noted(execution_view(execution), note)


def kitaru_executions_abort_wait(exec_id: ExecId, wait: WaitName = None) -> ExecutionDetails:
    """Abort a pending wait: the execution ends `cancelled` (its completed checkpoints stay).

    Use it when the user declines the question rather than answering it; confirm first.
    A wait that is no longer pending is invalid_state. Next: kitaru_executions_get, or
    kitaru_executions_replay to run it again later."""
    from kitaru_core.services import executions

    return execution_view(executions.abort_wait(exec_id, wait=wait))


def kitaru_executions_resume(exec_id: ExecId) -> StartedRun:
    """Continue a `waiting` execution whose answer is already recorded (e.g. after
    kitaru_executions_input with resume=false) in a background worker; completed checkpoints
    are not run again.

    invalid_state when the execution is not waiting or its wait still has no answer (answer it
    with kitaru_executions_input, which resumes by itself). Next: kitaru_executions_get."""
    from kitaru_core.services import executions

    return started_run(executions.resume(exec_id))


def kitaru_executions_retry(exec_id: ExecId) -> StartedRun:
    """Run a `failed` execution again as a new execution (linked by original_exec_id) that
    reuses every checkpoint call that completed and runs the rest.

    Use it after fixing the cause of a failure (see kitaru_executions_get → failure).
    Only failed executions can be retried (invalid_state otherwise; use
    kitaru_executions_replay to re-run a finished one). Next: kitaru_executions_get on the new
    exec_id."""
    from kitaru_core.services import execution_control

    return started_run(execution_control.retry(exec_id))


def kitaru_executions_replay(
    exec_id: ExecId,
    from_checkpoint: Annotated[
        str | None,
        Field(
            description="Checkpoint call (call_id or checkpoint name) to replay from — the SDK's "
            "`from_`. Calls before it are reused; it and everything after run live. May be "
            "omitted when overrides are given (then the earliest overridden call is the "
            "replay point).",
            examples=["analyze"],
        ),
    ] = None,
    overrides: Annotated[
        dict[str, Any] | None,
        Field(
            description="Replacement outputs: {'checkpoint.<call_id>': value}. An overridden "
            "call is not run; its value is used instead and everything after it runs live.",
            examples=[{"checkpoint.fetch": "edited facts"}],
        ),
    ] = None,
    flow_inputs: Annotated[
        dict[str, Any] | None,
        Field(
            description="New values for the flow's parameters (name → value).",
            examples=[{"topic": "another topic"}],
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        Field(description="Only return the plan (reused / overridden / rerun); run nothing."),
    ] = False,
) -> ReplayResult:
    """Run a finished execution again as a new execution (linked by original_exec_id) from a
    checkpoint: calls before `from_checkpoint` are reused from the original, overridden calls
    take the given values, and the rest runs live (never from the cache).

    Use dry_run=true first to show the plan. Find call ids with kitaru_executions_get. Next:
    kitaru_executions_get on `started.exec_id`."""
    from kitaru_core.services import execution_control
    from kitaru_mcp.errors import field_labels

    with field_labels({"from_": "from_checkpoint"}):
        if dry_run:
            plan = execution_control.replay(
                exec_id, from_=from_checkpoint, overrides=overrides, dry_run=True
            )
            assert isinstance(plan, ReplayPlan)
            return ReplayResult(dry_run=True, plan=plan)
        plan = execution_control.plan_replay(exec_id, from_=from_checkpoint, overrides=overrides)
        started = execution_control.replay(
            exec_id, from_=from_checkpoint, overrides=overrides, flow_inputs=flow_inputs
        )
    assert isinstance(started, StartedExecution)
    return ReplayResult(dry_run=False, plan=plan, started=started_run(started))


def kitaru_executions_cancel(exec_id: ExecId) -> ExecutionDetails:
    """Stop a running or waiting execution for real: the worker stops at the next safe point
    (or is killed after a 10 s grace period); completed checkpoints stay; the status becomes
    `cancelled`. A finished execution is invalid_state.

    Confirm with the user first. Next: kitaru_executions_get, or kitaru_executions_replay to
    run it again later."""
    from kitaru_core.services import execution_control

    return execution_view(execution_control.cancel(exec_id))


TOOLS = (
    kitaru_executions_list,
    kitaru_executions_get,
    kitaru_executions_latest,
    kitaru_executions_logs,
    kitaru_executions_run,
    kitaru_executions_waiting,
    kitaru_executions_input,
    kitaru_executions_abort_wait,
    kitaru_executions_resume,
    kitaru_executions_retry,
    kitaru_executions_replay,
    kitaru_executions_cancel,
)
