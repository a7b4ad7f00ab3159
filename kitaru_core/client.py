"""``KitaruClient``: the SDK's handle on executions, artifacts, stacks and deployments.

A thin object over ``kitaru_core.services``; every rule lives there.
"""

from __future__ import annotations

from typing import Any

from kitaru_core.models import (
    ArtifactInfo,
    CurlCommand,
    Deployment,
    Execution,
    ExecutionStatus,
    FlowInfo,
    LogEntry,
    ReplayPlan,
    StackInfo,
    WaitInfo,
)
from kitaru_core.runtime.handle import FlowHandle

# Inside the API classes ``list`` names a method, so list types are spelled out here.
ExecutionList = list[Execution]
LogList = list[LogEntry]
WaitList = list[WaitInfo]
ArtifactList = list[ArtifactInfo]
StackList = list[StackInfo]
DeploymentList = list[Deployment]
FlowList = list[FlowInfo]


class ExecutionsAPI:
    """Inspect executions, answer their waits, and continue, re-run or stop them."""

    def get(self, exec_id: str) -> Execution:
        from kitaru_core.services import executions

        return executions.get(exec_id)

    def list(
        self,
        *,
        flow: str | None = None,
        status: str | ExecutionStatus | None = None,
        stack: str | None = None,
        limit: int | None = None,
    ) -> ExecutionList:
        from kitaru_core.services import executions

        items, _ = executions.list_executions(flow=flow, status=status, stack=stack, limit=limit)
        return items

    def latest(
        self,
        *,
        flow: str | None = None,
        status: str | ExecutionStatus | None = None,
        stack: str | None = None,
    ) -> Execution:
        from kitaru_core.services import executions

        return executions.latest(flow=flow, status=status, stack=stack)

    def logs(
        self, exec_id: str, *, checkpoint: str | None = None, limit: int | None = None
    ) -> LogList:
        from kitaru_core.services import executions

        entries, _ = executions.logs(exec_id, checkpoint=checkpoint, limit=limit)
        return entries

    def waiting(self) -> WaitList:
        from kitaru_core.services import executions

        return executions.waiting()

    def input(
        self, exec_id: str, wait: str | None = None, value: Any = None, *, resume: bool = True
    ) -> Execution:
        from kitaru_core.services import executions

        return executions.input(exec_id, wait=wait, value=value, resume=resume)

    def abort_wait(self, exec_id: str, wait: str | None = None) -> Execution:
        from kitaru_core.services import executions

        return executions.abort_wait(exec_id, wait=wait)

    def resume(self, exec_id: str) -> FlowHandle:
        from kitaru_core.services import executions

        return FlowHandle(executions.resume(exec_id).exec_id)

    def retry(self, exec_id: str) -> FlowHandle:
        from kitaru_core.services import execution_control

        return FlowHandle(execution_control.retry(exec_id).exec_id)

    def replay(
        self,
        exec_id: str,
        from_: str | None = None,
        overrides: dict[str, Any] | None = None,
        flow_inputs: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> FlowHandle | ReplayPlan:
        from kitaru_core.services import execution_control

        outcome = execution_control.replay(
            exec_id, from_=from_, overrides=overrides, flow_inputs=flow_inputs, dry_run=dry_run
        )
        return outcome if isinstance(outcome, ReplayPlan) else FlowHandle(outcome.exec_id)

    def cancel(self, exec_id: str) -> Execution:
        from kitaru_core.services import execution_control

        return execution_control.cancel(exec_id)


class ArtifactsAPI:
    """Read what executions stored."""

    def list(
        self, exec_id: str, *, name: str | None = None, limit: int | None = None
    ) -> ArtifactList:
        from kitaru_core.services import artifacts

        return artifacts.list_artifacts(exec_id, name=name, limit=limit)

    def get(self, artifact_id: str) -> ArtifactInfo:
        from kitaru_core.services import artifacts

        return artifacts.get(artifact_id)


class StacksAPI:
    """The stack lines of the client (same as the module-level stack helpers)."""

    def list(self) -> StackList:
        from kitaru_core.sdk_stacks import list_stacks

        return list_stacks()

    def current(self) -> StackInfo:
        from kitaru_core.sdk_stacks import current_stack

        return current_stack()

    def use(self, name_or_id: str) -> StackInfo:
        from kitaru_core.sdk_stacks import use_stack

        return use_stack(name_or_id)


class DeploymentsAPI:
    """Deploy flows as versions, route them with tags, and invoke them by flow name."""

    def deploy(
        self,
        target: str,
        *,
        inputs: dict[str, Any] | None = None,
        tag: str = "default",
        exclusive: bool = False,
        stack: str | None = None,
        allow_local: bool = False,
    ) -> Deployment:
        from kitaru_core.services import deployments

        return deployments.deploy(
            target,
            inputs=inputs,
            tag=tag,
            exclusive=exclusive,
            stack=stack,
            allow_local=allow_local,
        )

    def list(self, flow: str | None = None) -> DeploymentList:
        """``flow``'s versions, oldest first; without ``flow``, every flow's, newest first."""
        from kitaru_core.services import deployments

        return deployments.list_deployments(flow)

    def get(self, flow: str, *, version: int | None = None, tag: str | None = None) -> Deployment:
        from kitaru_core.services import deployments

        return deployments.get(flow, version=version, tag=tag)

    def invoke(
        self,
        flow: str,
        *,
        version: int | None = None,
        tag: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> FlowHandle:
        from kitaru_core.services import deployments

        started = deployments.invoke(flow, version=version, tag=tag, inputs=inputs)
        return FlowHandle(started.exec_id)

    def tag(self, flow: str, tag: str, *, version: int, exclusive: bool = False) -> Deployment:
        from kitaru_core.services import deployments

        return deployments.tag(flow, tag, version=version, exclusive=exclusive)

    def untag(self, flow: str, tag: str, *, version: int) -> Deployment:
        from kitaru_core.services import deployments

        return deployments.untag(flow, tag, version=version)

    def delete(
        self, flow: str, *, version: int | None = None, tag: str | None = None
    ) -> Deployment:
        from kitaru_core.services import deployments

        return deployments.delete(flow, version=version, tag=tag)

    def curl(
        self,
        flow: str,
        *,
        version: int | None = None,
        tag: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> CurlCommand:
        from kitaru_core.services import deployments

        return deployments.curl(flow, version=version, tag=tag, inputs=inputs)


class FlowsAPI:
    """The flows the store knows (they ran or were deployed)."""

    def list(self, *, limit: int | None = None) -> FlowList:
        """Flows by name, each with its target, parameters, last execution and deployments."""
        from kitaru_core.services import flows

        items, _ = flows.list_flows(limit=limit)
        return items


class KitaruClient:
    """Entry point for managing executions from Python (``KitaruClient().executions.get(...)``)."""

    def __init__(self) -> None:
        self.executions = ExecutionsAPI()
        self.artifacts = ArtifactsAPI()
        self.stacks = StacksAPI()
        self.deployments = DeploymentsAPI()
        self.flows = FlowsAPI()
