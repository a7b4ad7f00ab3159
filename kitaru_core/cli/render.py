"""Rendering: stable JSON on stdout for scripts, rich tables for people.

``rich`` is imported only when a table is drawn, so ``--help`` and ``-o json`` never pay for it.
Every ``human`` callback receives a console that writes to stdout; progress and notes that are
not the command's result go to stderr (:func:`note`).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from kitaru_core.cli.core import json_output

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from kitaru_core.models import Execution

# Wide enough that ids never get cut when output is piped (rich assumes 80 columns then).
_PIPE_WIDTH = 200
_STATUS_STYLES = {
    "running": "cyan",
    "waiting": "yellow",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def jsonable(value: Any) -> Any:
    """Pydantic models (and lists/dicts of them) as plain JSON values."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, datetime):
        # RFC 3339 with an offset, as the models serialise (str() would put a space, not T).
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def print_json(payload: Any) -> None:
    click.echo(json.dumps(jsonable(payload), indent=2, ensure_ascii=False, default=str))


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else _PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def emit(value: Any, human: Callable[[Console], None]) -> None:
    """The command's result: JSON under ``-o json``, else whatever ``human`` draws."""
    if json_output():
        print_json(value)
    else:
        human(console())


def emit_list(items: Sequence[Any], human: Callable[[Console], None], **extra: Any) -> None:
    """A list result: ``{"items": [...], "count": N}`` (plus ``extra`` keys) under JSON."""
    if json_output():
        print_json({"items": list(items), "count": len(items), **extra})
    else:
        human(console())


def note(text: str) -> None:
    """A remark for people on stderr (never under ``-o json``, whose stderr is for errors)."""
    if not json_output():
        click.echo(text, err=True)


@contextlib.contextmanager
def spinner(message: str) -> Iterator[Callable[[str], None]]:
    """A rich status spinner on stderr for long operations; yields ``update(text)``.

    Shown only to people at a terminal: under ``-o json`` or when stderr is piped, nothing.
    """
    if json_output() or not sys.stderr.isatty():
        yield lambda _text: None
        return
    with console(stderr=True).status(message) as status:
        yield lambda text: status.update(text)


# ----------------------------------------------------------------------------- small helpers


def table(*columns: str, title: str | None = None) -> Table:
    from rich import box
    from rich.table import Table

    grid = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def fields_table(rows: Sequence[tuple[str, Any]], title: str | None = None) -> Table:
    """Key/value rows; ``None`` values are left out."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    if title:
        grid.title = title
        grid.title_justify = "left"
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in rows:
        if value is not None and value != "":
            grid.add_row(key, value if hasattr(value, "__rich_console__") else str(value))
    return grid


def status_text(status: Any) -> str:
    word = str(getattr(status, "value", status))
    style = _STATUS_STYLES.get(word)
    return f"[{style}]{word}[/{style}]" if style else word


def local_time(moment: datetime) -> datetime:
    """The store keeps naive UTC times; show them in the user's time zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone()


def when(moment: datetime | None) -> str:
    return local_time(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def duration(start: datetime | None, end: datetime | None) -> str:
    if not start or not end:
        return ""
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def compact(value: Any, limit: int = 300) -> str:
    """A value as one line of JSON, cut at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(jsonable(value), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def yes(flag: bool) -> str:
    return "yes" if flag else ""


def escape(text: Any) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(str(text))


# ------------------------------------------------------------------------------- executions


def execution_rows(execution: Execution) -> list[tuple[str, Any]]:
    return [
        ("exec_id", execution.exec_id),
        ("flow", escape(execution.flow)),
        ("status", status_text(execution.status)),
        ("reason", escape(execution.status_reason) if execution.status_reason else None),
        ("stack", execution.stack),
        ("started", when(execution.started_at)),
        ("ended", when(execution.ended_at)),
        ("duration", duration(execution.started_at, execution.ended_at)),
        ("original", execution.original_exec_id),
        (
            "result",
            escape(compact(execution.result, 2000)) if execution.result is not None else None,
        ),
    ]


def render_execution(out: Console, execution: Execution, *, full: bool = True) -> None:
    """An execution for people: summary, checkpoints, pending question, failure."""
    out.print(fields_table(execution_rows(execution)))
    if full and execution.checkpoints:
        logged = any(call.metadata for call in execution.checkpoints)
        columns = ("call_id", "checkpoint", "type", "status", "attempts", "cached", "took")
        grid = table(*columns, *(("logged",) if logged else ()))
        for call in execution.checkpoints:
            cells = [
                escape(call.call_id),
                escape(call.name),
                call.type,
                status_text(call.status),
                str(call.attempts),
                yes(call.cached),
                duration(call.started_at, call.ended_at),
            ]
            if logged:  # the column only appears when some call logged something
                cells.append(escape(compact(call.metadata, 120)) if call.metadata else "")
            grid.add_row(*cells)
        out.print()
        out.print(grid)
    metadata = execution.metadata
    if full and metadata:
        out.print()
        out.print("[bold]Logged metadata[/] (log() at flow scope)")
        rows = [(escape(key), escape(compact(value, 300))) for key, value in metadata.items()]
        out.print(fields_table(rows))
    wait = execution.pending_wait
    if wait is not None:
        out.print()
        out.print(f"[yellow bold]Waiting for input[/] — wait '{escape(wait.name)}'")
        if wait.question:
            out.print(f"  {escape(wait.question)}")
        if wait.schema_:
            out.print(f"  schema: {escape(compact(wait.schema_, 500))}")
        out.print(f"  Answer: kitaru executions input {execution.exec_id} --value JSON")
        out.print(f"  Abort:  kitaru executions abort-wait {execution.exec_id}")
    failure = execution.failure
    if full and failure is not None:
        out.print()
        where = f" in checkpoint '{escape(failure.checkpoint)}'" if failure.checkpoint else ""
        kind = f"{failure.exception_type}: " if failure.exception_type else ""
        out.print(f"[red bold]Failed{where}[/]: {escape(kind + failure.message)}")
        if failure.traceback:
            out.print(escape(failure.traceback.rstrip()), style="dim")
    if full and execution.frozen_spec:
        out.print()
        out.print("[bold]Execution spec[/] (resolved configuration, source in brackets)")
        out.print(fields_table([(key, spec_value(value)) for key, value in spec_items(execution)]))


def spec_items(execution: Execution) -> list[tuple[str, Any]]:
    spec = execution.frozen_spec
    return sorted(spec.items()) if isinstance(spec, dict) else []


def spec_value(value: Any) -> str:
    """A frozen-spec entry: ``{"value": v, "source": s}`` → ``v  [s]``; anything else compact."""
    if isinstance(value, dict) and set(value) >= {"value", "source"}:
        return escape(f"{compact(value['value'], 200)}  [{value['source']}]")
    return escape(compact(value, 200))


def executions_table(items: Sequence[Execution]) -> Table:
    grid = table("exec_id", "flow", "status", "started", "duration", "stack")
    for execution in items:
        grid.add_row(
            execution.exec_id,
            escape(execution.flow),
            status_text(execution.status),
            when(execution.started_at),
            duration(execution.started_at, execution.ended_at),
            execution.stack or "",
        )
    return grid
