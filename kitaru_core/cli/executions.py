"""``kitaru run`` and ``kitaru executions ...``: start, inspect, answer and control executions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kitaru_core.cli.core import (
    json_output,
    long_running,
    output_option,
    parse_answer_option,
    parse_assignment,
    parse_json_option,
    read_option_text,
)
from kitaru_core.cli.render import (
    compact,
    emit,
    emit_list,
    escape,
    executions_table,
    local_time,
    note,
    render_execution,
    table,
    when,
)

if TYPE_CHECKING:
    from rich.console import Console

    from kitaru_core.models import LogEntry, ReplayPlan, StartedExecution

INPUT_HELP = "Flow inputs as a JSON object, or @file.json."
WAIT_FLAG_HELP = (
    "Follow the execution until it finishes (or asks a question), showing checkpoint progress; "
    "exit 1 if it fails."
)


def show_started(started: StartedExecution, *, wait: bool, verb: str = "Started") -> int:
    """After something started or continued an execution: follow it, or show it at once."""
    from kitaru_core.cli.progress import finish, follow_to_end
    from kitaru_core.services import executions

    if not json_output():
        flow = f" of flow '{started.flow}'" if started.flow else ""
        note(f"{verb} execution {started.exec_id}{flow}")
    if wait:
        return finish(follow_to_end(started.exec_id))
    execution = executions.get(started.exec_id)

    def human(out: Console) -> None:
        render_execution(out, execution, full=False)
        out.print()
        out.print(f"Follow it: kitaru executions logs {execution.exec_id} --follow")
        if started.log_file:
            out.print(f"Worker log: {escape(started.log_file)}", style="dim")

    emit(execution, human)
    return 0


@click.command("run")
@click.argument("target")
@click.option("--input", "input_text", metavar="JSON", help=INPUT_HELP)
@click.option("--stack", help="Run on this stack instead of the active one.")
@click.option(
    "--image",
    "image_text",
    metavar="JSON|IMAGE",
    help="Container image for remote stacks: a JSON object of image settings, @file, or a "
    "plain image name (= base_image).",
)
@click.option("--wait", is_flag=True, help=WAIT_FLAG_HELP)
@output_option
def run_command(
    target: str, input_text: str | None, stack: str | None, image_text: str | None, wait: bool
) -> int:
    """Start flow TARGET (<file.py or module>:<flow>) in the background; print its exec_id.

    \b
    Examples:
      kitaru run flows/research.py:research_agent --input '{"topic": "agents"}'
      kitaru run my_pkg.flows:research_agent --input @inputs.json --wait
    """
    from kitaru_core.services import executions

    inputs = parse_json_option(input_text, option="--input")
    image = read_option_text(image_text, option="--image")[0] if image_text else None
    started = executions.start(target, inputs=inputs, stack=stack, image=image)
    return show_started(started, wait=wait)


@click.group("executions")
@output_option
def executions_group() -> None:
    """Inspect executions, answer their questions, and resume, retry, replay or cancel them."""


@executions_group.command("list")
@click.option("--flow", help="Only executions of this flow.")
@click.option("--status", help="Only this status: running, waiting, completed, failed, cancelled.")
@click.option("--stack", help="Only executions on this stack.")
@click.option("--limit", type=int, default=None, help="At most this many (default 20, max 200).")
@click.option("--cursor", help="Continue after a previous page (its next_cursor).")
@output_option
def list_command(
    flow: str | None, status: str | None, stack: str | None, limit: int | None, cursor: str | None
) -> None:
    """List executions, newest first."""
    from kitaru_core.services import executions

    items, next_cursor = executions.list_executions(
        flow=flow, status=status, stack=stack, limit=limit, cursor=cursor
    )

    def human(out: Console) -> None:
        if not items:
            out.print("No executions found.")
            return
        out.print(executions_table(items))
        if next_cursor:
            out.print(f"More: kitaru executions list --cursor {next_cursor}", style="dim")

    emit_list(items, human, next_cursor=next_cursor)


@executions_group.command("get")
@click.argument("exec_id")
@output_option
def get_command(exec_id: str) -> None:
    """Show one execution: status, result, checkpoints, pending question, failure, spec."""
    from kitaru_core.services import executions

    execution = executions.get(exec_id)
    emit(execution, lambda out: render_execution(out, execution))


@executions_group.command("latest")
@click.option("--flow", help="The latest execution of this flow.")
@click.option("--status", help="The latest with this status.")
@click.option("--stack", help="The latest on this stack.")
@output_option
def latest_command(flow: str | None, status: str | None, stack: str | None) -> None:
    """Show the most recent execution (optionally filtered)."""
    from kitaru_core.services import executions

    execution = executions.latest(flow=flow, status=status, stack=stack)
    emit(execution, lambda out: render_execution(out, execution))


def _log_line(entry: LogEntry) -> str:
    stamp = local_time(entry.timestamp).strftime("%H:%M:%S") if entry.timestamp else "--:--:--"
    where = f" [{entry.checkpoint}]" if entry.checkpoint else ""
    return f"{stamp} {entry.level:<7}{where} {entry.message}"


@executions_group.command("logs")
@click.argument("exec_id")
@click.option("--checkpoint", help="Only the lines of this checkpoint call (e.g. fetch_data_2).")
@click.option(
    "--limit", type=int, default=None, help="How many of the last lines (default 200, max 5000)."
)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing new lines until the execution finishes (JSON: one object per line).",
)
@output_option
def logs_command(exec_id: str, checkpoint: str | None, limit: int | None, follow: bool) -> None:
    """Print an execution's log lines (the tail by default)."""
    from kitaru_core.services import executions

    if follow:
        long_running()
        for entry in executions.follow_logs(exec_id, checkpoint=checkpoint, limit=limit):
            if json_output():
                import json

                click.echo(json.dumps(entry.model_dump(mode="json"), ensure_ascii=False))
            else:
                click.echo(_log_line(entry))
        return
    entries, truncated = executions.logs(exec_id, checkpoint=checkpoint, limit=limit)

    def human(_out: Console) -> None:
        for entry in entries:
            click.echo(_log_line(entry))
        if not entries:
            note("No log lines (yet).")
        if truncated:
            note(f"(the last {len(entries)} lines; more with --limit)")

    emit_list(entries, human, truncated=truncated)


@executions_group.command("waiting")
@output_option
def waiting_command() -> None:
    """List every question executions are waiting on, with its JSON schema."""
    from kitaru_core.services import executions

    items = executions.waiting()

    def human(out: Console) -> None:
        if not items:
            out.print("No execution is waiting for input.")
            return
        grid = table("exec_id", "flow", "wait", "question", "schema", "since")
        for item in items:
            grid.add_row(
                item.exec_id,
                escape(item.flow),
                escape(item.name),
                escape(item.question or ""),
                escape(compact(item.schema_, 160)) if item.schema_ else "(continue/abort)",
                when(item.created_at),
            )
        out.print(grid)
        out.print("Answer: kitaru executions input EXEC_ID --value JSON", style="dim")

    emit_list(items, human)


@executions_group.command("input")
@click.argument("exec_id")
@click.option(
    "--value",
    metavar="JSON",
    help='The answer: JSON (true, 3, \'{"decision": "approve"}\'), @file, or a bare word '
    "(taken as a string). Omit it to continue a gate that asks no value.",
)
@click.option("--wait", "wait_name", metavar="NAME", help="Which wait (default: the pending one).")
@click.option(
    "--no-resume",
    is_flag=True,
    help="Record the answer without continuing; `kitaru executions resume` continues it later. "
    "Only for an execution whose wait timed out (its worker released it): refused while a "
    "worker still polls the wait, since that worker would go on at once.",
)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="After answering, follow the execution until it finishes (or asks again), showing "
    "checkpoint progress; exit 1 if it fails.",
)
@output_option
def input_command(
    exec_id: str, value: str | None, wait_name: str | None, no_resume: bool, follow: bool
) -> int:
    """Answer the question EXEC_ID is waiting on; the execution continues in the background.

    \b
    Examples:
      kitaru executions input EXEC_ID --wait approve --value true
      kitaru executions input EXEC_ID --value '{"decision": "approve"}' --follow
    """
    from kitaru_core.cli.progress import finish, follow_to_end
    from kitaru_core.services import executions
    from kitaru_core.services.executions import AnswerOutcome

    answer = parse_answer_option(value)
    answered = executions.answer(exec_id, value=answer, wait=wait_name, resume=not no_resume)
    execution = answered.execution
    if follow and answered.outcome != AnswerOutcome.RECORDED:
        if not json_output():
            note(_answer_line(answered.outcome, execution.exec_id))
        return finish(follow_to_end(execution.exec_id))

    def human(out: Console) -> None:
        out.print(_answer_line(answered.outcome, execution.exec_id))
        if answered.outcome == AnswerOutcome.RECORDED:
            out.print(f"Continue it: kitaru executions resume {execution.exec_id}", style="dim")
        elif not execution.status.is_finished:
            out.print(f"Follow it: kitaru executions get {execution.exec_id}", style="dim")

    emit(execution, human)
    return 0


def _answer_line(outcome: Any, exec_id: str) -> str:
    """What an answer set in motion, in words (see ``services.executions.AnswerOutcome``)."""
    from kitaru_core.services.executions import AnswerOutcome

    return {
        AnswerOutcome.CONTINUES: f"Answered; execution {exec_id} continues.",
        AnswerOutcome.RESUMING: f"Answered; execution {exec_id} is resuming in the background.",
        AnswerOutcome.RECORDED: f"Answer recorded; execution {exec_id} stays waiting.",
        AnswerOutcome.ALREADY_ANSWERED: f"Already answered with this value; nothing new for "
        f"execution {exec_id}.",
    }[outcome]


@executions_group.command("abort-wait")
@click.argument("exec_id")
@click.option("--wait", "wait_name", metavar="NAME", help="Which wait (default: the pending one).")
@output_option
def abort_wait_command(exec_id: str, wait_name: str | None) -> None:
    """Refuse the question EXEC_ID is waiting on; the execution ends cancelled."""
    from kitaru_core.services import executions

    execution = executions.abort_wait(exec_id, wait=wait_name)
    emit(
        execution,
        lambda out: out.print(
            f"Aborted the wait; execution {exec_id} is {execution.status.value}."
        ),
    )


@executions_group.command("resume")
@click.argument("exec_id")
@click.option("--wait", is_flag=True, help=WAIT_FLAG_HELP)
@output_option
def resume_command(exec_id: str, wait: bool) -> int:
    """Continue a waiting execution whose answer is already in."""
    from kitaru_core.services import executions

    return show_started(executions.resume(exec_id), wait=wait, verb="Resumed")


@executions_group.command("retry")
@click.argument("exec_id")
@click.option("--wait", is_flag=True, help=WAIT_FLAG_HELP)
@output_option
def retry_command(exec_id: str, wait: bool) -> int:
    """Run a failed execution again, reusing every checkpoint that completed."""
    from kitaru_core.services import execution_control

    return show_started(execution_control.retry(exec_id), wait=wait, verb="Retrying as")


@executions_group.command("replay")
@click.argument("exec_id")
@click.option(
    "--from",
    "from_",
    metavar="CHECKPOINT",
    help="Replay from this checkpoint (call id or name): earlier ones are reused.",
)
@click.option(
    "--override",
    "overrides",
    multiple=True,
    metavar="checkpoint.NAME=JSON",
    help="Replace a checkpoint's recorded output with this value (repeatable).",
)
@click.option("--input", "input_text", metavar="JSON", help="Change flow inputs (JSON or @file).")
@click.option("--dry-run", is_flag=True, help="Only show what would be reused, overridden, re-run.")
@click.option("--wait", is_flag=True, help=WAIT_FLAG_HELP)
@output_option
def replay_command(
    exec_id: str,
    from_: str | None,
    overrides: tuple[str, ...],
    input_text: str | None,
    dry_run: bool,
    wait: bool,
) -> int:
    """Start a new execution from a finished one: reuse the checkpoints before --from, run the
    rest live (never from the cache)."""
    from kitaru_core.models import ReplayPlan
    from kitaru_core.services import execution_control

    parsed: dict[str, Any] = {}
    for text in overrides:
        key, value = parse_assignment(text, option="--override")
        parsed[key] = value
    outcome = execution_control.replay(
        exec_id,
        from_=from_,
        overrides=parsed or None,
        flow_inputs=parse_json_option(input_text, option="--input"),
        dry_run=dry_run,
    )
    if isinstance(outcome, ReplayPlan):
        emit(outcome, lambda out: _render_plan(out, outcome))
        return 0
    return show_started(outcome, wait=wait, verb="Replaying as")


def _render_plan(out: Console, plan: ReplayPlan) -> None:
    out.print(f"Replay from [bold]{escape(plan.from_checkpoint)}[/] (dry run, nothing started)")
    grid = table("checkpoint call", "plan")
    for call in plan.reused:
        grid.add_row(escape(call), "reused")
    for call in plan.overridden:
        grid.add_row(escape(call), "[yellow]overridden[/]")
    for call in plan.rerun:
        grid.add_row(escape(call), "[cyan]re-run[/]")
    out.print(grid)


@executions_group.command("cancel")
@click.argument("exec_id")
@output_option
def cancel_command(exec_id: str) -> None:
    """Stop a running or waiting execution; completed checkpoints stay."""
    from kitaru_core.cli.render import spinner
    from kitaru_core.services import execution_control

    with spinner(f"Cancelling {exec_id}…"):
        execution = execution_control.cancel(exec_id)
    emit(
        execution,
        lambda out: out.print(f"Execution {exec_id} is {execution.status.value}."),
    )
