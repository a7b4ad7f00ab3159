"""Execution logs on the local stack: what flows and checkpoints print or log, per execution.

On the local orchestrator Kitaru keeps logs itself, as JSON lines in
``<config dir>/runs/<exec_id>.logs.jsonl`` (one line per printed line or log record, tagged with
the checkpoint that produced it), instead of ZenML's per-step log storage, which costs two
store writes per checkpoint. Remote stacks keep ZenML's log storage (their processes run
elsewhere). Output still reaches the terminal as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

from kitaru_core.execution_logs import log_path
from kitaru_core.runtime import context

_lock = threading.Lock()
_installed = False
_enabled_exec_ids: set[str] = set()


def _append(exec_id: str, level: str, message: str, source: str) -> None:
    record = {
        "timestamp": time.time(),
        "level": level,
        "checkpoint": context.current_checkpoint(),
        "source": source,
        "message": message,
    }
    path = log_path(exec_id)
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")


def _active_exec_id() -> str | None:
    scope = context.current_flow()
    if scope is None or scope.exec_id not in _enabled_exec_ids:
        return None
    return scope.exec_id


class _Tee:
    """Wraps a text stream: writes go through unchanged and complete lines are recorded."""

    def __init__(self, stream: TextIO, level: str, source: str) -> None:
        self._stream = stream
        self._level = level
        self._source = source
        self._pending = threading.local()

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        exec_id = _active_exec_id()
        if exec_id is not None and text:
            buffered = getattr(self._pending, "text", "") + text
            *lines, rest = buffered.split("\n")
            self._pending.text = rest
            for line in lines:
                if line.strip() and not line.startswith("[kitaru]"):
                    _append(exec_id, self._level, line, self._source)
        return written

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _RecordHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        exec_id = _active_exec_id()
        if exec_id is None or record.name.startswith(("zenml", "sqlalchemy", "kitaru")):
            return
        with contextlib.suppress(Exception):  # logging must never break the user's code
            _append(exec_id, record.levelname, record.getMessage(), record.name)


def _install() -> None:
    global _installed
    # Checked on every start: something else (a test runner's capture, redirect_stdout, a
    # notebook) may have replaced sys.stdout since the last execution in this process.
    if not isinstance(sys.stdout, _Tee):
        sys.stdout = _Tee(sys.stdout, "INFO", "stdout")
    if not isinstance(sys.stderr, _Tee):
        sys.stderr = _Tee(sys.stderr, "ERROR", "stderr")
    if _installed:
        return
    _installed = True
    logging.getLogger().addHandler(_RecordHandler(level=logging.INFO))


_saved_root_level: int | None = None


def start(exec_id: str) -> None:
    """Record the logs of ``exec_id`` while it runs in this process.

    The root logger is lowered to INFO for the duration, so ``logger.info(...)`` in a flow or
    checkpoint is recorded, as it would be by ZenML's own log storage.
    """
    global _saved_root_level
    _install()
    root = logging.getLogger()
    if not _enabled_exec_ids and root.level > logging.INFO:
        _saved_root_level = root.level
        root.setLevel(logging.INFO)
    _enabled_exec_ids.add(exec_id)


def stop(exec_id: str) -> None:
    global _saved_root_level
    _enabled_exec_ids.discard(exec_id)
    if not _enabled_exec_ids and _saved_root_level is not None:
        logging.getLogger().setLevel(_saved_root_level)
        _saved_root_level = None
