"""The one mapping from ZenML execution statuses to Kitaru's five public statuses.

Keyed by ZenML's status *values* (``"completed"``, …) so that it needs no ZenML import: the
store's view builders (``store/views.py``) map every adapter's raw values with it.
"""

from __future__ import annotations

from kitaru_core.models import ExecutionStatus

# Every ZenML status must appear here exactly once; a test fails when ZenML adds one.
STATUS_MAP: dict[str, ExecutionStatus] = {
    "initializing": ExecutionStatus.RUNNING,
    "provisioning": ExecutionStatus.RUNNING,
    "queued": ExecutionStatus.RUNNING,
    "running": ExecutionStatus.RUNNING,
    "resuming": ExecutionStatus.RUNNING,
    # A retrying checkpoint is still being worked on; a retried attempt was superseded.
    "retrying": ExecutionStatus.RUNNING,
    "retried": ExecutionStatus.FAILED,
    "paused": ExecutionStatus.WAITING,
    "completed": ExecutionStatus.COMPLETED,
    "cached": ExecutionStatus.COMPLETED,
    "skipped": ExecutionStatus.COMPLETED,
    "failed": ExecutionStatus.FAILED,
    # Stopping/cancelling are on their way to cancelled; showing the destination avoids a
    # "running" execution that the user already cancelled.
    "stopping": ExecutionStatus.CANCELLED,
    "stopped": ExecutionStatus.CANCELLED,
    "cancelling": ExecutionStatus.CANCELLED,
    "cancelled": ExecutionStatus.CANCELLED,
}

# Statuses of a run whose process may still be working on it (crash detection checks these).
ACTIVE = frozenset({"initializing", "provisioning", "queued", "running", "resuming", "stopping"})


def to_public(status: str) -> ExecutionStatus:
    """The public status of a ZenML status (an enum member or its value)."""
    try:
        return STATUS_MAP[str(getattr(status, "value", status))]
    except KeyError:
        raise ValueError(f"'{status}' is not a known ZenML execution status") from None


def zenml_values(status: ExecutionStatus) -> list[str]:
    """The ZenML status values that show as ``status``."""
    return [value for value, public in STATUS_MAP.items() if public == status]
