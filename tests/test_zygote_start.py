"""Starting executions through the warm pool quickly without changing what the caller sees.

- a job submitted while the pool is still warming up waits for it (no slow spawned worker);
- the worker reports the status and flow name with the exec_id, so ``start`` needs no read back;
- the worker collects garbage normally once it has reported (collection pauses only before).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kitaru_core.models import ExecutionStatus
from kitaru_core.runtime import detach
from kitaru_core.runtime.handle import FlowHandle
from kitaru_core.services import executions

FLOW = """
import gc
import os

from kitaru_core import checkpoint, flow


@checkpoint
def worker_facts(tag: str) -> dict:
    return {
        "tag": tag,
        "ppid": os.getppid(),
        "gc_enabled": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
    }


@flow
def facts(tag: str = "") -> dict:
    return worker_facts(tag)
"""


@pytest.fixture(scope="module")
def flow_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("zygote_start")
    (folder / "facts_flow.py").write_text(FLOW)
    return folder


@pytest.fixture(scope="module")
def cold_pool() -> Iterator[None]:
    """A pool that has just been started (still importing ZenML when the first job comes)."""
    previous = detach._zygote
    detach._zygote = None
    detach.warm_zygote()
    yield
    pool = detach._zygote
    assert pool is not None
    pool.process.kill()
    pool.process.wait(10)
    detach._zygote = previous


def test_a_job_waits_for_a_warming_pool_instead_of_spawning(
    cold_pool: None, flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A loaded test machine may need longer than the default wait to warm the pool up.
    monkeypatch.setattr(detach, "ZYGOTE_READY_WAIT", detach.START_TIMEOUT)
    pool = detach._zygote
    assert pool is not None and not pool.ready.is_set()  # the job below arrives during warm-up
    tag = uuid.uuid4().hex[:8]
    started = detach.launch_job(
        {
            "kind": "run",
            "target": "facts_flow.py:facts",
            "inputs": {"tag": tag},
            "cwd": str(flow_dir),
        }
    )
    facts = FlowHandle(started.exec_id).wait(timeout=120)
    assert facts["tag"] == tag
    # Forked by the pool, not spawned by this process.
    assert facts["ppid"] == pool.process.pid, f"pool usable: {pool.usable()}"


def test_the_worker_reports_status_and_flow_with_the_exec_id(
    cold_pool: None, flow_dir: Path
) -> None:
    started = detach.launch_job(
        {
            "kind": "run",
            "target": "facts_flow.py:facts",
            "inputs": {"tag": "x"},
            "cwd": str(flow_dir),
        }
    )
    assert started.status == ExecutionStatus.RUNNING.value
    assert started.flow == "facts"
    assert started.log_file.name == f"{started.exec_id}.log"
    FlowHandle(started.exec_id).wait(timeout=120)


def test_start_returns_what_the_store_says(
    cold_pool: None, flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(flow_dir)
    started = executions.start("facts_flow.py:facts", inputs={"tag": "y"})
    FlowHandle(started.exec_id).wait(timeout=120)
    stored = executions.get(started.exec_id)
    assert started.flow == stored.flow == "facts"
    assert started.status == ExecutionStatus.RUNNING  # what it was when the call returned
    assert stored.status == ExecutionStatus.COMPLETED


def test_the_worker_collects_garbage_once_it_has_reported(cold_pool: None, flow_dir: Path) -> None:
    exec_id, _ = detach.start_job(
        {
            "kind": "run",
            "target": "facts_flow.py:facts",
            "inputs": {"tag": "z"},
            "cwd": str(flow_dir),
        }
    )
    facts = FlowHandle(exec_id).wait(timeout=120)
    assert facts["gc_enabled"] is True
    # The pool's warm heap reaches the worker frozen: its collections never walk it.
    assert facts["frozen"] > 10_000


def test_the_modules_the_pool_imports_ahead_exist() -> None:
    """A stale name would silently lose the head start (the pool skips what fails to import)."""
    from kitaru_core.runtime import zygote

    for name in zygote._RUN_PATH_MODULES:
        importlib.import_module(name)
