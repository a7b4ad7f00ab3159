"""Which process runs an execution, and is it alive?

Every process that runs a flow body keeps a small file ``runs/<exec_id>.json`` in the config dir
with its pid and a heartbeat refreshed every few seconds (``runtime/heartbeat.py`` writes it). A
reader that finds an execution ``running`` whose process is gone (or whose heartbeat stopped)
knows it crashed. A leaf module: the runtime writes the records, the backend reads them.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from kitaru_core.config.paths import runs_dir

# A run that never reached its flow body (no liveness record) gets this long to start.
START_GRACE = 30.0
# A worker whose heartbeat is older than this is considered dead even if its pid was reused.
STALE_AFTER = 30.0


def _path(exec_id: str) -> Path:
    return runs_dir() / f"{exec_id}.json"


def write(exec_id: str, record: dict[str, Any]) -> None:
    """Replace the liveness record of ``exec_id`` (atomically: a reader never sees half)."""
    path = _path(exec_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)


def read(exec_id: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(_path(exec_id).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie — dead but not yet reaped by its parent — does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: trust the signal check
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def is_alive(record: dict[str, Any], now: float | None = None) -> bool:
    """Whether the process in ``record`` still runs the execution."""
    if record.get("host") != socket.gethostname():
        # Another machine: only the heartbeat can tell.
        return (now or time.time()) - float(record.get("heartbeat", 0)) < STALE_AFTER
    if not pid_alive(int(record.get("pid", 0))):
        return False
    return (now or time.time()) - float(record.get("heartbeat", 0)) < STALE_AFTER


def death_reason(exec_id: str, *, created: float | None, resuming: bool) -> str | None:
    """Why the local process running ``exec_id`` is known to be gone, or ``None`` while it may
    be alive. ``created`` is the execution's creation time (epoch seconds); ``resuming`` says
    whether the store shows it being resumed."""
    record = read(exec_id)
    now = time.time()
    if record is None:
        if now - (created if created is not None else now) > START_GRACE:
            return "its process stopped before the flow started"
        return None
    if record.get("finished") and (
        resuming or now - float(record.get("heartbeat", 0)) < START_GRACE
    ):
        return None  # a resume worker is about to take over from the process that paused
    if is_alive(record, now):
        return None
    return f"its process (pid {record.get('pid')}) stopped without finishing"
