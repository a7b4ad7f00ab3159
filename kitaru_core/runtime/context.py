"""Where the current code runs: inside a flow body, inside a checkpoint, or neither.

Kept free of ZenML so that ``@checkpoint`` functions called outside a flow stay plain calls.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from kitaru_core.errors import KitaruContextError


@dataclass
class FlowScope:
    """State of one running flow body (one execution) in this process."""

    exec_id: str
    flow: str
    # Checkpoint outputs handed to the flow as plain values, by identity, with the artifact
    # they came from: passing such a value into another checkpoint reuses the artifact instead
    # of uploading a copy (and keeps the lineage between checkpoints).
    artifacts_by_value: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    # Replay: recorded outputs that replace a checkpoint call, keyed by call id.
    overrides: dict[str, Any] = field(default_factory=dict)
    # Replay and retry: answers the original execution already got, by wait name.
    answers: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def remember(self, value: Any, artifact: Any) -> None:
        # Small immutable singletons (None, True, small ints) share identity across unrelated
        # values; mapping them would link the wrong artifact, so they are not remembered.
        if value is None or isinstance(value, (bool, int, float)):
            return
        with self.lock:
            self.artifacts_by_value[id(value)] = (value, artifact)

    def artifact_for(self, value: Any) -> Any | None:
        entry = self.artifacts_by_value.get(id(value))
        return entry[1] if entry is not None and entry[0] is value else None


_flow_scope: ContextVar[FlowScope | None] = ContextVar("kitaru_flow_scope", default=None)
_checkpoint: ContextVar[str | None] = ContextVar("kitaru_checkpoint", default=None)
# Checkpoints may run in ZenML worker threads, where the flow's context variables are not
# visible; the flow scope is also kept per process so that those threads can find it.
_process_scope: FlowScope | None = None


def current_flow() -> FlowScope | None:
    return _flow_scope.get() or _process_scope


def current_checkpoint() -> str | None:
    return _checkpoint.get()


def enter_flow(scope: FlowScope) -> Any:
    global _process_scope
    _process_scope = scope
    return _flow_scope.set(scope)


def exit_flow(token: Any) -> None:
    global _process_scope
    _process_scope = None
    _flow_scope.reset(token)


def enter_checkpoint(name: str) -> Any:
    return _checkpoint.set(name)


def exit_checkpoint(token: Any) -> None:
    _checkpoint.reset(token)


def require_flow_scope(api: str) -> FlowScope:
    """The running flow, for APIs that only make sense at flow scope (not in a checkpoint)."""
    if current_checkpoint() is not None:
        raise KitaruContextError(
            f"{api} cannot be called inside a checkpoint (it was called in "
            f"'{current_checkpoint()}').",
            hint=f"Call {api} in the @flow function body, between checkpoints.",
        )
    scope = current_flow()
    if scope is None:
        raise KitaruContextError(
            f"{api} can only be called while a flow is running.",
            hint=f"Call {api} inside a function decorated with @flow.",
        )
    return scope
