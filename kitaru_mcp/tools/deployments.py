"""Deployment tools: deploy versions of a flow, route them with tags, invoke them by flow name
and tag or version, inspect and delete them, and render a curl command.

Producer side: kitaru_deployments_deploy, _tag, _untag, _delete. Consumer side:
kitaru_deployments_list, _get, _invoke, _curl. Every routing rule (reserved ``default``,
exclusive vs shared tags, which versions may be deleted) lives in the deployment service.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from kitaru_core.models import CurlCommand, Deployment, StartedExecution
from kitaru_mcp.options import options_of
from kitaru_mcp.results import DEFAULT_LIMIT, Cursor, Limit, Page, paginate
from kitaru_mcp.tools.execution_views import StartedRun, WaitSeconds, follow


class DeploymentPage(Page[Deployment]):
    """A page of deployed versions, each with its routing tags: one flow's oldest first, or
    every flow's newest first."""


FlowName = Annotated[
    str,
    Field(description="The deployed flow's name (not a file path).", examples=["research_agent"]),
]
Version = Annotated[
    int | None,
    Field(ge=1, description="A deployed version number (1, 2, …).", examples=[2]),
]
TagSelector = Annotated[
    str | None,
    Field(
        description="A routing tag that resolves to one version (e.g. default, stable, canary). "
        "Give a tag or a version, not both; neither means the `default` tag.",
        examples=["stable"],
    ),
]
Inputs = Annotated[
    dict[str, Any] | None,
    Field(
        description="Flow parameters as a JSON object (name → value); they override the values "
        "saved at deploy time.",
        examples=[{"topic": "deployment routing"}],
    ),
]
TagName = Annotated[
    str,
    Field(
        description="Tag name: letters, digits, '_', '.', '-' (at most 63). `default` is "
        "reserved and always exclusive.",
        examples=["stable"],
    ),
]
Exclusive = Annotated[
    bool,
    Field(
        description="true: the tag points at one version only (adding it moves it here). "
        "false: a shared label several versions may carry. A tag keeps one mode per flow."
    ),
]


def kitaru_deployments_deploy(
    ctx: Context[Any, Any],
    target: Annotated[
        str,
        Field(
            description="The flow to deploy: '<file.py>:<flow>' (relative to the server's working "
            "directory, or absolute) or '<module>:<flow>', inside the directories this server "
            "may load code from (kitaru_info → mcp_server.allowed_roots).",
            examples=["flows/research.py:research_agent"],
        ),
    ],
    inputs: Annotated[
        dict[str, Any] | None,
        Field(
            description="Representative flow parameters saved with the version (name → value); "
            "invocations may override them.",
            examples=[{"topic": "durable agents"}],
        ),
    ] = None,
    tag: Annotated[
        str,
        Field(
            description="The one routing tag this deploy attaches (default `default`). A flow's "
            "first version is always tagged `default` as well.",
            examples=["canary"],
        ),
    ] = "default",
    exclusive: Exclusive = False,
    stack: Annotated[
        str | None,
        Field(
            description="Stack the deployment runs on (default: the active stack). It must run "
            "flows remotely (kubernetes, vertex, sagemaker, azureml) unless allow_local is true.",
            examples=["gpu-k8s"],
        ),
    ] = None,
    allow_local: Annotated[
        bool,
        Field(
            description="Allow a local stack: creates a local development deployment, invoked "
            "in a background worker on this machine (curl is refused for it)."
        ),
    ] = False,
) -> Deployment:
    """Deploy a flow: save an immutable, numbered version (1, 2, … per flow) with its inputs,
    stack and one routing tag, so that consumers invoke it by flow name without the source.

    Deploying to a local stack is refused (the error names the remote stack types) unless
    allow_local=true. Next: kitaru_deployments_tag to move routes (e.g. promote to stable),
    kitaru_deployments_invoke to run it, kitaru_deployments_list to review versions."""
    from kitaru_core.services import deployments, executions

    options = options_of(ctx)
    checked = executions.confined_target(
        target, lambda path: options.check_path(path, field="target")
    )
    return deployments.deploy(
        checked,
        inputs=inputs,
        tag=tag,
        exclusive=exclusive,
        stack=stack,
        allow_local=allow_local,
    )


async def kitaru_deployments_invoke(
    ctx: Context[Any, Any],
    flow: FlowName,
    tag: TagSelector = None,
    version: Version = None,
    inputs: Inputs = None,
    wait_seconds: WaitSeconds = 0,
) -> StartedRun:
    """Start a new execution of a deployed flow, chosen by tag or by version (neither: the
    `default` tag), and return at once with its exec_id. Inputs override the deploy-time
    values.

    Errors say what is wrong: no deployments, none routed as default, unknown tag or version,
    or a shared tag on several versions (pick a version). Pass wait_seconds (up to 60) to
    follow the run with progress notifications. Next: kitaru_executions_get (poll) and
    kitaru_executions_logs."""
    import anyio

    from kitaru_core.services import deployments

    def invoke() -> StartedExecution:
        return deployments.invoke(flow, version=version, tag=tag, inputs=inputs)

    started = await anyio.to_thread.run_sync(invoke)
    return await follow(ctx, started, wait_seconds)


def kitaru_deployments_list(
    flow: Annotated[
        str | None,
        Field(
            description="Only this flow's versions (its name), oldest first. Omit it to list "
            "the deployments of every flow, newest first.",
            examples=["research_agent"],
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> DeploymentPage:
    """List deployed versions with their routing tags (name, exclusive), stack, saved inputs
    and input schema; `local` marks development deployments. With `flow`: that flow's
    versions, oldest first. Without it: every flow's deployments, newest first — the answer
    to "what is deployed?".

    Use it to see the routes before invoking or moving tags. Next: kitaru_deployments_get for
    one version; {tool:kitaru_deployments_invoke|invoke one};
    {tool:kitaru_deployments_tag|move a tag}. Paged: pass `next_cursor` back as `cursor`."""
    from kitaru_core.services import deployments

    name = (flow or "").strip()
    items = deployments.list_deployments(name or None)
    # The cursor kind names the list, so a cursor from one flow's list is refused on another.
    kind = f"deployments:{name}" if name else "deployments:*"
    return paginate(DeploymentPage, items, kind=kind, limit=limit, cursor=cursor)


def kitaru_deployments_get(
    flow: FlowName, version: Version = None, tag: TagSelector = None
) -> Deployment:
    """The one deployed version a tag or version selects (neither: the `default` tag), with
    its tags, stack, saved inputs and input schema.

    Use it to check where a route points before invoking. Next:
    {tool:kitaru_deployments_invoke|invoke it}, or kitaru_deployments_curl for a shell command."""
    from kitaru_core.services import deployments

    return deployments.get(flow, version=version, tag=tag)


def kitaru_deployments_tag(
    flow: FlowName,
    tag: TagName,
    version: Annotated[int, Field(ge=1, description="The version to tag (1, 2, …).", examples=[2])],
    exclusive: Exclusive = False,
) -> Deployment:
    """Route a tag to a version. An exclusive tag (always so for `default`) moves from
    whichever version held it; a shared tag is added alongside others. Using a tag with the
    other mode than it already has in this flow is invalid_state.

    Use it to promote a tested version (e.g. stable → 2). Next: kitaru_deployments_list to
    review the routes, kitaru_deployments_invoke with the tag."""
    from kitaru_core.services import deployments

    return deployments.tag(flow, tag, version=version, exclusive=exclusive)


def kitaru_deployments_untag(
    flow: FlowName,
    tag: TagName,
    version: Annotated[
        int, Field(ge=1, description="The version to remove the tag from.", examples=[2])
    ],
) -> Deployment:
    """Remove a routing tag from a version. `default` cannot be removed, only moved with
    kitaru_deployments_tag; a tag the version does not carry is invalid_state.

    Consumers invoking by this tag will fail afterwards; confirm first. Next:
    kitaru_deployments_list."""
    from kitaru_core.services import deployments

    return deployments.untag(flow, tag, version=version)


def kitaru_deployments_delete(
    flow: FlowName, version: Version = None, tag: TagSelector = None
) -> Deployment:
    """Delete one deployed version (chosen by version or tag) and return it as it was. A
    version holding any exclusive tag (default, stable, …) is refused — move those tags first
    with kitaru_deployments_tag. Past executions are kept.

    Confirm with the user first. Next: kitaru_deployments_list to check what remains."""
    from kitaru_core.services import deployments

    return deployments.delete(flow, version=version, tag=tag)


def kitaru_deployments_curl(
    flow: FlowName, version: Version = None, tag: TagSelector = None, inputs: Inputs = None
) -> CurlCommand:
    """A copy-pasteable shell command that starts the selected version on the active Kitaru
    server. The tag is resolved now, so the command is pinned to that version; it gets a
    short-lived token with `kitaru auth token` (no token is inlined).

    Refused for local development deployments and without a server connection (see
    kitaru_status); {tool:kitaru_deployments_invoke|invoke it} instead."""
    from kitaru_core.services import deployments

    return deployments.curl(flow, version=version, tag=tag, inputs=inputs)


TOOLS = (
    kitaru_deployments_deploy,
    kitaru_deployments_invoke,
    kitaru_deployments_list,
    kitaru_deployments_get,
    kitaru_deployments_tag,
    kitaru_deployments_untag,
    kitaru_deployments_delete,
    kitaru_deployments_curl,
)
