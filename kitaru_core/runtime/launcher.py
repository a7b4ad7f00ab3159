"""Start flows on ZenML: build the dynamic pipeline, resolve settings, run, record results."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitaru_core.config.image import ImageSettings
from kitaru_core.config.resolver import (
    ExecutionConfig,
    ExecutionOverrides,
    resolve_execution_config,
)
from kitaru_core.errors import KitaruNotFoundError
from kitaru_core.hints import STACK_NAMES
from kitaru_core.rendering import render_preview
from kitaru_core.runtime import cancellation, context, liveness, logcapture, terminal
from kitaru_core.runtime.naming import (
    ANSWERS_KEY,
    LOCAL_LOGS_KEY,
    OVERRIDES_KEY,
    RESULT_KEY,
    SOURCE_ROOT_KEY,
    SPEC_KEY,
    flow_alias,
    publish_alias,
)
from kitaru_core.runtime.primitives import FlowSuspended

if TYPE_CHECKING:
    from kitaru_core.runtime.flow import Flow
    from kitaru_core.runtime.handle import FlowHandle

_started_lock = threading.Lock()
_last_started: dict[int, str] = {}
# Called with the exec_id as soon as a flow body starts (the detached worker reports it).
started_listeners: list[Callable[[str], None]] = []


def build_pipeline(flow: Flow) -> Any:
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


def run_flow_body(flow: Flow, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """The body ZenML runs: the user's function inside a Kitaru flow scope."""
    from kitaru_core.backend.zenml_compat.runner import current_run

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
    heartbeat = liveness.Heartbeat(exec_id)
    local_logs = bool(extra.get(LOCAL_LOGS_KEY))
    if local_logs:
        logcapture.start(exec_id)
    terminal.flow_started(flow.name, exec_id, run.stack.name if run.stack else None)
    try:
        # Reported once the liveness record exists: whoever gets the exec_id can check on it.
        for listener in list(started_listeners):
            listener(exec_id)
        value = flow.func(*args, **kwargs)
        record_result(exec_id, flow.name, scope, value)
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
    from uuid import UUID

    from zenml.enums import ExecutionStatus as ZenStatus
    from zenml.models import PipelineRunUpdate

    from kitaru_core.backend.bootstrap import zenml_client
    from kitaru_core.backend.zenml_compat.runner import abort_signal

    terminal.cancelled(exec_id)
    zenml_client().zen_store.update_run(
        UUID(exec_id),
        PipelineRunUpdate(status=ZenStatus.STOPPED, status_reason="Cancelled by request."),
    )
    # ZenML leaves the status alone for this signal (it is what an aborted wait raises).
    raise abort_signal("cancelled") from None


def record_result(exec_id: str, flow_name: str, scope: context.FlowScope, value: Any) -> None:
    """Store the flow's return value: plain JSON values inline in the run's metadata, anything
    else (pydantic models, objects) as an artifact, with a JSON preview either way."""
    from uuid import UUID

    from zenml import save_artifact
    from zenml.client import Client
    from zenml.enums import MetadataResourceTypes
    from zenml.models import RunMetadataResource

    preview, truncated = render_preview(value)
    record: dict[str, Any] = {"preview": preview, "truncated": truncated, "inline": False}
    if not truncated and is_plain_json(value):
        record["inline"] = True
    elif value is not None:
        artifact = scope.artifact_for(value)
        if artifact is None:
            artifact = save_artifact(value, name=f"{flow_name}_result")
        record["artifact_id"] = str(artifact.id)
    Client().create_run_metadata(
        metadata={RESULT_KEY: record},
        resources=[RunMetadataResource(id=UUID(exec_id), type=MetadataResourceTypes.PIPELINE_RUN)],
    )


def is_plain_json(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged (same types, same content)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return not isinstance(value, float) or value == value  # NaN does not round-trip
    if type(value) is list:
        return all(is_plain_json(item) for item in value)
    if type(value) is dict:
        return all(type(k) is str and is_plain_json(v) for k, v in value.items())
    return False


def stack_id(name_or_id: str) -> str:
    """The id of a stack by name or id; an unknown one is a not-found error listing all."""
    return str(stack_model(name_or_id).id)


def stack_model(name_or_id: str) -> Any:
    """The stack by name or id (one store query); an unknown one is a not-found error."""
    from kitaru_core.backend.bootstrap import zenml_client

    client = zenml_client()
    try:
        return client.get_stack(name_or_id, allow_name_prefix_match=False)
    except KeyError as exc:
        names = sorted(stack.name for stack in client.list_stacks(size=200).items)
        raise KitaruNotFoundError(
            f"No stack named '{name_or_id}'. Existing stacks: {', '.join(names)}.",
            hint=STACK_NAMES,
            details={"stack": name_or_id, "available": names},
        ) from exc


def _stack_to_run_on(name_or_id: str) -> Any:
    """The stack model for ``name_or_id``; the active stack's model is ZenML's cached copy.

    ZenML runs the pipeline on that same cached model of the active stack, so reading it here
    agrees with what runs and saves a store query per execution.
    """
    from kitaru_core.backend.bootstrap import zenml_client

    active = zenml_client().active_stack_model
    if name_or_id in (active.name, str(active.id)):
        return active
    return stack_model(name_or_id)


@contextlib.contextmanager
def temporary_stack(stack_id: str) -> Iterator[None]:
    """Run on ``stack_id`` for one execution without changing the persisted active stack."""
    previous = os.environ.get("ZENML_ACTIVE_STACK_ID")
    os.environ["ZENML_ACTIVE_STACK_ID"] = stack_id
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ZENML_ACTIVE_STACK_ID", None)
        else:
            os.environ["ZENML_ACTIVE_STACK_ID"] = previous


def resolve_config(flow: Flow, invocation: ExecutionOverrides) -> ExecutionConfig:
    from kitaru_core.backend.bootstrap import zenml_client

    client = zenml_client()
    return resolve_execution_config(
        invocation=invocation,
        flow=flow.defaults,
        active_stack=lambda: client.active_stack_model.name,
    )


def is_local_stack(stack_id: str) -> bool:
    """Whether the stack's orchestrator runs flows in this machine's processes."""
    from kitaru_core.backend.bootstrap import zenml_client

    return _runs_locally(zenml_client().get_stack(stack_id))


def _runs_locally(stack: Any) -> bool:
    from zenml.enums import StackComponentType

    orchestrators = stack.components.get(StackComponentType.ORCHESTRATOR) or []
    return all(component.flavor_name == "local" for component in orchestrators)


def keeps_logs_locally(stack: Any) -> bool:
    """Kitaru keeps the logs itself on a local stack, unless the stack names a log store
    (``kitaru log-store set``), which then receives them through ZenML."""
    from zenml.enums import StackComponentType

    return _runs_locally(stack) and not stack.components.get(StackComponentType.LOG_STORE)


def store_options(local: bool) -> dict[str, Any]:
    """What ZenML records per checkpoint: no artifact metadata or visualizations (Kitaru never
    shows them) and, on a local stack, no ZenML log storage (Kitaru keeps the logs itself)."""
    return {
        "enable_artifact_metadata": False,
        "enable_artifact_visualization": False,
        "enable_step_logs": not local,
        "enable_pipeline_logs": not local,
    }


def configured_pipeline(
    flow: Flow,
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

    from kitaru_core.runtime import interactive

    retries = config.retries.value
    spec = config.frozen_spec({"flow": flow.name})
    where = interactive.origin(flow.func)
    options: dict[str, Any] = {
        "enable_cache": config.cache.value,
        **store_options(local),
        "extra": {
            SPEC_KEY: spec,
            SOURCE_ROOT_KEY: str(flow_source_root(flow)),
            LOCAL_LOGS_KEY: local,
            # Marks a flow that only this process can load (see ``runtime/interactive``).
            **({interactive.INTERACTIVE_KEY: interactive.marker(where)} if where else {}),
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


def flow_source_root(flow: Flow) -> Path:
    """Where the flow's module is imported from when the run is resumed or replayed."""
    from kitaru_core.runtime.loader import source_root_for

    file = getattr(sys.modules.get(flow.func.__module__), "__file__", None)
    return source_root_for(Path(file) if file else None)


def use_source_root(root: str | Path) -> None:
    """Make ZenML resolve and reload flow modules relative to ``root``."""
    from zenml.utils import source_utils

    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    source_utils.set_custom_source_root(str(root))


def _docker_settings(image: ImageSettings, remote: bool) -> Any:
    """The container settings of a remote run: the user's image settings, Kitaru's package, and
    the model registry (so ``llm()`` resolves the same aliases there). Kitaru's package only
    when containers are built: a local run needs no installable Kitaru."""
    from zenml.config import DockerSettings

    from kitaru_core.services.llm_models import registry_environment

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
    flow: Flow,
    inputs: dict[str, Any],
    invocation: ExecutionOverrides,
    extra: dict[str, Any] | None = None,
) -> FlowHandle:
    """Run ``flow`` with ``inputs`` and return its handle (in this process, on ZenML)."""
    from kitaru_core.backend.status import to_public
    from kitaru_core.runtime import interactive
    from kitaru_core.runtime.handle import FlowHandle

    if interactive.origin(flow.func) is not None:
        # No file to import the flow from: ZenML names it ``__main__:<alias>`` (loadable here).
        interactive.allow_flows_without_file()
    config = resolve_config(flow, invocation)
    # One stack model answers both the id and whether Kitaru keeps the logs itself.
    stack_response = _stack_to_run_on(str(config.stack.value))
    stack = str(stack_response.id)
    use_source_root(flow_source_root(flow))
    local = keeps_logs_locally(stack_response)
    pipeline = configured_pipeline(
        flow, config, local=local, extra=extra, remote=not _runs_locally(stack_response)
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
