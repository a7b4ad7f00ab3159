"""Names that tie Kitaru objects to the ZenML objects behind them.

A leaf module: the runtime writes these keys and aliases, the backend reads them back, so both
layers import them from here.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

FLOW_ALIAS_PREFIX = "__kitaru_flow__"
CHECKPOINT_ALIAS_PREFIX = "__kitaru_checkpoint__"
RESULT_KEY = "kitaru_result"
SPEC_KEY = "kitaru_execution_spec"
SOURCE_ROOT_KEY = "kitaru_source_root"
LOCAL_LOGS_KEY = "kitaru_local_logs"
OVERRIDES_KEY = "kitaru_overrides"
ANSWERS_KEY = "kitaru_answers"
ORIGINAL_KEY = "kitaru_original_exec_id"
# Marks a run whose flow was defined outside a file (see ``runtime/interactive``).
INTERACTIVE_KEY = "kitaru_interactive"
# Prefix of the run metadata keys under which ``save()`` records an artifact's id.
SAVED_PREFIX = "kitaru_saved."

_NOT_IDENTIFIER = re.compile(r"\W+")


def plain_name(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", "") or "anonymous"
    cleaned = _NOT_IDENTIFIER.sub("_", name).strip("_")
    return cleaned or "anonymous"


def flow_alias(name: str) -> str:
    return FLOW_ALIAS_PREFIX + name


def checkpoint_alias(name: str) -> str:
    return CHECKPOINT_ALIAS_PREFIX + name


_REGISTRY = "__kitaru_aliases__"


def publish_alias(module_name: str, alias: str, obj: Any) -> None:
    """Expose ``obj`` as a top-level attribute of its module.

    ZenML reloads steps and dynamic pipelines from ``module:attribute`` (on resume, replay and
    remote runs). The user's attribute holds the Kitaru wrapper, so the ZenML object is published
    next to it under a reserved alias, and the ZenML entrypoint is named after that alias.
    """
    module = sys.modules.get(module_name)
    if module is not None:
        setattr(module, alias, obj)


def register_lazy_alias(func: Callable[..., Any], alias: str, build: Callable[[], Any]) -> None:
    """Make ``alias`` resolvable on ``func``'s module before the ZenML object exists.

    A freshly imported module (a resumed run, a worker) only holds the Kitaru wrappers; a
    module-level ``__getattr__`` (PEP 562) builds the ZenML object when ZenML asks for it, so
    decorating a function stays free of ZenML imports.
    """
    namespace = getattr(func, "__globals__", None)
    if not isinstance(namespace, dict):
        return
    registry: dict[str, Callable[[], Any]] = namespace.setdefault(_REGISTRY, {})
    registry[alias] = build
    previous = namespace.get("__getattr__")
    if getattr(previous, "__kitaru_hook__", False):
        return

    def module_getattr(name: str) -> Any:
        factory = registry.get(name)
        if factory is not None:
            return factory()
        if previous is not None:
            return previous(name)
        raise AttributeError(f"module {namespace.get('__name__')!r} has no attribute {name!r}")

    module_getattr.__kitaru_hook__ = True  # type: ignore[attr-defined]
    namespace["__getattr__"] = module_getattr


def knows_alias(module: Any, alias: str) -> bool:
    """Whether ``module`` defines the Kitaru flow or checkpoint behind ``alias``."""
    registry = getattr(module, _REGISTRY, None)
    return isinstance(registry, dict) and alias in registry


def user_text(text: str) -> str:
    """Strip internal aliases from text shown to users."""
    return text.replace(FLOW_ALIAS_PREFIX, "").replace(CHECKPOINT_ALIAS_PREFIX, "")
