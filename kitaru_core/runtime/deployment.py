"""``DeployedFlow``: one pinned deployment version that can be invoked."""

from __future__ import annotations

from typing import Any

from kitaru_core.models import Deployment
from kitaru_core.runtime.handle import FlowHandle


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
        from kitaru_core.services import deployments

        started = deployments.invoke(self.flow, version=self.version, inputs=inputs)
        return FlowHandle(started.exec_id)
