"""Fixtures shared by the scale tests (``test_concurrency_local.py``, ``test_crash_points.py``):
import them into a test module to use them there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kitaru_core.runtime import detach


@pytest.fixture(scope="module", autouse=True)
def warm_pool() -> Iterator[None]:
    """Forked workers start in a fraction of a second, so many executions stay cheap."""
    detach.warm_zygote()
    yield


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    """An empty folder for the checkpoints' marker files."""
    folder = tmp_path / "marks"
    folder.mkdir()
    return str(folder)
