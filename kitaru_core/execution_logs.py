"""Where an execution's log lines are kept on the local stack, and reading them back.

A leaf module: ``runtime/logcapture.py`` appends the lines while a flow runs here, the backend
reads them for ``executions logs``. One JSON object per line (timestamp, level, checkpoint,
source, message) in ``<config dir>/runs/<exec_id>.logs.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kitaru_core.config.paths import runs_dir


def log_path(exec_id: str) -> Path:
    return runs_dir() / f"{exec_id}.logs.jsonl"


def read(exec_id: str) -> list[dict[str, Any]]:
    """Every recorded line of ``exec_id`` (oldest first); empty when none were kept here."""
    path = log_path(exec_id)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash
    return records
