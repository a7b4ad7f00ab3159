"""A crash at every point (issue 19): SIGKILL the worker of a ten-checkpoint flow inside each
checkpoint, between each two, and while it records a cache hit; each time the execution is
``failed`` (detected on the next read), ``retry`` completes it with the result of an uncrashed
run, and every checkpoint that had finished ran exactly once.

The worker kills itself at the chosen point (a one-shot switch file, see
``flows_scale/points.py``), so every case hits exactly its point whatever the machine's load.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from flows_exec.support import DEADLINE, poll, process_gone, start, until_finished
from flows_scale import fixtures
from flows_scale.points import arm, armed, hold, marks, release
from flows_scale.scale import STEPS

from kitaru_core import liveness
from kitaru_core.models import ExecutionStatus
from kitaru_core.services import execution_control, executions

TARGET_MODULE = "../flows_scale/scale"

# Shared fixtures: a warm worker pool for the module, and a folder for marker files.
warm_pool = fixtures.warm_pool
workdir = fixtures.workdir


def _start(workdir: str, salt: str) -> str:
    return start(TARGET_MODULE, "scale_flow", workdir=workdir, salt=salt)


def expected_result(salt: str) -> str:
    return f"{salt}:{sum(range(1, STEPS + 1))}:None"


def _crashed(exec_id: str) -> Any:
    """The execution once its worker is gone, as the next read shows it."""
    record = poll(lambda: liveness.read(exec_id), f"{exec_id}'s liveness record")
    assert process_gone(int(record["pid"]), timeout=DEADLINE)
    crashed = executions.get(exec_id)
    assert crashed.status == ExecutionStatus.FAILED, crashed.status
    assert "interrupted" in (crashed.status_reason or "")
    return crashed


def _retry_completes(exec_id: str, salt: str) -> Any:
    retried = until_finished(execution_control.retry(exec_id).exec_id)
    assert retried.status == ExecutionStatus.COMPLETED, retried.status_reason
    assert retried.result == expected_result(salt)
    return retried


def _ran(workdir: str, salt: str) -> list[list[str]]:
    return [marks(workdir, salt, index) for index in range(STEPS)]


@pytest.mark.parametrize("k", range(1, STEPS + 1))
def test_killed_inside_checkpoint_k(zenml_client: Any, workdir: str, k: int) -> None:
    salt = f"in{k}-{os.urandom(4).hex()}"
    arm(workdir, f"in{k - 1}")
    exec_id = _start(workdir, salt)

    crashed = _crashed(exec_id)
    assert not armed(workdir, f"in{k - 1}")  # it died at exactly that point
    statuses = {call.call_id: call.status for call in crashed.checkpoints}
    assert [statuses.get(f"step{i}") for i in range(k - 1)] == [ExecutionStatus.COMPLETED] * (k - 1)
    assert statuses[f"step{k - 1}"] == ExecutionStatus.FAILED

    retried = _retry_completes(exec_id, salt)

    cached = {call.call_id: call.cached for call in retried.checkpoints}
    assert [cached[f"step{i}"] for i in range(STEPS)] == [i < k - 1 for i in range(STEPS)]
    expected = [["start", "end"]] * STEPS
    expected[k - 1] = ["start", "start", "end"]  # the interrupted body ran again, once
    assert _ran(workdir, salt) == expected


@pytest.mark.parametrize("k", range(1, STEPS))
def test_killed_between_checkpoints(zenml_client: Any, workdir: str, k: int) -> None:
    """Killed in the flow body after checkpoint k finished, before checkpoint k+1 started."""
    salt = f"after{k}-{os.urandom(4).hex()}"
    arm(workdir, f"after{k - 1}")
    exec_id = _start(workdir, salt)

    crashed = _crashed(exec_id)
    assert not armed(workdir, f"after{k - 1}")
    statuses = {call.call_id: call.status for call in crashed.checkpoints}
    assert statuses == {f"step{i}": ExecutionStatus.COMPLETED for i in range(k)}
    assert all(call.outputs for call in crashed.checkpoints)  # committed outputs survived

    retried = _retry_completes(exec_id, salt)

    cached = {call.call_id: call.cached for call in retried.checkpoints}
    assert [cached[f"step{i}"] for i in range(STEPS)] == [i < k for i in range(STEPS)]
    assert _ran(workdir, salt) == [["start", "end"]] * STEPS  # nothing ran twice


def test_killed_while_recording_a_cache_hit(zenml_client: Any, workdir: str) -> None:
    """A second execution with the same inputs is all cache hits; its worker dies inside the
    transaction that records the fourth. Nothing of that half-written record is visible, and
    the retry completes without running any checkpoint body again."""
    salt = f"cache-{os.urandom(4).hex()}"
    first = until_finished(_start(workdir, salt))
    assert first.status == ExecutionStatus.COMPLETED
    assert first.result == expected_result(salt)
    arm(workdir, "cache", "4")
    exec_id = _start(workdir, salt)

    crashed = _crashed(exec_id)
    assert not armed(workdir, "cache")
    calls = {call.call_id: call for call in crashed.checkpoints}
    # Three recorded hits; the fourth was rolled back with the process (not half there).
    assert sorted(calls) == ["step0", "step1", "step2"]
    assert all(call.cached and call.outputs for call in calls.values())

    retried = _retry_completes(exec_id, salt)

    assert all(call.cached for call in retried.checkpoints)
    assert len(retried.checkpoints) == STEPS
    assert _ran(workdir, salt) == [["start", "end"]] * STEPS  # every body ran once, in `first`
    assert executions.get(first.exec_id).result == first.result  # the earlier one is intact


# ------------------------------------------------------------------ the MCP server dies mid-call

TESTS_DIR = Path(__file__).resolve().parent
SCALE_FILE = TESTS_DIR / "flows_scale" / "scale.py"


class _RawStdioClient:
    """A minimal MCP client over the server's stdio, so the test holds the server's pid."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kitaru_mcp"],
            cwd=TESTS_DIR,  # the server loads flow code from under its working directory
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._next_id = 0

    def send(self, method: str, params: dict[str, Any], *, notify: bool = False) -> int:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if not notify:
            self._next_id += 1
            message["id"] = self._next_id
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        return self._next_id

    def reply(self, request_id: int) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            if message.get("id") == request_id:
                return dict(message)
        raise AssertionError("the server closed stdout before replying")

    def initialize(self) -> None:
        from mcp.types import LATEST_PROTOCOL_VERSION

        params = {
            "protocolVersion": LATEST_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "crash-test", "version": "0"},
        }
        assert "result" in self.reply(self.send("initialize", params))
        self.send("notifications/initialized", {}, notify=True)


def _get_over_a_new_server(exec_id: str) -> dict[str, Any]:
    """``kitaru_executions_get`` through the official client, on a freshly started server."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "kitaru_mcp"], env=dict(os.environ), cwd=TESTS_DIR
    )

    async def go() -> dict[str, Any]:
        with anyio.fail_after(DEADLINE):
            return await follow()

    async def follow() -> dict[str, Any]:
        async with Client(params) as client:
            while True:
                result = await client.call_tool("kitaru_executions_get", {"exec_id": exec_id})
                assert not result.is_error, result.content
                assert result.structured_content is not None
                if result.structured_content["status"] != "running":
                    return dict(result.structured_content)
                await anyio.sleep(0.2)

    return anyio.run(go)


def test_server_killed_during_executions_run_leaves_the_execution_running(
    zenml_client: Any, workdir: str
) -> None:
    """SIGKILL ``kitaru-mcp`` while ``kitaru_executions_run`` follows a flow: the detached
    worker goes on, and a restarted server sees the execution complete."""
    salt = f"mcp-{os.urandom(4).hex()}"
    before = {item.exec_id for item in executions.list_executions(flow="scale_flow", limit=200)[0]}
    hold(workdir, "in3")  # the fourth checkpoint waits until the server is gone
    server = _RawStdioClient()
    try:
        server.initialize()
        arguments = {
            "target": f"{SCALE_FILE}:scale_flow",
            "args": {"workdir": workdir, "salt": salt},
            "wait_seconds": 60,  # the call is still following the run when the server dies
        }
        server.send("tools/call", {"name": "kitaru_executions_run", "arguments": arguments})
        poll(lambda: marks(workdir, salt, 3), "the fourth checkpoint to start")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
    finally:
        if server.process.poll() is None:
            server.process.kill()
    # This test process's store is its own (one per xdist worker): the new one is ours.
    (exec_id,) = {
        item.exec_id for item in executions.list_executions(flow="scale_flow", limit=200)[0]
    } - before
    assert executions.get(exec_id).status == ExecutionStatus.RUNNING  # its worker lives on
    release(workdir, "in3")

    seen = _get_over_a_new_server(exec_id)

    assert seen["status"] == "completed"
    assert seen["result"] == expected_result(salt)
    assert _ran(workdir, salt) == [["start", "end"]] * STEPS


# ------------------------------------------------- storage that cannot be written (real mounts)


def _mount_unavailable() -> str | None:
    """Why this machine cannot mount a read-only bind or a tmpfs here (``None`` if it can)."""
    if os.geteuid() != 0:
        return "mounting a read-only bind or a tmpfs needs root (CI and this box run as root)"
    probe = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True).stdout.strip())
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)])
        if mounted.returncode != 0:
            return "this container may not mount file systems (no CAP_SYS_ADMIN)"
        subprocess.run(["umount", str(probe)], check=True)
        return None
    finally:
        probe.rmdir()


_MOUNT_PROBLEM = _mount_unavailable()
needs_mount = pytest.mark.skipif(_MOUNT_PROBLEM is not None, reason=str(_MOUNT_PROBLEM))


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kitaru ARGS -o json`` as a real process on its own config dir (its own store)."""
    from cli_support import kitaru_executable

    env = {**os.environ, "KITARU_CONFIG_PATH": str(config)}
    return subprocess.run(
        [*kitaru_executable(), *args, "-o", "json"],
        cwd=TESTS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _ok(config: Path, *args: str) -> Any:
    done = _cli(config, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _refused(config: Path, *args: str) -> dict[str, Any]:
    done = _cli(config, *args)
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert "site-packages" not in done.stderr  # the user's frames at most, never ZenML's
    return dict(json.loads(done.stderr.strip().splitlines()[-1])["error"])


def _run_scale(config: Path, workdir: str, salt: str) -> list[str]:
    inputs = json.dumps({"workdir": workdir, "salt": salt})
    return ["run", "flows_scale/scale.py:scale_flow", "--input", inputs, "--wait"]


@contextlib.contextmanager
def _mounted(*command: str, at: Path) -> Any:
    subprocess.run(["mount", *command, str(at)], check=True)
    try:
        yield at
    finally:
        subprocess.run(["umount", str(at)], check=True)


def _intact(config: Path, exec_id: str, salt: str) -> None:
    earlier = _ok(config, "executions", "get", exec_id)
    assert earlier["status"] == "completed"
    assert earlier["result"] == expected_result(salt)
    assert [call["status"] for call in earlier["checkpoints"]] == ["completed"] * STEPS
    assert all(call["outputs"] for call in earlier["checkpoints"])


@needs_mount
def test_read_only_config_dir_is_a_typed_error_and_loses_nothing(
    tmp_path: Path, workdir: str
) -> None:
    """The whole config dir (store, settings, run records) read-only: a start is refused with a
    clear error and starts nothing; what was committed before stays readable and intact."""
    config = tmp_path / "config"
    first = _ok(config, *_run_scale(config, workdir, "before"))
    assert first["status"] == "completed"

    with _mounted("--bind", str(config), at=config):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(config)], check=True)
        error = _refused(config, *_run_scale(config, workdir, "refused"))
        # Read while still read-only: the earlier execution is there.
        _intact(config, first["exec_id"], "before")

    assert error["code"] == "backend_error"
    assert "Read-only file system" in error["message"]
    assert "KITARU_CONFIG_PATH" in error["hint"] and "writable" in error["hint"]
    listed = _ok(config, "executions", "list")
    assert [item["exec_id"] for item in listed["items"]] == [first["exec_id"]]  # none started
    assert marks(workdir, "refused", 0) == []
    _intact(config, first["exec_id"], "before")


def _failed_with_reason(config: Path, exec_id: str) -> Any:
    """The execution once its failure carries a message (ZenML marks the run failed as the
    checkpoint fails and records the run's exception a moment later)."""
    execution = _ok(config, "executions", "get", exec_id)
    return execution if execution["failure"]["message"] != "checkpoint failed" else None


@needs_mount
def test_full_artifact_store_is_a_typed_error_and_loses_nothing(
    tmp_path: Path, workdir: str
) -> None:
    """A stack whose artifact store is a 1 MB tmpfs: a checkpoint whose output does not fit
    fails its execution with the disk's own reason; the checkpoint before it, and executions
    on other stacks, are intact."""
    config = tmp_path / "config"
    first = _ok(config, *_run_scale(config, workdir, "before"))
    tiny = tmp_path / "tiny-disk"
    tiny.mkdir()
    with _mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", at=tiny):
        _ok(config, "stack", "create", "tiny", "--no-activate",
            "--extra", f"artifact_store.path={tiny}")  # fmt: skip
        inputs = json.dumps({"workdir": workdir, "salt": "bulky", "size": 3_000_000})
        error = _refused(
            config, "run", "flows_scale/bulky.py:bulky_flow", "--stack", "tiny",
            "--input", inputs, "--wait",
        )  # fmt: skip
        failed = poll(
            lambda: _failed_with_reason(config, error["details"]["exec_id"]),
            "the failure's reason to be recorded",
        )
        output = failed["checkpoints"][0]["outputs"][0]["artifact_id"]
        kept = _ok(config, "artifacts", "get", output)

    assert error["code"] == "execution_failed"
    assert error["details"]["failure"]["checkpoint"] == "blob"
    assert failed["status"] == "failed"
    assert failed["failure"]["checkpoint"] == "blob"
    assert "No space left on device" in failed["failure"]["message"]
    statuses = {call["call_id"]: call["status"] for call in failed["checkpoints"]}
    assert statuses == {"step0": "completed", "blob": "failed"}
    assert kept["value"] == 1  # the completed checkpoint's output, read back from the full disk
    assert marks(workdir, "bulky", 0) == ["start", "end"]
    _intact(config, first["exec_id"], "before")
