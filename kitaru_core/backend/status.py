"""The one mapping from ZenML execution statuses to Kitaru's five public statuses."""

from __future__ import annotations

from zenml.enums import ExecutionStatus as ZenStatus

from kitaru_core.models import ExecutionStatus

# Every ZenML status must appear here exactly once; a test fails when ZenML adds one.
STATUS_MAP: dict[ZenStatus, ExecutionStatus] = {
    ZenStatus.INITIALIZING: ExecutionStatus.RUNNING,
    ZenStatus.PROVISIONING: ExecutionStatus.RUNNING,
    ZenStatus.QUEUED: ExecutionStatus.RUNNING,
    ZenStatus.RUNNING: ExecutionStatus.RUNNING,
    ZenStatus.RESUMING: ExecutionStatus.RUNNING,
    # A retrying checkpoint is still being worked on; a retried attempt was superseded.
    ZenStatus.RETRYING: ExecutionStatus.RUNNING,
    ZenStatus.RETRIED: ExecutionStatus.FAILED,
    ZenStatus.PAUSED: ExecutionStatus.WAITING,
    ZenStatus.COMPLETED: ExecutionStatus.COMPLETED,
    ZenStatus.CACHED: ExecutionStatus.COMPLETED,
    ZenStatus.SKIPPED: ExecutionStatus.COMPLETED,
    ZenStatus.FAILED: ExecutionStatus.FAILED,
    # Stopping/cancelling are on their way to cancelled; showing the destination avoids a
    # "running" execution that the user already cancelled.
    ZenStatus.STOPPING: ExecutionStatus.CANCELLED,
    ZenStatus.STOPPED: ExecutionStatus.CANCELLED,
    ZenStatus.CANCELLING: ExecutionStatus.CANCELLED,
    ZenStatus.CANCELLED: ExecutionStatus.CANCELLED,
}


def to_public(status: ZenStatus | str) -> ExecutionStatus:
    return STATUS_MAP[ZenStatus(status)]
