"""Execution operations shared by the SDK client, the CLI and the MCP server: inspect
executions and answer their waits."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitaru_core.config.image import coerce_image
from kitaru_core.errors import (
    KitaruNotFoundError,
    KitaruStateError,
    KitaruUsageError,
    KitaruValidationError,
)
from kitaru_core.hints import PENDING_WAITS, Hint
from kitaru_core.jobs import ResumeJob, RunJob
from kitaru_core.models import (
    Execution,
    ExecutionStatus,
    LogEntry,
    StartedExecution,
    WaitInfo,
)
from kitaru_core.requests.executions import (
    check_limit,
    decode_cursor,
    encode_cursor,
    parse_status,
    validate_wait_value,
)

if TYPE_CHECKING:
    from kitaru_core.backend.local_waits import LocalWaits

DEFAULT_LOG_LIMIT = 200
MAX_LOG_LIMIT = 5000


def target_source(target: str) -> Path:
    """The file a flow target's code comes from, found without importing anything.

    Surfaces that confine where code may be loaded from (the MCP server's allowed roots) check
    this file before anything runs. A file target gives its absolute path, existing or not
    (starting it reports a missing file); a module target gives its module's file, looked up in
    the current directory first (a module target's source root) and then on ``sys.path``.
    """
    from kitaru_core.runtime.loader import is_file_target, split_target

    module_part, _ = split_target(target)
    if is_file_target(module_part):
        return Path(module_part).expanduser().absolute()
    parts = module_part.split(".")
    for entry in [Path.cwd(), *(Path(item) for item in sys.path if item)]:
        base = entry.joinpath(*parts)
        for candidate in (base.parent / f"{base.name}.py", base / "__init__.py"):
            if candidate.is_file():
                return candidate.absolute()
    raise KitaruNotFoundError(
        f"Module '{module_part}' was found neither in {Path.cwd()} nor on the Python path.",
        hint="Give a file target such as flows/agent.py:my_flow, or check the module name.",
        details={"target": target},
    )


def confined_target(target: str, confine: Callable[[Path], Path]) -> str:
    """The target to load once a surface's path policy has approved its source file.

    ``confine`` gets the file :func:`target_source` finds and returns the file that may be
    loaded (or raises). The result names exactly that file (``<file>:<flow>``, module targets
    included), so the code that runs is the code that was checked, whatever the worker's own
    import path would have found.
    """
    from kitaru_core.runtime.loader import split_target

    _, attribute = split_target(target)
    return f"{confine(target_source(target))}:{attribute}"


def start(
    target: str,
    *,
    inputs: dict[str, Any] | None = None,
    stack: str | None = None,
    image: Any = None,
) -> StartedExecution:
    """Start a flow target (``<file.py or module>:<flow>``) in a detached worker.

    Returns as soon as the execution exists; the flow runs on in the background. A target that
    cannot be loaded, inputs that do not fit the flow's signature, or an unknown stack are
    reported as errors and start nothing.
    """
    from kitaru_core.runtime.detach import launch_job
    from kitaru_core.runtime.loader import is_file_target, split_target

    if inputs is not None and not isinstance(inputs, dict):
        raise KitaruUsageError("Flow inputs must be a JSON object of parameter names to values.")
    module_part, _ = split_target(target)
    if is_file_target(module_part) and not Path(module_part).expanduser().is_file():
        # Checked here too, so that a typo costs no worker process.
        raise KitaruNotFoundError(
            f"Flow file '{module_part}' does not exist (looked in {Path.cwd()}).",
            hint="Give a path relative to the current directory, or an absolute path.",
            details={"target": target},
        )
    settings = coerce_image(image, source="image")  # validated before a worker starts
    job = RunJob(
        target=target,
        inputs=dict(inputs or {}),
        stack=stack,
        image=settings.model_dump(mode="json") if settings else None,
    )
    started = launch_job(job)
    flow: str | None
    if started.status is None:  # a worker that does not report its status: read it back
        execution = get(started.exec_id)
        status, flow = execution.status, execution.flow
    else:
        # The worker reports as its flow body starts, with the status it just set: reading
        # the run back from the store would cost a round trip and tell nothing new.
        status, flow = ExecutionStatus(started.status), started.flow
    return StartedExecution(
        exec_id=started.exec_id, status=status, flow=flow, log_file=str(started.log_file)
    )


# A finished execution never changes again, so its full view is kept once read (bounded).
_FINISHED_CACHE_SIZE = 512
_finished: OrderedDict[str, Execution] = OrderedDict()
_finished_lock = threading.Lock()


def get(exec_id: str) -> Execution:
    """One execution in full: checkpoints, pending wait, failure, frozen spec, result."""
    from kitaru_core.backend.store import execution_store

    with _finished_lock:
        cached = _finished.get(str(exec_id))
    if cached is not None:
        return cached.model_copy(deep=True)
    execution = execution_store().get_execution(exec_id)
    if execution.status.is_finished:
        with _finished_lock:
            _finished[execution.exec_id] = execution.model_copy(deep=True)
            while len(_finished) > _FINISHED_CACHE_SIZE:
                _finished.popitem(last=False)
    return execution


def list_executions(
    *,
    flow: str | None = None,
    status: str | ExecutionStatus | None = None,
    stack: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[Execution], str | None]:
    """Executions newest first, filtered in the store query; returns ``(items, next_cursor)``."""
    from kitaru_core.backend.store import execution_store

    size = check_limit(limit)
    offset = decode_cursor(cursor)
    items, has_more = execution_store().list_executions(
        flow=flow, status=parse_status(status), stack=stack, offset=offset, size=size
    )
    return items, encode_cursor(offset + size) if has_more else None


def latest(
    *,
    flow: str | None = None,
    status: str | ExecutionStatus | None = None,
    stack: str | None = None,
) -> Execution:
    from kitaru_core.backend.store import execution_store

    found = execution_store().latest(flow=flow, status=parse_status(status), stack=stack)
    if found is None:
        wanted = ", ".join(
            f"{name}={value}"
            for name, value in (("flow", flow), ("status", status), ("stack", stack))
            if value
        )
        raise KitaruNotFoundError(
            f"No execution found{' for ' + wanted if wanted else ''}.",
            hint=Hint(
                sdk="Start one with `my_flow.run(...)`, or widen the filters.",
                cli="Start one with `kitaru run TARGET`, or widen the filters.",
                mcp="Widen the filters, or {tool:kitaru_executions_run|start one}.",
            ),
        )
    return found


def logs(
    exec_id: str, *, checkpoint: str | None = None, limit: int | None = None, head: bool = False
) -> tuple[list[LogEntry], bool]:
    """The execution's log lines (the last ``limit`` by default); returns ``(lines, truncated)``."""
    from kitaru_core.backend.store import execution_store

    size = check_limit(DEFAULT_LOG_LIMIT if limit is None else limit, maximum=MAX_LOG_LIMIT)
    known_calls = _call_ids(exec_id)  # also checks that the execution exists
    entries = execution_store().log_entries(str(exec_id))
    if checkpoint is not None:
        calls = known_calls | {e.checkpoint for e in entries if e.checkpoint}
        if checkpoint not in calls:
            valid = ", ".join(sorted(c for c in calls if c)) or "none"
            raise KitaruValidationError(
                f"Execution {exec_id} has no checkpoint call '{checkpoint}'. Valid: {valid}.",
                fields={"checkpoint": f"must be one of: {valid}"},
            )
        entries = [entry for entry in entries if entry.checkpoint == checkpoint]
    truncated = len(entries) > size
    return (entries[:size] if head else entries[-size:]), truncated


def _call_ids(exec_id: str) -> set[str]:
    from kitaru_core.backend.store import execution_store

    return execution_store().call_ids(exec_id)


def waiting() -> list[WaitInfo]:
    """Every pending wait across executions, oldest first, with question and JSON schema."""
    from kitaru_core.backend.store import execution_store

    return execution_store().pending_waits()


_RETRY_OR_REPLAY = Hint(
    sdk="Retry a failed execution (`KitaruClient().executions.retry(exec_id)`), or replay a "
    "finished one (`KitaruClient().executions.replay(exec_id, from_=...)`).",
    cli="Retry a failed execution (`kitaru executions retry EXEC_ID`), or replay a finished "
    "one (`kitaru executions replay EXEC_ID --from CALL_ID`).",
    mcp="{tool:kitaru_executions_retry|retry a failed execution}, or "
    "{tool:kitaru_executions_replay|replay a finished one}.",
)


def _require_waiting(execution: Execution, condition: Any) -> None:
    """A pending wait takes an answer only while its execution still waits for it."""
    if execution.status != ExecutionStatus.WAITING:
        raise KitaruStateError(
            f"Execution {execution.exec_id} is {execution.status.value}; its wait "
            f"'{condition.name}' can no longer be answered.",
            hint=_RETRY_OR_REPLAY,
            details={
                "exec_id": execution.exec_id,
                "wait": condition.name,
                "status": execution.status.value,
            },
        )


class AnswerOutcome(StrEnum):
    """What an answer set in motion (the CLI says it in words; :func:`answer` returns it)."""

    CONTINUES = "continues"  # the worker polling the wait goes on by itself
    RESUMING = "resuming"  # a background worker resumes the paused execution
    RECORDED = "recorded"  # recorded only (resume=False); ``resume`` continues it later
    ALREADY_ANSWERED = "already_answered"  # the same answer again: nothing new happened


@dataclass(frozen=True)
class Answered:
    """An answered wait: the execution as it is now, and what happens next."""

    execution: Execution
    outcome: AnswerOutcome


def input(
    exec_id: str, *, value: Any = None, wait: str | None = None, resume: bool = True
) -> Execution:
    """Answer a wait: validate against its JSON schema, record it, and continue the execution.

    A worker still polling the wait continues at once; otherwise the execution is resumed in a
    background worker. ``resume=False`` records the answer without continuing: it applies to an
    execution whose worker has released it (the wait timed out), and is refused while a worker
    still polls the wait (that worker would go on as soon as the answer is in). Re-sending the
    same answer is harmless.
    """
    return answer(exec_id, value=value, wait=wait, resume=resume).execution


def answer(
    exec_id: str, *, value: Any = None, wait: str | None = None, resume: bool = True
) -> Answered:
    """:func:`input`, also saying what the answer set in motion (see :class:`AnswerOutcome`)."""
    from kitaru_core.backend.store import execution_store

    execution = get(exec_id)  # an unknown id is not_found before anything else is asked
    # On the local store the answer is read and recorded without the slow client (a CLI
    # answer or an MCP server's first answer is seconds faster); both take the same calls.
    store = execution_store()
    local = store.waits_for_answers(exec_id)
    waits: Any = local if local is not None else store.wait_operations()
    try:
        condition = waits.find_condition(exec_id, wait)
    except KitaruStateError:
        # No pending wait: a repeated call without a wait name (a client retrying after a lost
        # reply) that sends the answer the last wait already got is still harmless.
        answered = waits.list_conditions(exec_id, pending=False) if wait is None else []
        if answered and waits.answered_with(answered[-1]) == ("continue", value):
            return Answered(get(exec_id), AnswerOutcome.ALREADY_ANSWERED)
        raise
    if not waits.is_pending(condition):
        return _answered_before(exec_id, condition, value, waits)
    _require_waiting(execution, condition)
    validate_wait_value(condition.data_schema, value, wait=condition.name)
    polling = waits.has_active_poller(condition)
    if polling and not resume:
        # The polling worker sees the resolved wait within a poll interval and goes on, so
        # "record but do not continue" cannot be kept: refuse, and change nothing.
        raise KitaruStateError(
            f"Execution {exec_id} is still held by its worker, which polls wait "
            f"'{condition.name}' and would continue as soon as the answer is in; resume=False "
            "only applies once the wait has timed out and the worker released the execution.",
            hint=Hint(
                sdk="Answer with resume=True to continue now, or answer later, after the "
                "wait's timeout.",
                cli="Answer without --no-resume to continue now, or answer later, after the "
                "wait's timeout.",
                mcp="Answer with resume=true to continue now, or answer later, after the "
                "wait's timeout.",
            ),
            details={"exec_id": exec_id, "wait": condition.name, "worker_polling": True},
        )
    if resume and local is None:  # the local path only takes flows from files: none to check
        from kitaru_core.runtime.interactive import require_answerable

        # A flow defined outside a file: refuse before recording an answer nobody can act on.
        require_answerable(exec_id, condition)
    resolved_first = waits.resolve(condition, value=value)
    if resolved_first is not None:  # another caller answered it a moment before this one
        return _answered_before(exec_id, resolved_first, value, waits)
    if polling:
        outcome = AnswerOutcome.CONTINUES
    elif resume and _resume_when_paused(exec_id, local) is not None:
        outcome = AnswerOutcome.RESUMING
    elif resume:
        outcome = AnswerOutcome.CONTINUES  # another wait of the run is still pending
    else:
        outcome = AnswerOutcome.RECORDED
    return Answered(get(exec_id), outcome)


def _answered_before(exec_id: str, condition: Any, value: Any, waits: Any) -> Answered:
    """A wait resolved already: the same answer again is harmless, anything else a state error."""
    resolution, result = waits.answered_with(condition)
    if resolution == "continue" and result == value:  # the same answer again: idempotent
        return Answered(get(exec_id), AnswerOutcome.ALREADY_ANSWERED)
    raise KitaruStateError(
        f"Wait '{condition.name}' of execution {exec_id} was already answered ({resolution}).",
        hint=PENDING_WAITS,
        details={"exec_id": exec_id, "wait": condition.name, "resolution": resolution},
    )


def abort_wait(exec_id: str, *, wait: str | None = None) -> Execution:
    """Resolve a pending wait as aborted: the execution ends ``cancelled``."""
    from kitaru_core.backend.store import execution_store

    waits = execution_store().wait_operations()
    execution = get(exec_id)  # an unknown id is not_found before anything else is asked
    condition = waits.find_condition(exec_id, wait)
    if not waits.is_pending(condition):
        raise KitaruStateError(
            f"Wait '{condition.name}' of execution {exec_id} is no longer pending.",
            hint="Only a pending wait can be aborted.",
            details={"exec_id": exec_id, "wait": condition.name},
        )
    _require_waiting(execution, condition)
    if waits.resolve(condition, abort=True) is not None:  # answered a moment before
        raise KitaruStateError(
            f"Wait '{condition.name}' of execution {exec_id} was answered just before.",
            hint=Hint(
                sdk="Only a pending wait can be aborted; to stop the execution, "
                "`KitaruClient().executions.cancel(exec_id)`.",
                cli="Only a pending wait can be aborted; to stop the execution, "
                "`kitaru executions cancel EXEC_ID`.",
                mcp="Only a pending wait can be aborted; to stop the execution, "
                "{tool:kitaru_executions_cancel|cancel it}.",
            ),
            details={"exec_id": exec_id, "wait": condition.name},
        )
    return get(exec_id)


def _resume_when_paused(exec_id: str, local: LocalWaits | None = None) -> StartedExecution | None:
    """Start a resume worker for a paused run with no pending wait left (``local`` given:
    the answer was recorded on the local store, which only takes flows from files, and a
    worker resumes those)."""
    from kitaru_core.backend.store import execution_store
    from kitaru_core.runtime.detach import start_job

    store = execution_store()
    status, _ = store.run_state(exec_id)
    if status != ExecutionStatus.WAITING or store.wait_rows(exec_id):
        return None
    if local is None:
        from kitaru_core.runtime.interactive import resume_without_file

        continued = resume_without_file(exec_id)  # a flow defined outside a file: only here
        if continued is not None:
            return continued
    # An answer returns once a worker took the resume over: a pool still loading the engine (a
    # fresh MCP server) would hold it for seconds, while a spawned worker reports at once.
    exec_id, log_file = start_job(ResumeJob(exec_id=exec_id), wait_for_pool=False)
    return StartedExecution(exec_id=exec_id, status=ExecutionStatus.RUNNING, log_file=str(log_file))


def resume(exec_id: str) -> StartedExecution:
    """Continue a ``waiting`` execution whose answer is in (in a background worker)."""
    execution = get(exec_id)
    if execution.status != ExecutionStatus.WAITING:
        raise KitaruStateError(
            f"Execution {exec_id} is {execution.status.value}; only a waiting execution can be "
            "resumed.",
            hint=_RETRY_OR_REPLAY,
            details={"exec_id": exec_id, "status": execution.status.value},
        )
    if execution.pending_wait is not None:
        raise KitaruStateError(
            f"Execution {exec_id} is still waiting for input "
            f"('{execution.pending_wait.name if execution.pending_wait else '?'}').",
            hint=Hint(
                sdk="Answer it with `KitaruClient().executions.input(exec_id, wait, value)`; "
                "that resumes it.",
                cli="Answer it with `kitaru executions input EXEC_ID --value VALUE`; that "
                "resumes it.",
                mcp="{tool:kitaru_executions_input|answer it}; that resumes it.",
            ),
            details={"exec_id": exec_id},
        )
    started = _resume_when_paused(exec_id)
    assert started is not None
    return started


# --------------------------------------------------------------------------- following one run
FOLLOW_POLL_INTERVAL = 0.5


def follow(
    exec_id: str,
    *,
    poll_interval: float = FOLLOW_POLL_INTERVAL,
    timeout: float | None = None,
    stop_when_waiting: bool = True,
) -> Iterator[Execution]:
    """Yield the execution each time its status or one of its checkpoints changes.

    Ends after yielding a finished execution — or, with ``stop_when_waiting``, one that is
    waiting for an answer (a pending wait: nobody is going to answer while a caller blocks
    here). A waiting execution with no pending question (being resumed) is followed on.
    After ``timeout`` seconds a :class:`KitaruTimeoutError` says where it got to.
    """
    import time

    from kitaru_core.errors import KitaruTimeoutError

    deadline = None if timeout is None else time.monotonic() + timeout
    last: tuple[Any, ...] | None = None
    while True:
        execution = get(exec_id)
        state = (
            execution.status,
            tuple((c.call_id, c.status, c.attempts) for c in execution.checkpoints),
        )
        done = execution.status.is_finished or (
            stop_when_waiting
            and execution.status == ExecutionStatus.WAITING
            and execution.pending_wait is not None
        )
        if state != last or done:
            last = state
            yield execution
        if done:
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise KitaruTimeoutError(
                f"Execution {exec_id} is still {execution.status.value} after {timeout:g} s.",
                hint=Hint(
                    sdk="It goes on in the background: "
                    f"`KitaruClient().executions.get('{exec_id}')`.",
                    cli=f"It goes on in the background: `kitaru executions get {exec_id}`.",
                    mcp="It goes on in the background: check it with {tool:kitaru_executions_get}.",
                ),
                details={"exec_id": exec_id, "status": execution.status.value},
            )
        time.sleep(poll_interval)


def follow_logs(
    exec_id: str,
    *,
    checkpoint: str | None = None,
    limit: int | None = None,
    poll_interval: float = FOLLOW_POLL_INTERVAL,
) -> Iterator[LogEntry]:
    """The last ``limit`` log lines, then every new line as it arrives, until the execution
    finishes (``tail -f`` for an execution)."""
    import time

    from kitaru_core.backend.store import execution_store

    # Validates the execution, the checkpoint and the limit before anything is yielded.
    logs(exec_id, checkpoint=checkpoint, limit=limit)
    size = check_limit(DEFAULT_LOG_LIMIT if limit is None else limit, maximum=MAX_LOG_LIMIT)
    seen: int | None = None
    while True:
        # The status is read before the lines, so the lines of a finished run are all read.
        finished = get(exec_id).status.is_finished
        entries = [
            entry
            for entry in execution_store().log_entries(str(exec_id))
            if checkpoint is None or entry.checkpoint == checkpoint
        ]
        yield from entries[-size:] if seen is None else entries[seen:]
        seen = len(entries)
        if finished:
            return
        time.sleep(poll_interval)
