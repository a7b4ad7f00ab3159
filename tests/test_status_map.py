"""Every ZenML execution status maps to exactly one of the five public statuses (SPEC §1.4)."""

from __future__ import annotations

import pytest
from zenml.enums import ExecutionStatus as ZenStatus

from kitaru_core.backend.status import STATUS_MAP, to_public
from kitaru_core.models import ExecutionStatus


@pytest.mark.parametrize("zen_status", list(ZenStatus), ids=lambda status: status.value)
def test_every_zenml_status_is_mapped(zen_status: ZenStatus) -> None:
    # A status that a new ZenML release adds fails here until it is mapped on purpose.
    assert zen_status in STATUS_MAP
    assert isinstance(STATUS_MAP[zen_status], ExecutionStatus)
    assert to_public(zen_status.value) is STATUS_MAP[zen_status]


def test_the_map_holds_only_zenml_statuses() -> None:
    assert set(STATUS_MAP) == set(ZenStatus)


def test_the_public_statuses_are_the_five_words() -> None:
    assert [status.value for status in ExecutionStatus] == [
        "running",
        "waiting",
        "completed",
        "failed",
        "cancelled",
    ]
    assert str(ExecutionStatus.WAITING) == "waiting"
    assert f"{ExecutionStatus.COMPLETED}" == "completed"


@pytest.mark.parametrize(
    ("zen_status", "public"),
    [
        (ZenStatus.PAUSED, ExecutionStatus.WAITING),
        (ZenStatus.CACHED, ExecutionStatus.COMPLETED),
        (ZenStatus.SKIPPED, ExecutionStatus.COMPLETED),
        (ZenStatus.COMPLETED, ExecutionStatus.COMPLETED),
        (ZenStatus.STOPPED, ExecutionStatus.CANCELLED),
        (ZenStatus.CANCELLED, ExecutionStatus.CANCELLED),
        (ZenStatus.FAILED, ExecutionStatus.FAILED),
        (ZenStatus.RUNNING, ExecutionStatus.RUNNING),
        (ZenStatus.RESUMING, ExecutionStatus.RUNNING),
        (ZenStatus.INITIALIZING, ExecutionStatus.RUNNING),
    ],
    ids=lambda value: value.value,
)
def test_spot_checks(zen_status: ZenStatus, public: ExecutionStatus) -> None:
    assert STATUS_MAP[zen_status] is public


def test_every_public_status_is_reachable() -> None:
    assert set(STATUS_MAP.values()) == set(ExecutionStatus)


def test_an_unknown_status_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError):
        to_public("teleporting")
