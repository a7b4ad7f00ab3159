"""Kitaru: durable execution for AI-agent workflows.

The public names are imported lazily, so ``import kitaru_core`` stays cheap (no engine import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "flow": "kitaru_core.runtime.flow",
    "Flow": "kitaru_core.runtime.flow",
    "checkpoint": "kitaru_core.runtime.checkpoint",
    "Checkpoint": "kitaru_core.runtime.checkpoint",
    "FlowHandle": "kitaru_core.runtime.handle",
    "KitaruClient": "kitaru_core.client",
    "wait": "kitaru_core.runtime.primitives",
    "log": "kitaru_core.runtime.primitives",
    "save": "kitaru_core.runtime.primitives",
    "load": "kitaru_core.runtime.primitives",
    "configure": "kitaru_core.runtime.primitives",
    "llm": "kitaru_core.runtime.llm",
    "connect": "kitaru_core.sdk_connect",
    "list_stacks": "kitaru_core.sdk_stacks",
    "current_stack": "kitaru_core.sdk_stacks",
    "use_stack": "kitaru_core.sdk_stacks",
    "create_stack": "kitaru_core.sdk_stacks",
    "delete_stack": "kitaru_core.sdk_stacks",
    "ImageSettings": "kitaru_core.config.image",
    "KitaruError": "kitaru_core.errors",
    "KitaruUsageError": "kitaru_core.errors",
    "KitaruValidationError": "kitaru_core.errors",
    "KitaruNotFoundError": "kitaru_core.errors",
    "KitaruStateError": "kitaru_core.errors",
    "KitaruContextError": "kitaru_core.errors",
    "KitaruBackendError": "kitaru_core.errors",
    "KitaruExecutionError": "kitaru_core.errors",
    "KitaruWaitValidationError": "kitaru_core.errors",
    "KitaruFeatureNotAvailableError": "kitaru_core.errors",
    "KitaruTimeoutError": "kitaru_core.errors",
    "ExecutionStatus": "kitaru_core.models",
    "Execution": "kitaru_core.models",
    "CheckpointCall": "kitaru_core.models",
    "PendingWait": "kitaru_core.models",
    "StackInfo": "kitaru_core.models",
    "Failure": "kitaru_core.models",
    "LogEntry": "kitaru_core.models",
    "ArtifactRef": "kitaru_core.models",
    "Deployment": "kitaru_core.models",
    "ServerConnection": "kitaru_core.models_system",
}

__all__ = [
    "ArtifactRef",
    "Checkpoint",
    "CheckpointCall",
    "Deployment",
    "Execution",
    "ExecutionStatus",
    "Failure",
    "Flow",
    "FlowHandle",
    "ImageSettings",
    "KitaruBackendError",
    "KitaruClient",
    "KitaruContextError",
    "KitaruError",
    "KitaruExecutionError",
    "KitaruFeatureNotAvailableError",
    "KitaruNotFoundError",
    "KitaruStateError",
    "KitaruTimeoutError",
    "KitaruUsageError",
    "KitaruValidationError",
    "KitaruWaitValidationError",
    "LogEntry",
    "PendingWait",
    "ServerConnection",
    "StackInfo",
    "checkpoint",
    "configure",
    "connect",
    "create_stack",
    "current_stack",
    "delete_stack",
    "flow",
    "list_stacks",
    "llm",
    "load",
    "log",
    "save",
    "use_stack",
    "wait",
]

if TYPE_CHECKING:
    from kitaru_core.client import KitaruClient
    from kitaru_core.config.image import ImageSettings
    from kitaru_core.errors import (
        KitaruBackendError,
        KitaruContextError,
        KitaruError,
        KitaruExecutionError,
        KitaruFeatureNotAvailableError,
        KitaruNotFoundError,
        KitaruStateError,
        KitaruTimeoutError,
        KitaruUsageError,
        KitaruValidationError,
        KitaruWaitValidationError,
    )
    from kitaru_core.models import (
        ArtifactRef,
        CheckpointCall,
        Deployment,
        Execution,
        ExecutionStatus,
        Failure,
        LogEntry,
        PendingWait,
        StackInfo,
    )
    from kitaru_core.models_system import ServerConnection
    from kitaru_core.runtime.checkpoint import Checkpoint, checkpoint
    from kitaru_core.runtime.flow import Flow, flow
    from kitaru_core.runtime.handle import FlowHandle
    from kitaru_core.runtime.llm import llm
    from kitaru_core.runtime.primitives import configure, load, log, save, wait
    from kitaru_core.sdk_connect import connect
    from kitaru_core.sdk_stacks import (
        create_stack,
        current_stack,
        delete_stack,
        list_stacks,
        use_stack,
    )


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562), so ``import kitaru_core`` stays cheap."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kitaru_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names too, though not imported yet (REPL and IDE completion)."""
    return sorted(set(globals()) | set(__all__))
