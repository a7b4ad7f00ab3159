"""Deployment operations: deploy versions, route them with tags, invoke, inspect, delete."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitaru_core.errors import KitaruError, KitaruStateError, KitaruUsageError, translate_exception
from kitaru_core.hints import Hint
from kitaru_core.jobs import RunJob
from kitaru_core.models import CurlCommand, Deployment, StartedExecution
from kitaru_core.requests.deployments import (
    DEFAULT_TAG,
    check_deletable,
    check_selector,
    check_tag,
    check_tag_mode,
    check_untag,
    effective_exclusive,
    next_version,
    remote_guard_message,
    resolve_selector,
    runs_remotely,
)

if TYPE_CHECKING:
    from kitaru_core.runtime.flow import Flow


def _versions(flow: str) -> tuple[list[Any], list[Any]]:
    from kitaru_core.backend import deployments as backend

    snapshots = backend.list_snapshots(flow)
    return snapshots, backend.version_tags(snapshots)


def _target_of(flow: Flow) -> str:
    import sys

    module = sys.modules.get(flow.func.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        raise KitaruUsageError(
            f"Flow '{flow.name}' is not defined in a file, so it cannot be deployed.",
            hint="Define the flow in a .py file and deploy it from there.",
        )
    return f"{Path(file).resolve()}:{flow.name}"


def deploy(
    flow_or_target: Flow | str,
    *,
    inputs: dict[str, Any] | None = None,
    tag: str = DEFAULT_TAG,
    exclusive: bool = False,
    stack: str | None = None,
    allow_local: bool = False,
) -> Deployment:
    """Save an immutable, numbered version of a flow with one routing tag.

    The flow's first version is always routed as ``default`` as well.
    """
    from pydantic_core import to_jsonable_python

    from kitaru_core.backend import deployments as backend
    from kitaru_core.config.resolver import ExecutionOverrides
    from kitaru_core.runtime import launcher
    from kitaru_core.runtime.flow import Flow
    from kitaru_core.runtime.loader import load_flow

    tag = check_tag(tag)
    exclusive = effective_exclusive(tag, exclusive)
    flow = flow_or_target if isinstance(flow_or_target, Flow) else load_flow(flow_or_target)[0]
    inputs = flow.bind_inputs((), dict(inputs or {}))
    config = launcher.resolve_config(flow, ExecutionOverrides.build(stack=stack, source="deploy"))
    stack_id = launcher.stack_id(str(config.stack.value))
    local = not runs_remotely(backend.orchestrator_flavors(stack_id))
    if local and not allow_local:
        raise remote_guard_message(str(config.stack.value))
    _, versions = _versions(flow.name)
    check_tag_mode(flow.name, versions, tag=tag, exclusive=exclusive)
    info = {
        "flow": flow.name,
        # JSON as pydantic renders it (models → dicts), so that a later invocation can pass
        # the saved value back to the flow; str() of a model would not validate again.
        "inputs": to_jsonable_python(inputs, fallback=str),
        "input_schema": flow.input_schema(),
        "local": local,
        "stack": str(config.stack.value),
        "target": _target_of(flow),
    }
    if local:
        # A version is a saved copy (seed 004): a local one keeps its source, so that editing
        # or deleting the file later does not change what the version runs.
        root = launcher.flow_source_root(flow)
        info["source"] = backend.save_source(str(info["target"]), root, stack_id)
    launcher.use_source_root(launcher.flow_source_root(flow))
    pipeline = launcher.configured_pipeline(
        flow, config, local=launcher.is_local_stack(stack_id), extra={backend.DEPLOYMENT_KEY: info}
    ).with_options(parameters=inputs)
    with launcher.temporary_stack(stack_id):
        try:
            version, snapshot = backend.create_version(
                flow.name, pipeline, next_version([v.version for v in versions])
            )
        except Exception as exc:
            raise _not_saved(flow.name, str(config.stack.value), exc) from exc
    if version == 1:
        backend.add_tag(str(snapshot.id), DEFAULT_TAG, True)
    if version != 1 or tag != DEFAULT_TAG:
        backend.add_tag(str(snapshot.id), tag, exclusive)
    return get(flow.name, version=version)


def _not_saved(flow: str, stack: str, exc: Exception) -> KitaruError:
    """Why ZenML could not save the snapshot, as a Kitaru error naming the flow and the stack.

    The snapshot is compiled on this machine, so a remote stack needs its ZenML integrations
    here (e.g. ``s3fs`` for an S3 artifact store) and a working image build.
    """
    if isinstance(exc, KitaruError):
        return exc
    error = translate_exception(exc)
    reason, _, advice = error.message.partition("\n")
    error.message = f"Could not save a deployment of flow '{flow}' on stack '{stack}': {reason}"
    if isinstance(exc, ImportError):
        error.hint = advice.strip() or (
            f"Install the ZenML integrations of stack '{stack}' on this machine."
        )
    error.details = {**error.details, "flow": flow, "stack": stack}
    return error


def list_deployments(flow: str | None = None) -> list[Deployment]:
    """``flow``'s deployed versions, oldest first; without a flow (or a blank one), every
    flow's deployments, newest first ("what is deployed?")."""
    from kitaru_core.backend import deployments as backend

    name = (flow or "").strip()
    snapshots = backend.list_snapshots(name) if name else backend.list_all_snapshots()
    return [backend.to_deployment(s) for s in snapshots]


def _resolve(flow: str, version: int | None, tag: str | None) -> tuple[Any, int]:
    snapshots, versions = _versions(flow)
    chosen = resolve_selector(flow, versions, version=version, tag=tag)
    index = [v.version for v in versions].index(chosen)
    return snapshots[index], chosen


def get(flow: str, *, version: int | None = None, tag: str | None = None) -> Deployment:
    from kitaru_core.backend import deployments as backend

    snapshot, _ = _resolve(flow, version, tag)
    return backend.to_deployment(snapshot)


def tag(flow: str, tag: str, *, version: int, exclusive: bool = False) -> Deployment:
    """Route ``tag`` to ``version``; an exclusive tag moves there atomically."""
    from kitaru_core.backend import deployments as backend

    tag = check_tag(tag)
    exclusive = effective_exclusive(tag, exclusive)
    _, versions = _versions(flow)
    snapshot, chosen = _resolve(flow, version, None)
    check_tag_mode(flow, versions, tag=tag, exclusive=exclusive)
    backend.add_tag(str(snapshot.id), tag, exclusive)
    return get(flow, version=chosen)


def untag(flow: str, tag: str, *, version: int) -> Deployment:
    from kitaru_core.backend import deployments as backend

    tag = check_tag(tag)
    check_untag(tag)
    snapshot, chosen = _resolve(flow, version, None)
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

    snapshot, _ = _resolve(flow, version, tag)
    item = backend.version_tags([snapshot])[0]
    check_deletable(flow, item)
    deployment = backend.to_deployment(snapshot)
    backend.delete(str(snapshot.id))
    return deployment


def _check_input_names(deployment: Deployment, inputs: dict[str, Any]) -> None:
    """Refuse inputs the flow does not take, from the saved schema: the consumer has no code
    to check against, and a worker or the server would only fail later, less clearly."""
    known = deployment.input_schema.get("properties")
    if not isinstance(known, dict):
        return
    unknown = sorted(set(inputs) - set(known))
    if unknown:
        raise KitaruUsageError(
            f"Flow '{deployment.flow}' has no input named {', '.join(map(repr, unknown))}.",
            hint=f"Its inputs: {', '.join(sorted(known)) or 'none'}.",
            details={"flow": deployment.flow, "unknown": unknown, "inputs": sorted(known)},
        )


def invoke(
    flow: str,
    *,
    version: int | None = None,
    tag: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> StartedExecution:
    """Start a normal execution of the selected version; invocation inputs win."""
    from kitaru_core.backend import deployments as backend
    from kitaru_core.models import ExecutionStatus
    from kitaru_core.runtime.detach import start_job

    if inputs is not None and not isinstance(inputs, dict):
        raise KitaruUsageError("inputs must be a mapping of flow parameter names to values.")
    snapshot, _ = _resolve(flow, version, tag)
    deployment = backend.to_deployment(snapshot)
    _check_input_names(deployment, inputs or {})
    merged = {**deployment.inputs, **(inputs or {})}
    if not deployment.local:
        exec_id = backend.trigger_remote(deployment.snapshot_id, merged)
        return StartedExecution(exec_id=exec_id, status=ExecutionStatus.RUNNING, flow=flow)
    job = RunJob(
        target=backend.local_target(snapshot),  # the copy saved at deploy time
        inputs=merged,
        stack=deployment.stack,
        extra={"kitaru_deployment_version": deployment.version},
    )
    exec_id, log_file = start_job(job)
    return StartedExecution(
        exec_id=exec_id, status=ExecutionStatus.RUNNING, flow=flow, log_file=str(log_file)
    )


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
