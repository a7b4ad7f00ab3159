"""The warm worker pool: executions started through it behave like spawned workers."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from kitaru_core import liveness
from kitaru_core.errors import KitaruError
from kitaru_core.runtime import detach
from kitaru_core.runtime.handle import FlowHandle

FLOW = """
from kitaru_core import checkpoint, flow


@checkpoint
def shout(word: str) -> str:
    return word.upper()


@flow
def loud(word: str = "hi") -> str:
    return shout(word) + "!"
"""


@pytest.fixture(scope="module")
def zygote():  # type: ignore[no-untyped-def]
    detach.warm_zygote()
    pool = detach._zygote
    assert pool is not None
    assert pool.ready.wait(120), "the zygote did not become ready"
    assert pool.usable()
    yield pool
    pool.process.kill()
    pool.process.wait(10)
    detach._zygote = None


def test_execution_started_by_the_pool_completes(zygote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "loud_flow.py").write_text(FLOW)
    word = uuid.uuid4().hex[:8]
    exec_id, log_file = detach.start_job(
        {
            "kind": "run",
            "target": "loud_flow.py:loud",
            "inputs": {"word": word},
            "cwd": str(tmp_path),
        }
    )
    assert FlowHandle(exec_id).wait(timeout=120) == word.upper() + "!"
    record = liveness.read(exec_id)
    assert record is not None and record["pid"] != zygote.process.pid
    # The worker prints its last line just after the store says completed.
    deadline = time.monotonic() + 30
    while "[kitaru] flow 'loud' completed" not in Path(log_file).read_text():
        assert time.monotonic() < deadline, Path(log_file).read_text()
        time.sleep(0.1)


def test_bad_target_through_the_pool_reports_the_error(zygote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KitaruError) as caught:
        detach.start_job({"kind": "run", "target": "missing.py:flow", "cwd": str(tmp_path)})
    assert caught.value.code == "not_found"
    assert zygote.usable()  # one failed job does not take the pool down


def test_a_worker_that_dies_before_starting_fails_at_once(zygote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The module kills its own process while the worker imports it: no start report ever comes.
    (tmp_path / "dying_flow.py").write_text(
        "import os, sys\nprint('about to die', file=sys.stderr, flush=True)\nos._exit(7)\n"
    )
    started = time.monotonic()
    with pytest.raises(KitaruError) as caught:
        detach.start_job({"kind": "run", "target": "dying_flow.py:flow", "cwd": str(tmp_path)})
    assert time.monotonic() - started < 60  # not the 120 s start timeout
    assert caught.value.code == "backend_error"
    assert caught.value.details["exit_code"] == 7
    assert "about to die" in caught.value.details["log_tail"]
    assert zygote.usable()


SUBPROCESS_FLOW = """
import subprocess
import sys

from kitaru_core import checkpoint, flow


@checkpoint
def child_exit_code(code: int) -> int:
    return subprocess.run([sys.executable, "-c", f"raise SystemExit({code})"]).returncode


@flow
def spawner(code: int = 3) -> int:
    return child_exit_code(code)
"""


def test_a_pool_worker_can_wait_for_its_own_subprocesses(zygote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "spawner_flow.py").write_text(SUBPROCESS_FLOW)
    code = int(uuid.uuid4().int % 100) + 1
    exec_id, _ = detach.start_job(
        {
            "kind": "run",
            "target": "spawner_flow.py:spawner",
            "inputs": {"code": code},
            "cwd": str(tmp_path),
        }
    )
    assert FlowHandle(exec_id).wait(timeout=120) == code


def test_dead_pool_falls_back_to_spawning(tmp_path: Path) -> None:
    detach.warm_zygote()
    pool = detach._zygote
    assert pool is not None
    pool.process.kill()
    pool.process.wait(10)
    deadline = time.monotonic() + 10
    while pool.usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    (tmp_path / "loud_flow.py").write_text(FLOW)
    exec_id, _ = detach.start_job(
        {
            "kind": "run",
            "target": "loud_flow.py:loud",
            "inputs": {"word": "x"},
            "cwd": str(tmp_path),
        }
    )
    assert FlowHandle(exec_id).wait(timeout=120) == "X!"
    detach._zygote = None
