"""Deployment versions of a flow: save one, look one up, invoke it (``DeployedFlow``).

These are the steps ``Flow.deploy()``, ``Flow.deployment()`` and ``DeployedFlow.invoke()``
take, so they live here, below the services; ``services/deployments.py`` offers them to every
surface together with the operations that only route and inspect versions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Protocol

from kitaru_core.errors import KitaruError, KitaruUsageError, translate_exception
from kitaru_core.jobs import RunJob
from kitaru_core.models import Deployment, ExecutionStatus, StartedExecution
from kitaru_core.requests.deployments import (
    DEFAULT_TAG,
    check_tag,
    check_tag_mode,
    effective_exclusive,
    next_version,
    remote_guard_message,
    resolve_selector,
    runs_remotely,
)
from kitaru_core.runtime.handle import FlowHandle
from kitaru_core.runtime.launcher import LaunchableFlow


class DeployableFlow(LaunchableFlow, Protocol):
    """What deploying needs of a ``@flow`` (``runtime.flow.Flow`` imports this module, so it
    is described here rather than imported)."""

    def bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]: ...

    def input_schema(self) -> dict[str, Any]: ...


class DeployedFlow:
    """A deployment version pinned at the time it was looked up."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    @property
    def flow(self) -> str:
        return self.deployment.flow

    @property
    def version(self) -> int:
        return self.deployment.version

    def __repr__(self) -> str:
        return f"DeployedFlow(flow={self.flow!r}, version={self.version})"

    def invoke(self, **inputs: Any) -> FlowHandle:
        """Start a new execution of this version; ``inputs`` override the deploy-time ones."""
        started = invoke(self.flow, version=self.version, inputs=inputs)
        return FlowHandle(started.exec_id)


def versions(flow: str) -> tuple[list[Any], list[Any]]:
    """The flow's deployment snapshots, oldest first, and their versions with tags."""
    from kitaru_core.backend import deployments as backend

    snapshots = backend.list_snapshots(flow)
    return snapshots, backend.version_tags(snapshots)


def resolve(flow: str, version: int | None, tag: str | None) -> tuple[Any, int]:
    """The snapshot a selector (a version, a tag, or neither: ``default``) routes to."""
    snapshots, known = versions(flow)
    chosen = resolve_selector(flow, known, version=version, tag=tag)
    index = [v.version for v in known].index(chosen)
    return snapshots[index], chosen


def get(flow: str, *, version: int | None = None, tag: str | None = None) -> Deployment:
    from kitaru_core.backend import deployments as backend

    snapshot, _ = resolve(flow, version, tag)
    return backend.to_deployment(snapshot)


def _target_of(flow: DeployableFlow) -> str:
    module = sys.modules.get(flow.func.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        raise KitaruUsageError(
            f"Flow '{flow.name}' is not defined in a file, so it cannot be deployed.",
            hint="Define the flow in a .py file and deploy it from there.",
        )
    return f"{Path(file).resolve()}:{flow.name}"


def deploy(
    flow: DeployableFlow,
    *,
    inputs: dict[str, Any] | None = None,
    tag: str = DEFAULT_TAG,
    exclusive: bool = False,
    stack: str | None = None,
    allow_local: bool = False,
) -> Deployment:
    """Save an immutable, numbered version of ``flow`` with one routing tag.

    The flow's first version is always routed as ``default`` as well.
    """
    from pydantic_core import to_jsonable_python

    from kitaru_core.backend import deployments as backend
    from kitaru_core.backend.source_root import module_source_root, use_source_root
    from kitaru_core.backend.stack_lookup import is_local_stack, stack_id, temporary_stack
    from kitaru_core.config.resolver import ExecutionOverrides
    from kitaru_core.runtime import launcher

    tag = check_tag(tag)
    exclusive = effective_exclusive(tag, exclusive)
    inputs = flow.bind_inputs((), dict(inputs or {}))
    config = launcher.resolve_config(flow, ExecutionOverrides.build(stack=stack, source="deploy"))
    stack_uuid = stack_id(str(config.stack.value))
    local = not runs_remotely(backend.orchestrator_flavors(stack_uuid))
    if local and not allow_local:
        raise remote_guard_message(str(config.stack.value))
    _, known = versions(flow.name)
    check_tag_mode(flow.name, known, tag=tag, exclusive=exclusive)
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
    root = module_source_root(flow.func.__module__)
    if local:
        # A version is a saved copy (seed 004): a local one keeps its source, so that editing
        # or deleting the file later does not change what the version runs.
        info["source"] = backend.save_source(str(info["target"]), root, stack_uuid)
    use_source_root(root)
    pipeline = launcher.configured_pipeline(
        flow, config, local=is_local_stack(stack_uuid), extra={backend.DEPLOYMENT_KEY: info}
    ).with_options(parameters=inputs)
    with temporary_stack(stack_uuid):
        try:
            version, snapshot = backend.create_version(
                flow.name, pipeline, next_version([v.version for v in known])
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
    from kitaru_core.runtime.detach import start_job

    if inputs is not None and not isinstance(inputs, dict):
        raise KitaruUsageError("inputs must be a mapping of flow parameter names to values.")
    snapshot, _ = resolve(flow, version, tag)
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
