"""Helpers shared by the runtime tests (flows live in ``tests/flows/``).

Every flow run costs about a second, so tests share these helpers rather than building their own
polling loops, and pass a fresh ``salt`` to every flow so that no two tests share a cache entry
(tests run in parallel under xdist, each worker with its own store).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent


def new_salt() -> str:
    return uuid.uuid4().hex


def execution(exec_id: str) -> Any:
    """The Kitaru view (``kitaru_core.models.Execution``) of one execution."""
    from kitaru_core.backend.runs import get_run, to_execution

    return to_execution(get_run(exec_id))


def checkpoint_calls(exec_id: str) -> dict[str, Any]:
    """``call_id`` → ``CheckpointCall`` of one execution."""
    return {call.call_id: call for call in execution(exec_id).checkpoints}


def run_count(client: Any) -> int:
    return int(client.list_pipeline_runs(size=1).total)


def pending_wait(client: Any, salt: str, *, timeout: float = 60.0) -> Any:
    """The pending wait condition whose metadata carries ``salt`` (polls until it exists)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conditions = client.list_run_wait_conditions(
            status="pending", hydrate=True, sort_by="desc:created", size=50
        )
        for condition in conditions.items:
            if (condition.run_metadata or {}).get("salt") == salt:
                return condition
        time.sleep(0.1)
    raise AssertionError(f"no pending wait with salt {salt} appeared within {timeout} s")


def only_wait_of(client: Any, exec_id: str) -> Any:
    """The single wait condition of a paused execution."""
    conditions = client.list_run_wait_conditions(pipeline_run=exec_id, hydrate=True).items
    assert len(conditions) == 1, conditions
    return conditions[0]


class BackgroundRun:
    """``flow.run(...)`` in a thread, so the test can answer its ``wait()`` meanwhile."""

    def __init__(self, flow: Any, *args: Any, **kwargs: Any) -> None:
        self.handle: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._target, args=(flow, args, kwargs), name="kitaru-test-flow", daemon=True
        )
        self._thread.start()

    def _target(self, flow: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            self.handle = flow.run(*args, **kwargs)
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float = 120.0) -> Any:
        """Wait for ``run()`` to return and give back its handle."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the flow did not return in time"
        if self.error is not None:
            raise self.error
        return self.handle


# Fixtures: a test module imports these by their function names and asks for them by ``name``
# (so the import does not clash with the argument name).


@pytest.fixture(name="workdir")
def workdir_fixture(tmp_path: Path) -> str:
    """A folder for a flow's marker and call-count files."""
    folder = tmp_path / "flow-work"
    folder.mkdir()
    return str(folder)


@pytest.fixture(name="fresh_configure")
def fresh_configure_fixture() -> Iterator[None]:
    """Forget ``configure()`` calls after the test (they are process-wide)."""
    from kitaru_core.config.resolver import reset_configured_defaults

    reset_configured_defaults()
    yield
    reset_configured_defaults()
