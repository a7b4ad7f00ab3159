"""``@flow``: the durable orchestration function (a ZenML dynamic pipeline underneath)."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, overload

from kitaru_core.config.image import ImageInput
from kitaru_core.config.resolver import ExecutionOverrides
from kitaru_core.errors import KitaruUsageError, KitaruValidationError
from kitaru_core.naming import flow_alias, plain_name, register_lazy_alias


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
        # Built on first use; False when the annotations cannot be turned into a validator.
        self._validator: Any = None
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
        inputs = dict(bound.arguments)
        self._check_input_types(inputs)
        return inputs

    def _check_input_types(self, inputs: dict[str, Any]) -> None:
        """Refuse inputs that do not fit the parameters' annotations (or cannot be stored).

        ZenML applies the same check when the run starts, but reports it as a bare ValueError
        about "pipeline inputs" that points at a log line users never see.
        """
        from pydantic import ValidationError

        validate = self._input_validator()
        if validate is None:
            return
        try:
            validate(**inputs)
        except ValidationError as exc:
            fields = {
                ".".join(str(part) for part in error["loc"]) or "inputs": error["msg"]
                for error in exc.errors()
            }
            problems = "; ".join(f"{name}: {message}" for name, message in fields.items())
            raise KitaruValidationError(
                f"Inputs do not fit flow '{self.name}': {problems}.",
                fields=fields,
                hint="Pass values of the annotated types (flow inputs must be JSON-like values "
                "or pydantic models).",
                details={"flow": self.name},
            ) from exc

    def _input_validator(self) -> Callable[..., Any] | None:
        if self._validator is None:
            self._validator = _build_input_validator(self.func, self.signature)
        return self._validator or None

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
        import typing

        from pydantic import create_model

        # With `from __future__ import annotations` the signature holds strings such as
        # "Options | None", which pydantic cannot resolve outside the flow's module.
        try:
            hints = typing.get_type_hints(self.func)
        except Exception:
            hints = {}
        fields: dict[str, Any] = {}
        for name, parameter in self.signature.parameters.items():
            annotation = hints.get(name, parameter.annotation)
            if annotation is inspect.Parameter.empty:
                annotation = Any
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
        """Save a new deployment version of this flow with representative ``inputs``.

        A flow defined outside a file (``python -c``, a REPL, a notebook) cannot be deployed:
        no worker could load it again.
        """
        from kitaru_core.runtime import deployment, interactive

        where = interactive.origin(self.func)
        if where is not None:
            raise interactive.refuse_deploy(self.name, where)

        return deployment.deploy(
            self, inputs=inputs, tag=tag, exclusive=exclusive, stack=stack, allow_local=allow_local
        )

    def invoke(self, *, tag: str | None = None, version: int | None = None, **inputs: Any) -> Any:
        """Start an execution of a deployed version (tag ``default`` unless told otherwise)."""
        return self.deployment(tag=tag, version=version).invoke(**inputs)

    def deployment(self, *, version: int | None = None, tag: str | None = None) -> Any:
        """The deployed version a selector routes to, as an invocable object."""
        from kitaru_core.runtime.deployment import DeployedFlow, get

        return DeployedFlow(get(self.name, version=version, tag=tag))

    def zenml_pipeline(self) -> Any:
        """The ZenML dynamic pipeline behind this flow (built on first use)."""
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    from kitaru_core.runtime.launcher import build_pipeline

                    self._pipeline = build_pipeline(self)
        return self._pipeline


def _build_input_validator(func: Callable[..., Any], signature: inspect.Signature) -> Any:
    """A function that validates keyword inputs against ``func``'s annotations (strictly: no
    arbitrary objects), without running ``func``. ``False`` if that cannot be built."""
    import typing

    from pydantic import ConfigDict, validate_call

    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    parameters = [
        parameter.replace(annotation=hints.get(name, parameter.annotation))
        for name, parameter in signature.parameters.items()
    ]

    def accept(**kwargs: Any) -> None:
        return None

    accept.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=None
    )
    accept.__annotations__ = {
        parameter.name: parameter.annotation
        for parameter in parameters
        if parameter.annotation is not inspect.Parameter.empty
    }
    try:
        return validate_call(config=ConfigDict(arbitrary_types_allowed=False))(accept)
    except Exception:  # an annotation pydantic cannot handle: ZenML will decide
        return False


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
