"""Kitaru: durable execution for AI-agent workflows.

The public names are imported lazily, so ``import kitaru_core`` stays cheap (no ZenML).
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
}

__all__ = [
    "Checkpoint",
    "CheckpointCall",
    "Execution",
    "ExecutionStatus",
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
    "PendingWait",
    "StackInfo",
    "checkpoint",
    "configure",
    "flow",
    "llm",
    "load",
    "log",
    "save",
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
        CheckpointCall,
        Execution,
        ExecutionStatus,
        PendingWait,
        StackInfo,
    )
    from kitaru_core.runtime.checkpoint import Checkpoint, checkpoint
    from kitaru_core.runtime.flow import Flow, flow
    from kitaru_core.runtime.handle import FlowHandle
    from kitaru_core.runtime.llm import llm
    from kitaru_core.runtime.primitives import configure, load, log, save, wait


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kitaru_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
