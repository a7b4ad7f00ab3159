"""Kitaru's own concise progress lines for a running flow (ZenML's internal lines are hidden
unless ``KITARU_DEBUG`` is set)."""

from __future__ import annotations

import logging
import sys
import time

from kitaru_core.config.env import debug_enabled

_PREFIX = "[kitaru]"


def quiet_zenml() -> None:
    """Silence ZenML's console logging: Kitaru reports progress itself."""
    if debug_enabled():
        return
    logging.getLogger("zenml").setLevel(logging.CRITICAL)


def _emit(text: str) -> None:
    # sys.__stderr__ bypasses ZenML's stdout/stderr wrappers, so a line is printed once and
    # is not mistaken for output of the user's code.
    stream = sys.__stderr__ or sys.stderr
    try:
        stream.write(f"{_PREFIX} {text}\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def flow_started(flow: str, exec_id: str, stack: str | None) -> None:
    on = f" on stack '{stack}'" if stack else ""
    _emit(f"flow '{flow}' started{on} — exec_id {exec_id}")


def checkpoint_started(name: str) -> float:
    _emit(f"checkpoint '{name}' started")
    return time.perf_counter()


def checkpoint_finished(name: str, started: float) -> None:
    _emit(f"checkpoint '{name}' finished in {time.perf_counter() - started:.2f} s")


def checkpoint_overridden(call_id: str) -> None:
    _emit(f"checkpoint '{call_id}' replaced by its override (not run)")


def checkpoint_failed(name: str, exc: BaseException) -> None:
    _emit(f"checkpoint '{name}' failed: {type(exc).__name__}: {exc}")


def waiting(name: str | None, question: str | None) -> None:
    label = f" '{name}'" if name else ""
    asked = f": {question}" if question else ""
    _emit(f"waiting for input{label}{asked}")


def cancelled(exec_id: str) -> None:
    _emit(f"cancelled — exec_id {exec_id}; completed checkpoints are kept")


def answer_reused(name: str) -> None:
    _emit(f"wait '{name}' answered as in the original execution")


def flow_finished(flow: str, exec_id: str, status: str) -> None:
    _emit(f"flow '{flow}' {status} — exec_id {exec_id}")
