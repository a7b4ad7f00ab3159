"""Deployment operations: deploy versions, route them with tags, invoke, inspect, delete."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from kitaru_core.errors import KitaruStateError
from kitaru_core.hints import Hint
from kitaru_core.models import CurlCommand, Deployment, StartedExecution
from kitaru_core.requests.deployments import (
    DEFAULT_TAG,
    check_deletable,
    check_selector,
    check_tag,
    check_tag_mode,
    check_untag,
    effective_exclusive,
)

if TYPE_CHECKING:
    from kitaru_core.runtime.flow import Flow


def deploy(
    flow_or_target: Flow | str,
    *,
    inputs: dict[str, Any] | None = None,
    tag: str = DEFAULT_TAG,
    exclusive: bool = False,
    stack: str | None = None,
    allow_local: bool = False,
) -> Deployment:
    """Save an immutable, numbered version of a flow (or of the flow a target names) with one
    routing tag. The flow's first version is always routed as ``default`` as well."""
    from kitaru_core.runtime import deployment
    from kitaru_core.runtime.flow import Flow
    from kitaru_core.runtime.loader import load_flow

    check_tag(tag)  # a bad tag is refused before the target is imported
    flow = flow_or_target if isinstance(flow_or_target, Flow) else load_flow(flow_or_target)[0]
    return deployment.deploy(
        flow, inputs=inputs, tag=tag, exclusive=exclusive, stack=stack, allow_local=allow_local
    )


def list_deployments(flow: str | None = None) -> list[Deployment]:
    """``flow``'s deployed versions, oldest first; without a flow (or a blank one), every
    flow's deployments, newest first ("what is deployed?")."""
    from kitaru_core.backend import deployments as backend

    name = (flow or "").strip()
    snapshots = backend.list_snapshots(name) if name else backend.list_all_snapshots()
    return [backend.to_deployment(s) for s in snapshots]


def get(flow: str, *, version: int | None = None, tag: str | None = None) -> Deployment:
    """The deployment version a selector (a version, a tag, or ``default``) routes to."""
    from kitaru_core.runtime import deployment

    return deployment.get(flow, version=version, tag=tag)


def tag(flow: str, tag: str, *, version: int, exclusive: bool = False) -> Deployment:
    """Route ``tag`` to ``version``; an exclusive tag moves there atomically."""
    from kitaru_core.backend import deployments as backend
    from kitaru_core.runtime.deployment import resolve, versions

    tag = check_tag(tag)
    exclusive = effective_exclusive(tag, exclusive)
    _, known = versions(flow)
    snapshot, chosen = resolve(flow, version, None)
    check_tag_mode(flow, known, tag=tag, exclusive=exclusive)
    backend.add_tag(str(snapshot.id), tag, exclusive)
    return get(flow, version=chosen)


def untag(flow: str, tag: str, *, version: int) -> Deployment:
    from kitaru_core.backend import deployments as backend
    from kitaru_core.runtime.deployment import resolve

    tag = check_tag(tag)
    check_untag(tag)
    snapshot, chosen = resolve(flow, version, None)
    current = backend.version_tags([snapshot])[0].tags
    if tag not in current:
        raise KitaruStateError(
            f"Version {chosen} of flow '{flow}' has no tag '{tag}'.",
            hint=f"Its tags: {', '.join(sorted(current)) or 'none'}.",
            details={"flow": flow, "version": chosen, "tags": sorted(current)},
        )
    backend.remove_tag(str(snapshot.id), tag, current[tag])
    return get(flow, version=chosen)


def delete(flow: str, *, version: int | None = None, tag: str | None = None) -> Deployment:
    """Delete one version; a version that holds an exclusive tag is refused."""
    from kitaru_core.backend import deployments as backend
    from kitaru_core.runtime.deployment import resolve

    snapshot, _ = resolve(flow, version, tag)
    item = backend.version_tags([snapshot])[0]
    check_deletable(flow, item)
    deleted = backend.to_deployment(snapshot)
    backend.delete(str(snapshot.id))
    return deleted


def invoke(
    flow: str,
    *,
    version: int | None = None,
    tag: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> StartedExecution:
    """Start a normal execution of the selected version; invocation inputs win."""
    from kitaru_core.runtime import deployment

    return deployment.invoke(flow, version=version, tag=tag, inputs=inputs)


def curl(
    flow: str,
    *,
    version: int | None = None,
    tag: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> CurlCommand:
    """A shell command that starts the resolved version on the active server."""
    from kitaru_core.backend.bootstrap import server_url

    check_selector(version, tag)
    deployment = get(flow, version=version, tag=tag)
    if deployment.local:
        raise KitaruStateError(
            f"Version {deployment.version} of flow '{flow}' is a local development deployment; "
            "a server cannot start it.",
            hint=Hint(
                sdk="Deploy to a remote stack to invoke it over HTTP, or use "
                "`KitaruClient().deployments.invoke(flow)`.",
                cli="Deploy to a remote stack to invoke it over HTTP, or use `kitaru invoke FLOW`.",
                mcp="Deploy to a remote stack to invoke it over HTTP, or "
                "{tool:kitaru_deployments_invoke|invoke it}.",
            ),
        )
    url = server_url()
    if url is None:
        raise KitaruStateError(
            "curl needs a connection to a Kitaru server; this machine uses the local store.",
            hint=Hint(
                sdk="Connect first: `connect(server_url)`.",
                cli="Connect first: `kitaru login SERVER`.",
                mcp="Ask the user to connect to a Kitaru server first (see kitaru_status).",
            ),
        )
    body = json.dumps(
        {"run_configuration": {"parameters": {**deployment.inputs, **(inputs or {})}}}
    )
    endpoint = f"{url.rstrip('/')}/api/v1/pipeline_snapshots/{deployment.snapshot_id}/runs"
    command = (
        'TOKEN="$(kitaru auth token)"\n'
        f"curl -X POST {shlex.quote(endpoint)} \\\n"
        '  -H "Authorization: Bearer $TOKEN" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(body)}"
    )
    selector = f"tag '{tag or DEFAULT_TAG}'" if version is None else f"version {version}"
    warning = (
        f"This command is pinned to version {deployment.version} (resolved from {selector} now); "
        "regenerate it if the tag moves."
    )
    return CurlCommand(flow=flow, version=deployment.version, command=command, warning=warning)
