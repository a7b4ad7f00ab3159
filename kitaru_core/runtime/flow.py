"""``@flow``: the durable orchestration function (a ZenML dynamic pipeline underneath)."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, overload

from kitaru_core.config.image import ImageInput
from kitaru_core.config.resolver import ExecutionOverrides
from kitaru_core.errors import KitaruUsageError
from kitaru_core.runtime.naming import flow_alias, plain_name, register_lazy_alias


class Flow:
    """A function marked with ``@flow``. ``run()`` starts an execution; calling it runs one to
    the end and returns its result."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        stack: str | None = None,
        image: ImageInput | None = None,
        cache: bool | None = None,
        retries: int | None = None,
    ) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.name = plain_name(func)
        self.defaults = ExecutionOverrides.build(
            stack=stack, image=image, cache=cache, retries=retries, source=f"@flow {self.name}"
        )
        self.signature = inspect.signature(func)
        self._pipeline: Any = None
        self._lock = threading.Lock()
        register_lazy_alias(func, flow_alias(self.name), self.zenml_pipeline)

    def bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Match call arguments to the flow's parameters (defaults filled in)."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise KitaruUsageError(
                f"Inputs do not fit flow '{self.name}{self.signature}': {exc}.",
                hint=f"Pass the parameters of {self.name}{self.signature}.",
                details={"flow": self.name, "signature": str(self.signature)},
            ) from exc
        bound.apply_defaults()
        if any(
            p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in self.signature.parameters.values()
        ):
            raise KitaruUsageError(f"Flow '{self.name}' may not take *args or **kwargs.")
        return dict(bound.arguments)

    def run(
        self,
        *args: Any,
        stack: str | None = None,
        image: ImageInput | None = None,
        cache: bool | None = None,
        retries: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Start an execution and return its :class:`FlowHandle`.

        On the local stack the flow runs in this process; the handle is returned when it has
        finished or is waiting for input.
        """
        from kitaru_core.runtime.launcher import launch

        invocation = ExecutionOverrides.build(
            stack=stack, image=image, cache=cache, retries=retries, source="run()"
        )
        return launch(self, self.bind_inputs(args, kwargs), invocation)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow to the end and return its result (``run(...).wait()``)."""
        return self.run(*args, **kwargs).wait()

    def input_schema(self) -> dict[str, Any]:
        """The JSON schema of the flow's inputs (from its signature's annotations)."""
        from pydantic import create_model

        fields: dict[str, Any] = {}
        for name, parameter in self.signature.parameters.items():
            annotation = (
                Any if parameter.annotation is inspect.Parameter.empty else parameter.annotation
            )
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[name] = (annotation, default)
        try:
            return create_model(f"{self.name}_inputs", **fields).model_json_schema()
        except Exception:  # annotations pydantic cannot describe: name the parameters only
            return {"type": "object", "properties": {name: {} for name in fields}}

    def deploy(
        self,
        *,
        tag: str = "default",
        exclusive: bool = False,
        stack: str | None = None,
        allow_local: bool = False,
        **inputs: Any,
    ) -> Any:
        """Save a new deployment version of this flow with representative ``inputs``."""
        from kitaru_core.services import deployments

        return deployments.deploy(
            self, inputs=inputs, tag=tag, exclusive=exclusive, stack=stack, allow_local=allow_local
        )

    def invoke(self, *, tag: str | None = None, version: int | None = None, **inputs: Any) -> Any:
        """Start an execution of a deployed version (tag ``default`` unless told otherwise)."""
        return self.deployment(tag=tag, version=version).invoke(**inputs)

    def deployment(self, *, version: int | None = None, tag: str | None = None) -> Any:
        """The deployed version a selector routes to, as an invocable object."""
        from kitaru_core.runtime.deployment import DeployedFlow
        from kitaru_core.services import deployments

        return DeployedFlow(deployments.get(self.name, version=version, tag=tag))

    def zenml_pipeline(self) -> Any:
        """The ZenML dynamic pipeline behind this flow (built on first use)."""
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    from kitaru_core.runtime.launcher import build_pipeline

                    self._pipeline = build_pipeline(self)
        return self._pipeline


@overload
def flow(func: Callable[..., Any], /) -> Flow: ...


@overload
def flow(
    *,
    stack: str | None = None,
    image: ImageInput | None = None,
    cache: bool | None = None,
    retries: int | None = None,
) -> Callable[[Callable[..., Any]], Flow]: ...


def flow(
    func: Callable[..., Any] | None = None,
    /,
    *,
    stack: str | None = None,
    image: ImageInput | None = None,
    cache: bool | None = None,
    retries: int | None = None,
) -> Flow | Callable[[Callable[..., Any]], Flow]:
    """Mark a function as a durable flow: ``@flow`` or ``@flow(stack=..., retries=...)``."""
    if func is not None:
        return Flow(func)

    def decorate(inner: Callable[..., Any]) -> Flow:
        return Flow(inner, stack=stack, image=image, cache=cache, retries=retries)

    return decorate
