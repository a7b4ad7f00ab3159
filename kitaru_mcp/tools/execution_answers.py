"""The human's answers inside the execution tools: the elicitation branches of
``kitaru_executions_run`` and ``kitaru_executions_input``.

A run that meets a pending wait while it is followed puts the question to the user; an input
call without a value asks the user for it. :mod:`kitaru_mcp.elicitation` builds the question and
speaks both wires (``elicitation/create`` in the middle of the call, ``InputRequiredResult``
between rounds); this module decides what is recorded and what the tool's result then says.

Not a tool module (it exposes no ``TOOLS``). Cheap to import: services are imported inside the
functions, so listing tools stays free of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult

from kitaru_core.models import Execution, ExecutionStatus, StartedExecution
from kitaru_mcp import elicitation
from kitaru_mcp.tools.execution_views import (
    ExecutionDetails,
    Followed,
    StartedRun,
    WaitHandler,
    WaitStep,
    execution_view,
    follow_answering,
)

# ------------------------------------------------------------------ kitaru_executions_run


def asking_the_user(
    ctx: Context[Any, Any], started: StartedExecution, confirm: bool | None
) -> WaitHandler:
    """While a run is followed: put each wait it meets to the user (when they can be asked)."""

    async def on_wait(execution: Execution, followed: Followed) -> WaitStep:
        prepared = elicitation.prepare(ctx, execution, confirm)
        if prepared is None:
            return WaitStep()
        if isinstance(prepared, str):
            return WaitStep(note=prepared)
        extra = {"followed": followed.to_dict(), "flow": started.flow, "log_file": started.log_file}
        asked = await elicitation.ask(ctx, prepared, extra)
        if isinstance(asked, InputRequiredResult):
            return WaitStep(input_required=asked)
        return await _settle(started.exec_id, asked)

    return on_wait


async def next_run_round(
    ctx: Context[Any, Any],
    state: elicitation.RoundState,
    wait_seconds: float,
    confirm: bool | None,
) -> StartedRun | InputRequiredResult:
    """A later round of a run (2026-07-28 wire): the execution was started in the first one;
    record the user's answer and go on following where the last round stopped."""
    extra = state.extra
    started = StartedExecution(
        exec_id=state.exec_id,
        status=ExecutionStatus.WAITING,
        flow=extra.get("flow"),
        log_file=extra.get("log_file"),
    )
    followed = Followed.from_dict(extra.get("followed") or {})
    notes: list[str] = []
    asked = elicitation.answer_in_round(ctx, state)
    if asked is None:  # retried without an answer: the wait may be asked again
        followed.asked = [name for name in followed.asked if name != state.wait]
    else:
        step = await _settle(state.exec_id, asked)
        notes = [step.note] if step.note else []
    on_wait = asking_the_user(ctx, started, confirm)
    return await follow_answering(
        ctx, started, wait_seconds, on_wait=on_wait, resumed=followed, notes=notes
    )


async def _settle(exec_id: str, asked: elicitation.Asked) -> WaitStep:
    """Record an accepted answer while following; say what happened either way. A refused
    answer is told in next_step, not raised, so that the result keeps the exec_id."""
    from kitaru_core.errors import KitaruError

    if asked.action != "accept":
        return WaitStep(note=elicitation.declined_note(asked))
    try:
        await _record(exec_id, asked, resume=True)
    except KitaruError as exc:
        return WaitStep(note=elicitation.refused_note(asked, exc.code, exc.message))
    return WaitStep(go_on=True, note=elicitation.answered_note(asked.wait))


async def _record(exec_id: str, asked: elicitation.Asked, *, resume: bool) -> Execution:
    """The user's answer, recorded exactly as kitaru_executions_input records a value."""
    import anyio

    from kitaru_core.services import executions

    def record() -> Execution:
        return executions.input(exec_id, value=asked.value, wait=asked.wait, resume=resume)

    return await anyio.to_thread.run_sync(record)


# ---------------------------------------------------------------- kitaru_executions_input


@dataclass(frozen=True)
class UserAnswer:
    """What kitaru_executions_input records after (perhaps) asking the user: the value and wait
    (the caller's own when nobody was asked), and a note for the result's hint."""

    value: Any
    wait: str | None
    note: str | None = None


async def answer_from_user(
    ctx: Context[Any, Any], exec_id: str, wait: str | None, confirm: bool | None
) -> UserAnswer | ExecutionDetails | InputRequiredResult:
    """For an input call without a value: the answer to record, or what the tool returns as is
    (the question for the client to ask between rounds, or the execution whose wait the user
    left pending)."""
    import anyio

    from kitaru_core.services import executions

    asked = await _ask_for_value(ctx, exec_id, wait, confirm)
    if isinstance(asked, InputRequiredResult):
        return asked
    if asked is None:
        return UserAnswer(None, wait)
    if isinstance(asked, str):  # the schema cannot be a form: today's answer, with the reason
        return UserAnswer(None, wait, note=asked)
    if asked.action != "accept":
        execution = await anyio.to_thread.run_sync(executions.get, exec_id)
        return noted(execution_view(execution), elicitation.declined_note(asked))
    return UserAnswer(asked.value, asked.wait, note=elicitation.answered_note(asked.wait))


async def _ask_for_value(
    ctx: Context[Any, Any], exec_id: str, wait: str | None, confirm: bool | None
) -> elicitation.Asked | InputRequiredResult | str | None:
    """The user's answer for the pending wait (or the question to return, a note why they
    cannot be asked, ``None`` when they are not). Without elicitation nothing is even read."""
    import anyio

    from kitaru_core.services import executions

    if confirm is False or elicitation.wire(ctx) is None:
        return None
    state = elicitation.round_state(ctx)
    if state is not None:
        answered = elicitation.answer_in_round(ctx, state)
        if answered is not None:
            return answered
    execution = await anyio.to_thread.run_sync(executions.get, exec_id)
    pending = execution.pending_wait
    if pending is None or (wait is not None and wait != pending.name):
        return None  # the service explains what is wrong, as today
    prepared = elicitation.prepare(ctx, execution, confirm)
    if prepared is None or isinstance(prepared, str):
        return prepared
    return await elicitation.ask(ctx, prepared)


def noted(view: ExecutionDetails, note: str | None) -> ExecutionDetails:
    """``view`` with ``note`` put in front of its hint."""
    if note is None:
        return view
    return view.model_copy(update={"hint": " ".join(filter(None, [note, view.hint]))})
