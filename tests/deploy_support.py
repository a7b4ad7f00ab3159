"""Shared helpers of the deployment tests: routes, tag holders, and refusals that change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from runtime_helpers import TESTS_DIR

from kitaru_core import KitaruError
from kitaru_core.models import Deployment
from kitaru_core.services import deployments

FLOWS_DIR = TESTS_DIR / "flows_deploy"
ROUTING_FILE = FLOWS_DIR / "routing.py"
RUN_TIMEOUT = 120.0

Routes = list[tuple[int, list[tuple[str, bool]]]]


def routes(flow: str) -> Routes:
    """Every version of ``flow`` with its sorted ``(tag, exclusive)`` pairs."""
    return [
        (item.version, sorted((tag.name, tag.exclusive) for tag in item.tags))
        for item in deployments.list_deployments(flow)
    ]


def tags_of(item: Deployment) -> dict[str, bool]:
    return {tag.name: tag.exclusive for tag in item.tags}


def holders(flow: str, tag: str) -> list[int]:
    return [item.version for item in deployments.list_deployments(flow) if tag in tags_of(item)]


def refused(
    error_type: type[KitaruError], flow: str, call: Any, *args: Any, **kwargs: Any
) -> KitaruError:
    """Run a call that must be refused and prove it changed no version and no tag."""
    before = routes(flow)
    with pytest.raises(error_type) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, error_type)
    assert routes(flow) == before
    return info.value


def snapshot_names(client: Any, flow: str) -> list[str]:
    page = client.list_snapshots(name=f"startswith:kitaru::{flow}::", size=100)
    return sorted(str(item.name) for item in page.items)
