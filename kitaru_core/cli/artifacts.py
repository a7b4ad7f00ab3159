"""``kitaru artifacts list|get``: what executions stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kitaru_core.cli.core import output_option
from kitaru_core.cli.render import emit, emit_list, escape, fields_table, note, table, when

if TYPE_CHECKING:
    from rich.console import Console

    from kitaru_core.models import ArtifactInfo


@click.group("artifacts")
@output_option
def artifacts_group() -> None:
    """Read what executions stored: checkpoint outputs, saved values, results."""


@artifacts_group.command("list")
@click.argument("exec_id")
@click.option("--name", help="Only artifacts whose name contains this text.")
@click.option("--limit", type=int, default=None, help="At most this many (default 20, max 200).")
@output_option
def list_command(exec_id: str, name: str | None, limit: int | None) -> None:
    """List the artifacts of execution EXEC_ID."""
    from kitaru_core.services import artifacts

    items = artifacts.list_artifacts(exec_id, name=name, limit=limit)

    def human(out: Console) -> None:
        if not items:
            out.print("No artifacts found.")
            return
        grid = table("artifact_id", "name", "checkpoint", "type", "created")
        for item in items:
            grid.add_row(
                item.artifact_id,
                escape(item.name),
                escape(item.checkpoint or ""),
                escape(item.data_type or item.type or ""),
                when(item.created_at),
            )
        out.print(grid)

    emit_list(items, human)


@artifacts_group.command("get")
@click.argument("artifact_id")
@click.option(
    "--max-chars",
    type=int,
    default=None,
    help="Cut the rendered value at this many characters (default 16000, max 80000).",
)
@output_option
def get_command(artifact_id: str, max_chars: int | None) -> None:
    """Show one artifact and its value (rendered as JSON)."""
    from kitaru_core.services import artifacts

    info = artifacts.get(artifact_id, max_chars=max_chars)
    emit(info, lambda out: _render_artifact(out, info))


def _render_artifact(out: Console, info: ArtifactInfo) -> None:
    import json

    from rich.syntax import Syntax

    out.print(
        fields_table(
            [
                ("artifact_id", info.artifact_id),
                ("name", escape(info.name)),
                ("exec_id", info.exec_id),
                ("checkpoint", escape(info.checkpoint) if info.checkpoint else None),
                ("type", escape(info.data_type or info.type or "")),
                ("created", when(info.created_at)),
            ]
        )
    )
    out.print()
    if isinstance(info.value, str):
        out.print(escape(info.value))
    else:
        out.print(Syntax(json.dumps(info.value, indent=2, default=str), "json", word_wrap=True))
    if info.truncated:
        note("(value truncated; raise --max-chars to see more)")
