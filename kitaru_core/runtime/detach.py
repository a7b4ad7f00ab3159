"""Start worker jobs in detached processes and get their ``exec_id`` back at once."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitaru_core.config.paths import runs_dir
from kitaru_core.errors import (
    KitaruBackendError,
    KitaruError,
    KitaruTimeoutError,
    error_from_dict,
)
from kitaru_core.jobs import Job, PoolRequest, parse_job

START_TIMEOUT = 120.0
# How long a job waits for a warm pool that is still starting before spawning a worker instead.
ZYGOTE_READY_WAIT = 30.0
# Workers this process started; polled so that finished ones are reaped (no zombies).
_children: list[subprocess.Popen[bytes]] = []


def _error_from(payload: dict[str, Any]) -> KitaruError:
    return error_from_dict(payload.get("error") or {"message": "The worker failed to start."})


def _read_line(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KitaruTimeoutError("The worker did not report within the start timeout.")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


class _Zygote:
    """The caller's side of a warm forking process (see ``kitaru_core.runtime.zygote``)."""

    def __init__(self) -> None:
        log_dir = runs_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "zygote.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kitaru_core.runtime.zygote"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                close_fds=True,
            )
        self.ready = threading.Event()
        self.failed = False
        self._lock = threading.Lock()
        self._replies: dict[str, queue.Queue[dict[str, Any]]] = {}
        threading.Thread(target=self._read, name="kitaru-zygote", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                payload = json.loads(line)
            except ValueError:
                continue
            if "ready" in payload:
                self.failed = not payload["ready"]
                self.ready.set()
                continue
            waiting = self._replies.get(str(payload.get("job")))
            if waiting is not None:
                waiting.put(payload)
        self.failed = True
        self.ready.set()
        for waiting in list(self._replies.values()):
            waiting.put({"error": {"code": "backend_error", "message": "The worker pool stopped."}})

    def usable(self) -> bool:
        return self.ready.is_set() and not self.failed and self.process.poll() is None

    def submit(self, job: Job, log_file: Path, timeout: float) -> dict[str, Any]:
        job_id = uuid.uuid4().hex
        request = PoolRequest(job_id=job_id, log_file=str(log_file), job=job)
        replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._replies[job_id] = replies
        try:
            with self._lock:
                assert self.process.stdin is not None
                self.process.stdin.write((request.to_wire() + "\n").encode())
                self.process.stdin.flush()
            reply = replies.get(timeout=timeout)
        except queue.Empty as exc:
            raise KitaruTimeoutError("The worker did not report within the start timeout.") from exc
        finally:
            self._replies.pop(job_id, None)
        return reply  # the start report, or {"exited": code} if the worker died first


_zygote: _Zygote | None = None
_zygote_lock = threading.Lock()


def warm_zygote() -> None:
    """Start the warm worker pool for this process (long-lived callers such as the MCP server)."""
    global _zygote
    with _zygote_lock:
        if _zygote is None or _zygote.process.poll() is not None:
            _zygote = _Zygote()


@dataclass(frozen=True)
class StartedJob:
    """What a worker reported once its job started."""

    exec_id: str
    log_file: Path
    # The public status and flow name the worker saw as the flow body started (``None`` when
    # the job does not report them), so that the caller need not read the run back.
    status: str | None = None
    flow: str | None = None


def _finish(payload: dict[str, Any], log_file: Path) -> StartedJob:
    if "exec_id" not in payload:
        raise _error_from(payload)
    final = log_file.parent / f"{payload['exec_id']}.log"
    with contextlib.suppress(OSError):
        if not final.exists():
            os.replace(log_file, final)
            log_file = final
    status, flow = payload.get("status"), payload.get("flow")
    return StartedJob(
        exec_id=str(payload["exec_id"]),
        log_file=log_file,
        status=str(status) if status is not None else None,
        flow=str(flow) if flow is not None else None,
    )


def _ready_zygote(wait: bool = True) -> _Zygote | None:
    """The warm pool if it can take a job; waits for one that is still warming up.

    A pool that is importing ZenML is seconds ahead of a worker spawned now, and a spawned
    worker would only compete with it for the CPU. ``wait=False`` is for a caller that must
    return sooner than the pool can be ready (an answer's resume: its worker reports at once).
    """
    zygote = _zygote
    if zygote is None or zygote.process.poll() is not None:
        return None
    zygote.ready.wait(ZYGOTE_READY_WAIT if wait else 0)
    return zygote if zygote.usable() else None


def launch_job(
    job: Job | Mapping[str, Any], *, timeout: float = START_TIMEOUT, wait_for_pool: bool = True
) -> StartedJob:
    """Run ``job`` in a new detached worker; return what it reported once it started.

    A mapping is read as a job first (a malformed one starts nothing). Forked from the warm
    pool when this process started one (fast), else spawned.
    """
    job = _in_a_directory(parse_job(job) if isinstance(job, Mapping) else job)
    log_dir = runs_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"worker-{uuid.uuid4().hex[:12]}.log"
    zygote = _ready_zygote(wait_for_pool)
    if zygote is not None:
        payload = zygote.submit(job, log_file, timeout)
        if "exited" in payload:
            raise _died_before_starting(log_file, payload["exited"])
        if payload.get("error", {}).get("code") != "backend_error" or zygote.usable():
            return _finish(payload, log_file)
    return _spawn(job, log_file, timeout)


def _in_a_directory(job: Job) -> Job:
    """The job with the caller's directory, unless it names one: a worker runs where its
    caller stood, so relative flow files resolve the same way."""
    return job if job.cwd is not None else job.model_copy(update={"cwd": os.getcwd()})


def start_job(
    job: Job | Mapping[str, Any], *, timeout: float = START_TIMEOUT, wait_for_pool: bool = True
) -> tuple[str, Path]:
    """Run ``job`` in a new detached worker; return ``(exec_id, log_file)`` once it started."""
    started = launch_job(job, timeout=timeout, wait_for_pool=wait_for_pool)
    return started.exec_id, started.log_file


def _spawn(job: Job, log_file: Path, timeout: float) -> StartedJob:
    read_fd, write_fd = os.pipe()
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kitaru_core.runtime.worker", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            pass_fds=(write_fd,),
            start_new_session=True,  # survives the caller (an MCP server, a CLI) exiting
            close_fds=True,
        )
    os.close(write_fd)
    _children[:] = [child for child in _children if child.poll() is None]
    _children.append(process)
    try:
        assert process.stdin is not None
        process.stdin.write(job.to_wire().encode())
        process.stdin.close()
        line = _read_line(read_fd, timeout)
    finally:
        os.close(read_fd)
    if not line:
        raise _died_before_starting(log_file, process.poll())
    return _finish(json.loads(line), log_file)


def _died_before_starting(log_file: Path, exit_code: int | None) -> KitaruBackendError:
    tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
    return KitaruBackendError(
        "The worker exited before starting the flow.",
        hint=f"Its output is in {log_file}.",
        details={"log_file": str(log_file), "exit_code": exit_code, "log_tail": tail},
    )
