"""``@checkpoint``: a unit of work whose output is persisted (a ZenML step underneath)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, overload

from kitaru_core import terminal
from kitaru_core.errors import KitaruUsageError
from kitaru_core.naming import (
    checkpoint_alias,
    plain_name,
    publish_alias,
    register_lazy_alias,
)
from kitaru_core.runtime import cancellation, context

_RESERVED = ("id", "after")


class CheckpointFuture:
    """A checkpoint started with ``.submit()``; ``result()`` blocks and returns its value."""

    def __init__(self, future: Any, scope: context.FlowScope) -> None:
        self._future = future
        self._scope = scope
        self._value: Any = None
        self._done = False

    def result(self) -> Any:
        if not self._done:
            outputs = self._future.result()
            self._value = _load_outputs(outputs, self._scope)
            self._done = True
        return self._value

    @property
    def call_id(self) -> str | None:
        return getattr(self._future, "invocation_id", None)


class Checkpoint:
    """A function marked with ``@checkpoint``.

    Inside a running flow a call runs it as a durable step and returns its *value*; anywhere
    else it is a plain function call.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        retries: int | None = None,
        cache: bool | None = None,
        type: str | None = None,
    ) -> None:
        if retries is not None and (
            isinstance(retries, bool) or not isinstance(retries, int) or retries < 0
        ):
            raise KitaruUsageError(
                f"@checkpoint retries must be a whole number >= 0, got {retries!r}."
            )
        functools.update_wrapper(self, func)
        self.func = func
        self.name = plain_name(func)
        self.retries = retries
        self.cache = cache
        self.type = type or "checkpoint"
        self._step: Any = None
        self._lock = threading.Lock()
        register_lazy_alias(func, checkpoint_alias(self.name), self.zenml_step)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        # Methods are not supported as checkpoints; behave like a plain function attribute.
        return self

    def __call__(self, *args: Any, id: str | None = None, after: Any = None, **kwargs: Any) -> Any:
        scope = context.current_flow()
        if scope is None or context.current_checkpoint() is not None:
            return self.func(*args, **kwargs)
        cancellation.check(scope.exec_id)
        if scope.overrides:
            overridden, value = _take_override(scope, self.name, id)
            if overridden:
                return value
        step = self.zenml_step()
        args, kwargs = _swap_values_for_artifacts(scope, args, kwargs)
        outputs = step(*args, id=id, after=_unwrap_after(after), **kwargs)
        return _load_outputs(outputs, scope)

    def submit(self, *args: Any, id: str | None = None, after: Any = None, **kwargs: Any) -> Any:
        """Start the checkpoint concurrently; returns a future with ``.result()``."""
        scope = context.current_flow()
        if scope is None or context.current_checkpoint() is not None:
            return _Done(self.func(*args, **kwargs))
        cancellation.check(scope.exec_id)
        step = self.zenml_step()
        args, kwargs = _swap_values_for_artifacts(scope, args, kwargs)
        future = step.submit(*args, id=id, after=_unwrap_after(after), **kwargs)
        return CheckpointFuture(future, scope)

    def zenml_step(self) -> Any:
        """The ZenML step behind this checkpoint (built on first use)."""
        if self._step is None:
            with self._lock:
                if self._step is None:
                    self._step = _build_step(self)
        return self._step


class _Done:
    """The future of a checkpoint that ran as a plain call."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


def _take_override(scope: context.FlowScope, name: str, pinned: str | None) -> tuple[bool, Any]:
    """Replay: if this call's id has an override, claim the id and return the given value.

    The id is the one ZenML would give this call (``name``, ``name_2``, … or the pinned id), so
    the calls after it keep the ids they had in the original execution.
    """
    from kitaru_core.backend.zenml_compat.runner import claim_invocation_id

    call_id = claim_invocation_id(pinned or name, pinned=bool(pinned), only_if=scope.overrides)
    if call_id is None:
        return False, None
    terminal.checkpoint_overridden(call_id)
    return True, scope.overrides[call_id]


def _unwrap_after(after: Any) -> Any:
    if isinstance(after, CheckpointFuture):
        return after._future
    if isinstance(after, (list, tuple)):
        return [item._future if isinstance(item, CheckpointFuture) else item for item in after]
    return after


def _swap_values_for_artifacts(
    scope: context.FlowScope, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Pass a checkpoint output on as its stored artifact rather than uploading a copy."""

    def swap(value: Any) -> Any:
        artifact = scope.artifact_for(value)
        return value if artifact is None else artifact

    return tuple(swap(a) for a in args), {k: swap(v) for k, v in kwargs.items()}


def _load_outputs(outputs: Any, scope: context.FlowScope) -> Any:
    if outputs is None:
        return None
    if isinstance(outputs, tuple):
        return tuple(_load_outputs(item, scope) for item in outputs)
    value = outputs.load()
    scope.remember(value, outputs)
    return value


def _call_id(default: str) -> str:
    """The invocation id of the running checkpoint call (``fetch``, ``fetch_2``, …)."""
    from zenml import get_step_context

    try:
        return str(get_step_context().step_run.name)
    except Exception:
        return default


def _build_step(checkpoint: Checkpoint) -> Any:
    from zenml import step
    from zenml.config.retry_config import StepRetryConfig

    func = checkpoint.func
    alias = checkpoint_alias(checkpoint.name)

    @functools.wraps(func)
    def entrypoint(*args: Any, **kwargs: Any) -> Any:
        token = context.enter_checkpoint(_call_id(checkpoint.name))
        started = terminal.checkpoint_started(checkpoint.name)
        try:
            value = func(*args, **kwargs)
        except BaseException as exc:
            terminal.checkpoint_failed(checkpoint.name, exc)
            raise
        finally:
            context.exit_checkpoint(token)
        terminal.checkpoint_finished(checkpoint.name, started)
        return value

    entrypoint.__name__ = alias
    entrypoint.__qualname__ = alias
    options: dict[str, Any] = {
        "name": checkpoint.name,
        "extra": {"kitaru_type": checkpoint.type, "kitaru_name": checkpoint.name},
    }
    if checkpoint.cache is not None:
        options["enable_cache"] = checkpoint.cache
    if checkpoint.retries:
        options["retry"] = StepRetryConfig(max_retries=checkpoint.retries, delay=0, backoff=1)
    zenml_step = step(**options)(entrypoint)
    publish_alias(func.__module__, alias, zenml_step)
    return zenml_step


@overload
def checkpoint(func: Callable[..., Any], /) -> Checkpoint: ...


@overload
def checkpoint(
    *, retries: int | None = None, cache: bool | None = None, type: str | None = None
) -> Callable[[Callable[..., Any]], Checkpoint]: ...


def checkpoint(
    func: Callable[..., Any] | None = None,
    /,
    *,
    retries: int | None = None,
    cache: bool | None = None,
    type: str | None = None,
) -> Checkpoint | Callable[[Callable[..., Any]], Checkpoint]:
    """Mark a function as a checkpoint: ``@checkpoint`` or ``@checkpoint(retries=2)``."""
    if func is not None:
        return Checkpoint(func)

    def decorate(inner: Callable[..., Any]) -> Checkpoint:
        return Checkpoint(inner, retries=retries, cache=cache, type=type)

    return decorate
