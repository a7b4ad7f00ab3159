"""``kitaru flow list``: the flows the store knows, how to run each one, and their state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kitaru_core.cli.core import output_option
from kitaru_core.cli.render import emit_list, escape, status_text, table, when

if TYPE_CHECKING:
    from rich.console import Console

    from kitaru_core.models import FlowInfo


def parameters_text(flow: FlowInfo) -> str:
    """``topic: string, depth?: integer`` — ``?`` marks an input known to be optional."""
    return ", ".join(
        f"{p.name}{'?' if p.required is False else ''}: {p.type or 'any'}" for p in flow.parameters
    )


def deployments_text(flow: FlowInfo) -> str:
    """``v1 [default*], v2 [beta]`` — an asterisk marks an exclusive tag."""
    parts = []
    for deployment in flow.deployments:
        tags = ", ".join(t.name + ("*" if t.exclusive else "") for t in deployment.tags)
        parts.append(f"v{deployment.version}" + (f" [{tags}]" if tags else ""))
    return ", ".join(parts)


def flows_table(items: list[FlowInfo]) -> object:
    grid = table("flow", "target", "parameters", "last execution", "deployments")
    for flow in items:
        last = flow.last_execution
        grid.add_row(
            escape(flow.name),
            escape(flow.target or "-"),
            escape(parameters_text(flow)),
            f"{status_text(last.status)} {when(last.started_at)}\n{last.exec_id}" if last else "-",
            escape(deployments_text(flow)) or "-",
        )
    return grid


@click.command("list")
@click.option("--limit", type=int, default=None, help="At most this many (default 20, max 200).")
@click.option("--cursor", help="Continue after a previous page (its next_cursor).")
@output_option
def flow_list_command(limit: int | None, cursor: str | None) -> None:
    """List the flows that ran or were deployed: target, parameters, last execution, versions.

    Start one with `kitaru run TARGET --input JSON`, or a deployed one with `kitaru invoke FLOW`.
    An input marked `?` is optional (known from a deployment's saved signature).
    """
    from kitaru_core.services import flows

    items, next_cursor = flows.list_flows(limit=limit, cursor=cursor)

    def human(out: Console) -> None:
        if not items:
            out.print("No flows yet: run one with `kitaru run <file.py>:<flow>`.")
            return
        out.print(flows_table(items))
        if next_cursor:
            out.print(f"More: kitaru flow list --cursor {next_cursor}", style="dim")

    emit_list(items, human, next_cursor=next_cursor)
