"""``kitaru stack list|current|show|use|create|delete``.

Arguments go through the same request builders as the MCP tools, with the CLI's field labels
(so a message names ``--cluster``, not ``cluster``); every rule lives in the builders and the
stack service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kitaru_core.cli.core import output_option
from kitaru_core.cli.render import (
    compact,
    emit,
    emit_list,
    escape,
    fields_table,
    spinner,
    table,
    yes,
)

if TYPE_CHECKING:
    from rich.console import Console

    from kitaru_core.models import StackDetails, StackListItem

STACK_TYPES = "local, kubernetes, vertex, sagemaker, azureml"


@click.group("stack")
@output_option
def stack_group() -> None:
    """Create, inspect, switch and delete the stacks flows run on.

    A stack bundles compute (orchestrator), storage (artifact store) and, for remote types, a
    container registry. `kitaru stack use` changes the persisted active stack.
    """


@stack_group.command("list")
@output_option
def list_command() -> None:
    """List stacks: id, name, whether active, whether Kitaru manages it."""
    from kitaru_core.services import stacks

    items = stacks.list_stacks()
    emit_list(items, lambda out: out.print(_stacks_table(items)))


def _stacks_table(items: list[StackListItem]) -> Any:
    grid = table("", "name", "id", "managed")
    for item in items:
        grid.add_row(
            "[green]●[/]" if item.is_active else "",
            escape(item.name),
            item.id,
            yes(item.is_managed),
        )
    return grid


@stack_group.command("current")
@output_option
def current_command() -> None:
    """Show the active stack (where flows run unless told otherwise)."""
    from kitaru_core.services import stacks

    current = stacks.current_stack()
    emit(
        current,
        lambda out: out.print(f"Active stack: {escape(current.name)}  [dim]{current.id}[/]"),
    )


@stack_group.command("show")
@click.argument("name_or_id", required=False)
@output_option
def show_command(name_or_id: str | None) -> None:
    """Show one stack's components, flavors, key configuration and connector.

    NAME_OR_ID defaults to the active stack.
    """
    from kitaru_core.services import stacks

    details = stacks.show_stack(name_or_id)
    emit(details, lambda out: render_stack(out, details))


def render_stack(out: Console, details: StackDetails) -> None:
    out.print(
        fields_table(
            [
                ("name", escape(details.name)),
                ("id", details.id),
                ("type", details.stack_type),
                ("active", "yes" if details.is_active else "no"),
                ("managed", "yes" if details.is_managed else "no"),
            ]
        )
    )
    if details.components:
        grid = table("component", "name", "flavor", "managed", "configuration")
        for component in details.components:
            config = "\n".join(
                f"{key}={compact(value, 120)}"
                for key, value in sorted(component.configuration.items())
            )
            grid.add_row(
                component.type,
                escape(component.name),
                component.flavor,
                yes(component.is_managed),
                escape(config),
            )
        out.print()
        out.print(grid)
    if details.connector:
        out.print()
        connector = ", ".join(f"{k}={compact(v, 120)}" for k, v in details.connector.items())
        out.print(f"[bold]Connector[/]: {escape(connector)}")


@stack_group.command("use")
@click.argument("name_or_id")
@output_option
def use_command(name_or_id: str) -> None:
    """Make NAME_OR_ID the active stack (persisted until you switch again)."""
    from kitaru_core.requests.stacks import CLI_LABELS, normalize_stack_reference
    from kitaru_core.services import stacks

    reference = normalize_stack_reference(name_or_id, labels=CLI_LABELS, field="name")
    before = stacks.current_stack()
    after = stacks.use_stack(reference)
    emit(after, lambda out: out.print(f"Active stack: {_switch(before.name, after.name)}"))


def _switch(before: str, after: str) -> str:
    return escape(after) if before == after else f"{escape(before)} → {escape(after)}"


@stack_group.command("create")
@click.argument("name", required=False)
@click.option(
    "-f",
    "--file",
    "file",
    metavar="STACK.YAML",
    help="Read the stack definition from YAML (same keys as the flags, plus `extra:`); "
    "flags given here win over it, --extra merges on top of its `extra:`.",
)
@click.option(
    "--type", "stack_type", metavar="TYPE", help=f"Stack type: {STACK_TYPES} (default local)."
)
@click.option(
    "--artifact-store", metavar="URI", help="Bucket URI: s3://, gs://, az://, abfs(s)://."
)
@click.option("--container-registry", metavar="URI", help="Registry for flow images.")
@click.option("--cluster", help="Kubernetes cluster name (kubernetes).")
@click.option("--region", help="Cloud region (kubernetes, vertex, sagemaker; azureml optional).")
@click.option("--subscription-id", help="Azure subscription id (azureml).")
@click.option("--resource-group", help="Azure resource group (azureml).")
@click.option("--workspace", help="Azure ML workspace (azureml).")
@click.option("--execution-role", metavar="ARN", help="IAM role SageMaker runs as (sagemaker).")
@click.option("--namespace", help="Kubernetes namespace (kubernetes; default 'default').")
@click.option(
    "--credentials",
    metavar="METHOD",
    help="How the stack authenticates (default implicit). AWS: profile:NAME | role:ARN | "
    "access-key:ID:SECRET; GCP: service-account:KEY.json; Azure: "
    "service-principal:TENANT:CLIENT:SECRET.",
)
@click.option(
    "--verify/--no-verify",
    default=None,
    help="Check the cloud credentials while creating (default: verify).",
)
@click.option(
    "--extra",
    multiple=True,
    metavar="TARGET.FIELD=VALUE",
    help="Advanced component setting (repeatable); TARGET is orchestrator, artifact_store or "
    "container_registry; VALUE is read as YAML.",
)
@click.option(
    "--async",
    "async_mode",
    is_flag=True,
    default=None,
    help="Runs proceed without the client waiting (orchestrator.synchronous=false).",
)
@click.option(
    "--activate/--no-activate",
    default=None,
    help="Make the new stack active (default: activate).",
)
@output_option
def create_command(
    name: str | None,
    file: str | None,
    extra: tuple[str, ...],
    **flags: Any,
) -> None:
    """Create stack NAME and (unless --no-activate) make it active.

    \b
    Required per --type:
      local       nothing else
      kubernetes  --artifact-store (s3:// or gs://) --container-registry --cluster --region
      vertex      --artifact-store (gs://) --container-registry --region
      sagemaker   --artifact-store (s3://) --container-registry --region --execution-role
      azureml     --artifact-store (az://, abfs://, abfss://) --container-registry
                  --subscription-id --resource-group --workspace
    A flag the type does not take is an error. A creation that fails leaves nothing behind.
    """
    from kitaru_core.requests.stacks import (
        CLI_LABELS,
        build_stack_create_request,
        load_stack_file,
    )
    from kitaru_core.services import stacks

    # ``flags`` holds the other options under the builder's own parameter names; an option
    # not given is None, so the YAML file (if any) decides it.
    file_values = load_stack_file(file, labels=CLI_LABELS) if file is not None else None
    request = build_stack_create_request(
        name=name,
        extra=list(extra) or None,
        labels=CLI_LABELS,
        file_values=file_values,
        **flags,
    )
    before = stacks.current_stack()
    with spinner(f"Creating stack '{request.name}' ({request.stack_type.value})…"):
        details = stacks.create_stack(request)

    def human(out: Console) -> None:
        out.print(f"Created stack: {escape(details.name)}")
        if details.is_active:
            out.print(f"Active stack: {_switch(before.name, details.name)}")
        else:
            out.print(
                f"Active stack: {escape(before.name)} (switch with: kitaru stack use "
                f"{escape(details.name)})"
            )

    emit(details, human)


@stack_group.command("delete")
@click.argument("name_or_id")
@click.option(
    "--recursive",
    is_flag=True,
    help="Also delete the Kitaru-managed components no other stack uses.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Allow deleting the active stack (switches to 'default' first).",
)
@output_option
def delete_command(name_or_id: str, recursive: bool, force: bool) -> None:
    """Delete stack NAME_OR_ID (the record; with --recursive also its unshared parts).

    The active stack is protected unless --force; `default` cannot be deleted. The name can
    be created again either way: `kitaru stack create NAME` replaces the Kitaru-made parts a
    plain delete left behind (never parts made outside Kitaru or used by another stack).
    """
    from kitaru_core.requests.stacks import CLI_LABELS, build_stack_delete_request
    from kitaru_core.services import stacks

    request = build_stack_delete_request(name_or_id, recursive, force, labels=CLI_LABELS)
    deletion = stacks.delete_stack(request)

    def human(out: Console) -> None:
        out.print(f"Deleted stack: {escape(deletion.stack.name)}")
        for component in deletion.removed_components:
            out.print(f"  removed {component.type} '{escape(component.name)}'")
        for connector in deletion.removed_connectors:
            out.print(f"  removed service connector '{escape(connector)}'")
        switched = " (switched to the default stack first)" if deletion.switched_to_default else ""
        out.print(f"Active stack: {escape(deletion.active_stack)}{switched}")

    emit(deletion, human)
