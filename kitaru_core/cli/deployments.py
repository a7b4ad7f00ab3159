"""``kitaru deploy``, ``kitaru invoke`` and ``kitaru flow ...``: versioned deployments and
their routing tags. Every tag and selector rule lives in the deployment service."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kitaru_core.cli.core import output_option, parse_json_option
from kitaru_core.cli.executions import INPUT_HELP, WAIT_FLAG_HELP, show_started
from kitaru_core.cli.render import (
    compact,
    emit,
    emit_list,
    escape,
    fields_table,
    spinner,
    table,
    when,
)

if TYPE_CHECKING:
    from rich.console import Console

    from kitaru_core.models import Deployment

F = TypeVar("F", bound=Callable[..., Any])


def tags_text(deployment: Deployment) -> str:
    """``default*, beta`` — an asterisk marks an exclusive tag."""
    return ", ".join(f"{t.name}{'*' if t.exclusive else ''}" for t in deployment.tags)


def render_deployment(out: Console, deployment: Deployment) -> None:
    out.print(
        fields_table(
            [
                ("flow", escape(deployment.flow)),
                ("version", str(deployment.version)),
                ("tags", escape(tags_text(deployment)) + "  [dim](* exclusive)[/]"),
                ("stack", escape(deployment.stack or "")),
                ("local", "yes (development deployment)" if deployment.local else "no"),
                ("created", when(deployment.created_at)),
                ("inputs", escape(compact(deployment.inputs, 500))),
                ("target", escape(deployment.target or "")),
                ("snapshot_id", deployment.snapshot_id),
            ]
        )
    )


def selector_options(func: F) -> F:
    """``--version N`` / ``--tag T`` (neither: the ``default`` tag)."""
    func = click.option("--tag", help="The version this tag routes to (default: 'default').")(func)
    return click.option("--version", "version", type=int, help="Exactly this version.")(func)


@click.command("deploy")
@click.argument("target")
@click.option(
    "--input",
    "input_text",
    metavar="JSON",
    help="Representative flow inputs (JSON object or @file.json); invocations can override them.",
)
@click.option("--tag", default="default", show_default=True, help="The routing tag to attach.")
@click.option(
    "--exclusive", is_flag=True, help="Make the tag exclusive (it moves to this version)."
)
@click.option("--stack", help="Deploy for this stack instead of the active one.")
@click.option(
    "--allow-local",
    is_flag=True,
    help="Allow a local stack: a development deployment invoked in a local worker.",
)
@output_option
def deploy_command(
    target: str,
    input_text: str | None,
    tag: str,
    exclusive: bool,
    stack: str | None,
    allow_local: bool,
) -> None:
    """Save flow TARGET (<file.py or module>:<flow>) as a new numbered deployment version.

    The first version of a flow is also tagged `default`. Deployments need a stack the server
    can run remotely; --allow-local makes a local development deployment instead.

    \b
    Example:
      kitaru deploy flows/research.py:research_agent --input '{"topic": "agents"}'
    """
    from kitaru_core.services import deployments

    inputs = parse_json_option(input_text, option="--input")
    with spinner(f"Deploying {target}…"):
        deployment = deployments.deploy(
            target,
            inputs=inputs,
            tag=tag,
            exclusive=exclusive,
            stack=stack,
            allow_local=allow_local,
        )

    def human(out: Console) -> None:
        out.print(
            f"Deployed {escape(deployment.flow)} version {deployment.version} "
            f"(tags: {escape(tags_text(deployment))})"
        )
        out.print(f"Invoke it: kitaru invoke {escape(deployment.flow)} --tag {escape(tag)}")

    emit(deployment, human)


@click.command("invoke")
@click.argument("flow")
@selector_options
@click.option(
    "--input",
    "input_text",
    metavar="JSON",
    help=f"{INPUT_HELP} Wins over the deploy-time inputs.",
)
@click.option("--wait", is_flag=True, help=WAIT_FLAG_HELP)
@output_option
def invoke_command(
    flow: str, version: int | None, tag: str | None, input_text: str | None, wait: bool
) -> int:
    """Start a new execution of deployed FLOW (the `default` route unless --tag/--version)."""
    from kitaru_core.services import deployments

    inputs = parse_json_option(input_text, option="--input")
    return show_started(
        deployments.invoke(flow, version=version, tag=tag, inputs=inputs), wait=wait
    )


@click.group("flow")
@output_option
def flow_group() -> None:
    """Find flows (list) and manage their deployed versions: inspect, delete, move tags."""


@flow_group.group("deployments")
@output_option
def deployments_group() -> None:
    """The deployed versions of a flow."""


@deployments_group.command("list")
@click.argument("flow", required=False)
@output_option
def list_command(flow: str | None) -> None:
    """List FLOW's deployed versions and their tags (* = exclusive), oldest first.

    Without FLOW, list the deployments of every flow, newest first.
    """
    from kitaru_core.services import deployments

    items = deployments.list_deployments(flow)

    def human(out: Console) -> None:
        if not items:
            scope = f"Flow '{escape(flow)}' has" if flow and flow.strip() else "No flow has"
            out.print(f"{scope} no deployments.")
            return
        grid = table("flow", "version", "tags", "stack", "local", "created")
        for item in items:
            grid.add_row(
                escape(item.flow),
                str(item.version),
                escape(tags_text(item)),
                escape(item.stack or ""),
                "yes" if item.local else "",
                when(item.created_at),
            )
        out.print(grid)

    emit_list(items, human)


@deployments_group.command("get")
@click.argument("flow")
@selector_options
@output_option
def get_command(flow: str, version: int | None, tag: str | None) -> None:
    """Show one deployed version of FLOW (by --version or --tag; default: tag 'default')."""
    from kitaru_core.services import deployments

    deployment = deployments.get(flow, version=version, tag=tag)
    emit(deployment, lambda out: render_deployment(out, deployment))


@deployments_group.command("delete")
@click.argument("flow")
@selector_options
@output_option
def delete_command(flow: str, version: int | None, tag: str | None) -> None:
    """Delete one deployed version of FLOW; a version holding an exclusive tag is refused."""
    from kitaru_core.services import deployments

    deployment = deployments.delete(flow, version=version, tag=tag)
    emit(
        deployment,
        lambda out: out.print(f"Deleted {escape(deployment.flow)} version {deployment.version}"),
    )


@deployments_group.command("curl")
@click.argument("flow")
@selector_options
@click.option("--input", "input_text", metavar="JSON", help=INPUT_HELP)
@output_option
def curl_command(flow: str, version: int | None, tag: str | None, input_text: str | None) -> None:
    """Print a curl command that starts FLOW's selected version on the active server.

    It gets a short-lived token with `kitaru auth token`; no token is ever printed.
    """
    from kitaru_core.cli.render import note
    from kitaru_core.services import deployments

    inputs = parse_json_option(input_text, option="--input")
    command = deployments.curl(flow, version=version, tag=tag, inputs=inputs)

    def human(_out: Console) -> None:
        click.echo(command.command)  # plain, so it pastes exactly
        note(command.warning)

    emit(command, human)


@flow_group.command("tag")
@click.argument("flow")
@click.argument("tag")
@click.option("--version", "version", type=int, required=True, help="The version to tag.")
@click.option(
    "--exclusive", is_flag=True, help="Exclusive: the tag leaves any other version (moves)."
)
@output_option
def tag_command(flow: str, tag: str, version: int, exclusive: bool) -> None:
    """Route TAG of FLOW to --version (shared unless --exclusive; 'default' is exclusive)."""
    from kitaru_core.services import deployments

    deployment = deployments.tag(flow, tag, version=version, exclusive=exclusive)
    emit(deployment, lambda out: _tags_line(out, deployment))


@flow_group.command("untag")
@click.argument("flow")
@click.argument("tag")
@click.option("--version", "version", type=int, required=True, help="The version to untag.")
@output_option
def untag_command(flow: str, tag: str, version: int) -> None:
    """Remove TAG from --version of FLOW ('default' can only be moved, not removed)."""
    from kitaru_core.services import deployments

    deployment = deployments.untag(flow, tag, version=version)
    emit(deployment, lambda out: _tags_line(out, deployment))


def _tags_line(out: Console, deployment: Deployment) -> None:
    tags = tags_text(deployment) or "none"
    out.print(f"{escape(deployment.flow)} version {deployment.version} tags: {escape(tags)}")
