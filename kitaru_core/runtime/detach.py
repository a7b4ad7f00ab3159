"""Start worker jobs in detached processes and get their ``exec_id`` back at once."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from kitaru_core.config.paths import runs_dir
from kitaru_core.errors import KitaruBackendError, KitaruError, KitaruTimeoutError

START_TIMEOUT = 120.0
# Workers this process started; polled so that finished ones are reaped (no zombies).
_children: list[subprocess.Popen[bytes]] = []


def _error_from(payload: dict[str, Any]) -> KitaruError:
    body = payload.get("error") or {}
    error = KitaruError(
        str(body.get("message", "The worker failed to start the flow.")),
        hint=body.get("hint"),
        retryable=body.get("retryable"),
        details=body.get("details") or {},
    )
    error.code = str(body.get("code", "worker_error"))
    return error


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


def start_job(job: dict[str, Any], *, timeout: float = START_TIMEOUT) -> tuple[str, Path]:
    """Run ``job`` in a new detached worker; return ``(exec_id, log_file)`` once it started."""
    log_dir = runs_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"worker-{uuid.uuid4().hex[:12]}.log"
    read_fd, write_fd = os.pipe()
    job = {"cwd": os.getcwd(), **job}
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
        process.stdin.write(json.dumps(job).encode())
        process.stdin.close()
        line = _read_line(read_fd, timeout)
    finally:
        os.close(read_fd)
    if not line:
        tail = log_file.read_text(errors="replace")[-2000:]
        raise KitaruBackendError(
            "The worker exited before starting the flow.",
            details={"log_file": str(log_file), "log_tail": tail},
        )
    payload = json.loads(line)
    if "exec_id" not in payload:
        raise _error_from(payload)
    final = log_dir / f"{payload['exec_id']}.log"
    try:
        if not final.exists():
            os.replace(log_file, final)
            log_file = final
    except OSError:
        pass
    return str(payload["exec_id"]), log_file
