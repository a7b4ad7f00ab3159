"""Start flows on ZenML: build the dynamic pipeline, resolve its settings, run it, and hold
the flow body's scope (context, heartbeat, logs) while it runs.

Stack lookups, the run's result, the source root and the execution store (cancellation, the
checkpoint cache) are the backend's (``backend/stack_lookup.py``, ``run_writes.py``,
``source_root.py``, ``store/``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from kitaru_core import terminal
from kitaru_core.config.image import ImageSettings
from kitaru_core.config.resolver import (
    ExecutionConfig,
    ExecutionOverrides,
    resolve_execution_config,
)
from kitaru_core.naming import (
    ANSWERS_KEY,
    INTERACTIVE_KEY,
    LOCAL_LOGS_KEY,
    OVERRIDES_KEY,
    SOURCE_ROOT_KEY,
    SPEC_KEY,
    flow_alias,
    publish_alias,
)
from kitaru_core.runtime import cancellation, context, logcapture
from kitaru_core.runtime.heartbeat import Heartbeat
from kitaru_core.runtime.primitives import FlowSuspended

if TYPE_CHECKING:
    from kitaru_core.runtime.handle import FlowHandle


class LaunchableFlow(Protocol):
    """What the launcher needs of a ``@flow`` (``runtime.flow.Flow``, which imports this module
    to run itself, so it is described here rather than imported)."""

    name: str
    func: Callable[..., Any]
    defaults: ExecutionOverrides

    def zenml_pipeline(self) -> Any: ...


_started_lock = threading.Lock()
_last_started: dict[int, str] = {}
# Called with the exec_id as soon as a flow body starts (the detached worker reports it).
started_listeners: list[Callable[[str], None]] = []


def build_pipeline(flow: LaunchableFlow) -> Any:
    from zenml import pipeline

    alias = flow_alias(flow.name)

    @functools.wraps(flow.func)
    def entrypoint(*args: Any, **kwargs: Any) -> None:
        run_flow_body(flow, args, kwargs)

    entrypoint.__name__ = alias
    entrypoint.__qualname__ = alias
    zenml_pipeline = pipeline(dynamic=True, name=flow.name)(entrypoint)
    publish_alias(flow.func.__module__, alias, zenml_pipeline)
    return zenml_pipeline


def run_flow_body(flow: LaunchableFlow, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """The body ZenML runs: the user's function inside a Kitaru flow scope."""
    from kitaru_core.backend import step_cache
    from kitaru_core.backend.run_writes import record_result
    from kitaru_core.backend.store import execution_store
    from kitaru_core.backend.zenml_compat.runner import current_run

    # The run's checkpoint cache questions go to its store's adapter, chosen once per run (the
    # backend's cache hooks cannot import the store choice: it sits above their bootstrap).
    step_cache.use_store(execution_store)
    run = current_run()
    exec_id = str(run.id)
    with _started_lock:
        _last_started[threading.get_ident()] = exec_id
    extra = run.config.extra or {}
    scope = context.FlowScope(
        exec_id=exec_id,
        flow=flow.name,
        overrides=dict(extra.get(OVERRIDES_KEY) or {}),
        answers=dict(extra.get(ANSWERS_KEY) or {}),
    )
    token = context.enter_flow(scope)
    heartbeat = Heartbeat(exec_id)
    local_logs = bool(extra.get(LOCAL_LOGS_KEY))
    if local_logs:
        logcapture.start(exec_id)
    terminal.flow_started(flow.name, exec_id, run.stack.name if run.stack else None)
    try:
        # Reported once the liveness record exists: whoever gets the exec_id can check on it.
        for listener in list(started_listeners):
            listener(exec_id)
        value = flow.func(*args, **kwargs)
        record_result(exec_id, flow.name, value, scope.artifact_for)
    except FlowSuspended as signal:
        raise signal.original from None  # ZenML pauses or stops the run on its own signal
    except cancellation.FlowCancelled:
        _finish_cancelled(exec_id)
    finally:
        context.exit_flow(token)
        heartbeat.stop()
        if local_logs:
            logcapture.stop(exec_id)


def _finish_cancelled(exec_id: str) -> None:
    """Record the cancellation and leave the run without ZenML marking it failed."""
    from kitaru_core.backend.store import execution_store
    from kitaru_core.backend.zenml_compat.runner import abort_signal

    terminal.cancelled(exec_id)
    execution_store().mark_cancelled(exec_id)
    # ZenML leaves the status alone for this signal (it is what an aborted wait raises).
    raise abort_signal("cancelled") from None


def resolve_config(flow: LaunchableFlow, invocation: ExecutionOverrides) -> ExecutionConfig:
    from kitaru_core.backend.bootstrap import zenml_client

    client = zenml_client()
    return resolve_execution_config(
        invocation=invocation,
        flow=flow.defaults,
        active_stack=lambda: client.active_stack_model.name,
    )


def configured_pipeline(
    flow: LaunchableFlow,
    config: ExecutionConfig,
    *,
    local: bool,
    extra: dict[str, Any] | None = None,
    remote: bool | None = None,
) -> Any:
    """The flow's pipeline with the resolved settings and the frozen spec attached.

    ``remote`` (default: ``not local``): the orchestrator runs the flow in containers, whose
    image must install Kitaru (see :meth:`ImageSettings.with_kitaru_requirement`).

    Artifact metadata and visualizations (which Kitaru never shows) are not computed; on a
    local stack Kitaru keeps the logs itself (see ``logcapture``) instead of ZenML's per-step
    log storage. Both save several store writes per checkpoint.
    """
    from zenml.config.retry_config import StepRetryConfig

    from kitaru_core.backend.run_writes import store_options
    from kitaru_core.backend.source_root import module_source_root
    from kitaru_core.runtime import interactive

    retries = config.retries.value
    spec = config.frozen_spec({"flow": flow.name})
    where = interactive.origin(flow.func)
    options: dict[str, Any] = {
        "enable_cache": config.cache.value,
        **store_options(local),
        "extra": {
            SPEC_KEY: spec,
            SOURCE_ROOT_KEY: str(module_source_root(flow.func.__module__)),
            LOCAL_LOGS_KEY: local,
            # Marks a flow that only this process can load (see ``runtime/interactive``).
            **({INTERACTIVE_KEY: interactive.marker(where)} if where else {}),
            **(extra or {}),
        },
    }
    if retries:
        options["retry"] = StepRetryConfig(max_retries=retries, delay=0, backoff=1)
    image = config.image.value
    if image is not None or not local:
        in_containers = not local if remote is None else remote
        options["settings"] = {"docker": _docker_settings(image or ImageSettings(), in_containers)}
    return flow.zenml_pipeline().with_options(**options)


def _docker_settings(image: ImageSettings, remote: bool) -> Any:
    """The container settings of a remote run: the user's image settings, Kitaru's package, and
    the model registry (so ``llm()`` resolves the same aliases there). Kitaru's package only
    when containers are built: a local run needs no installable Kitaru."""
    from zenml.config import DockerSettings

    from kitaru_core.config.llm_models import registry_environment

    if remote:
        image = image.with_kitaru_requirement()  # refuses when no container could install it
    return DockerSettings(
        parent_image=image.base_image,
        requirements=image.requirements or None,
        apt_packages=image.apt_packages,
        environment={**registry_environment(), **image.environment},
        dockerfile=image.dockerfile,
        replicate_local_python_environment=image.replicate_local_python_environment or None,
    )


def launch(
    flow: LaunchableFlow,
    inputs: dict[str, Any],
    invocation: ExecutionOverrides,
    extra: dict[str, Any] | None = None,
) -> FlowHandle:
    """Run ``flow`` with ``inputs`` and return its handle (in this process, on ZenML)."""
    from kitaru_core.backend.source_root import module_source_root, use_source_root
    from kitaru_core.backend.stack_lookup import (
        keeps_logs_locally,
        runs_locally,
        stack_to_run_on,
        temporary_stack,
    )
    from kitaru_core.backend.status import to_public
    from kitaru_core.runtime import interactive
    from kitaru_core.runtime.handle import FlowHandle

    if interactive.origin(flow.func) is not None:
        # No file to import the flow from: ZenML names it ``__main__:<alias>`` (loadable here).
        interactive.allow_flows_without_file()
    config = resolve_config(flow, invocation)
    # One stack model answers both the id and whether Kitaru keeps the logs itself.
    stack_response = stack_to_run_on(str(config.stack.value))
    stack = str(stack_response.id)
    use_source_root(module_source_root(flow.func.__module__))
    local = keeps_logs_locally(stack_response)
    pipeline = configured_pipeline(
        flow, config, local=local, extra=extra, remote=not runs_locally(stack_response)
    )
    thread = threading.get_ident()
    with _started_lock:
        _last_started.pop(thread, None)
    error: BaseException | None = None
    with temporary_stack(stack):
        try:
            run = pipeline(**inputs)
        except Exception as exc:  # the run failed; its record says why
            run, error = None, exc
    exec_id = str(run.id) if run is not None else _last_started.get(thread)
    if exec_id is None:
        raise error if error is not None else RuntimeError("the flow did not start")
    handle = FlowHandle(exec_id)
    status = to_public(run.status) if run is not None else handle.status
    terminal.flow_finished(flow.name, exec_id, status.value)
    return handle
