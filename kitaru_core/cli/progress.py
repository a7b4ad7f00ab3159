"""``--wait``: follow an execution to its end, showing checkpoint progress on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from kitaru_core.cli.core import json_output, long_running
from kitaru_core.cli.render import duration, emit, render_execution, spinner

if TYPE_CHECKING:
    from kitaru_core.models import CheckpointCall, Execution


def _attempts(call: CheckpointCall) -> str:
    """`` (2 attempts)`` when retries were needed: a slow checkpoint may be a flaky one."""
    return f" ({call.attempts} attempts)" if call.attempts > 1 else ""


def progress_line(call: CheckpointCall) -> str | None:
    """The line a checkpoint call's current status shows (``None``: nothing to show)."""
    status = call.status.value
    if status == "running":
        return f"  ▸ {call.call_id} started"
    if status == "completed":
        if call.cached:
            return f"  ✓ {call.call_id} (cached)"
        took = duration(call.started_at, call.ended_at)
        return f"  ✓ {call.call_id} finished" + (f" in {took}" if took else "") + _attempts(call)
    if status == "failed":
        return click.style(f"  ✗ {call.call_id} failed{_attempts(call)}", fg="red")
    if status == "cancelled":
        return f"  - {call.call_id} cancelled"
    return None


@contextlib.contextmanager
def _still_running_on_interrupt(exec_id: str) -> Iterator[None]:
    """Ctrl-C stops following, not the execution: say so, and how to look again."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(
            f"\nStopped following; execution {exec_id} goes on in the background "
            f"(kitaru executions get {exec_id}).",
            err=True,
        )
        raise


def follow_to_end(exec_id: str) -> Execution:
    """Follow ``exec_id`` until it finishes or waits for an answer; return its last state.

    People see one line per checkpoint transition and a spinner; ``-o json`` stays silent
    until the end.
    """
    from kitaru_core.services.executions import follow

    long_running()
    shown: dict[str, str] = {}
    final: Execution | None = None
    quiet = json_output()
    with spinner(f"Following execution {exec_id}…") as update, _still_running_on_interrupt(exec_id):
        for execution in follow(exec_id):
            final = execution
            for call in execution.checkpoints:
                if shown.get(call.call_id) == call.status.value:
                    continue
                shown[call.call_id] = call.status.value
                line = progress_line(call)
                if line and not quiet:
                    click.echo(line, err=True)
            running = [c.call_id for c in execution.checkpoints if c.status.value == "running"]
            current = f" — {', '.join(running)}" if running else ""
            update(f"{execution.flow}: {execution.status.value}{current}")
    assert final is not None  # follow() always yields the final state
    return final


def finish(execution: Execution) -> int:
    """Show a followed execution's end; a failed or cancelled one is an error (exit 1)."""
    from kitaru_core.errors import KitaruExecutionError

    emit(execution, lambda out: render_execution(out, execution, full=False))
    status = execution.status.value
    if status not in ("failed", "cancelled"):
        return 0
    failure = execution.failure
    if status == "failed":
        where = f" in checkpoint '{failure.checkpoint}'" if failure and failure.checkpoint else ""
        what = f": {failure.exception_type or 'Error'}: {failure.message}" if failure else ""
        message = f"Execution {execution.exec_id} failed{where}{what}"
        hint = None
    else:
        message = f"Execution {execution.exec_id} was cancelled."
        hint = f"See what it completed: kitaru executions get {execution.exec_id}"
    raise KitaruExecutionError(
        message,
        exec_id=execution.exec_id,
        failure=failure.model_dump(mode="json") if failure else None,
        hint=hint,
    )
