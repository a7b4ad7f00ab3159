"""Runtime primitives used inside flows: ``wait``, ``log``, ``save``, ``load``, ``configure``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, WithJsonSchema

from kitaru_core.config.image import ImageInput
from kitaru_core.config.resolver import configure as configure_settings
from kitaru_core.errors import KitaruContextError, KitaruNotFoundError, KitaruUsageError
from kitaru_core.naming import SAVED_PREFIX
from kitaru_core.runtime import context

DEFAULT_WAIT_TIMEOUT = 600.0
# How often a waiting worker looks for the answer: the input → resume latency is about this.
WAIT_POLL_INTERVAL = 0.2
_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_PLAIN_SCHEMAS = (bool, int, float, str, list, dict)


class FlowSuspended(BaseException):
    """Carries ZenML's pause/abort signal past ``except Exception`` in user code."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _zenml_schema(schema: Any) -> Any:
    """The type ZenML validates the answer with (a JSON schema dict is passed through as-is)."""
    if schema is None:
        return None
    if schema in _PLAIN_SCHEMAS or (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return schema
    if isinstance(schema, dict):
        return Annotated[Any, WithJsonSchema(schema)]
    raise KitaruUsageError(
        f"wait(schema=...) must be bool, int, float, str, list, dict, a pydantic model or a "
        f"JSON schema dict, not {schema!r}.",
    )


def wait(
    *,
    name: str | None = None,
    schema: Any = None,
    question: str | None = None,
    timeout: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """Suspend the flow until input arrives; return the validated, typed answer.

    With no ``schema`` it is a continue/abort gate that returns ``None``. After ``timeout``
    seconds (default 600) the worker releases its compute and the execution stays ``waiting``;
    an answer later resumes it from here without re-running completed checkpoints.
    """
    scope = context.require_flow_scope("wait()")
    zenml_schema = _zenml_schema(schema)
    if timeout is not None and timeout < 0:
        raise KitaruUsageError(f"wait(timeout=...) must be >= 0 seconds, got {timeout}.")
    from zenml import wait as zenml_wait

    from kitaru_core import terminal

    if scope.answers:
        recorded, answer = _recorded_answer(scope, name, zenml_schema)
        if recorded:
            return answer
    terminal.waiting(name, question)
    try:
        # ZenML annotates poll_interval as int but sleeps with it, so a fraction works.
        poll: Any = WAIT_POLL_INTERVAL
        return zenml_wait(
            schema=zenml_schema,
            timeout=int(DEFAULT_WAIT_TIMEOUT if timeout is None else timeout),
            poll_interval=poll,
            question=question,
            metadata=metadata or {},
            name=name,
        )
    except Exception as exc:
        from kitaru_core.backend.zenml_compat.errors import is_run_suspension

        if is_run_suspension(exc):
            raise FlowSuspended(exc) from exc
        raise


def _recorded_answer(scope: context.FlowScope, name: str | None, schema: Any) -> tuple[bool, Any]:
    """Replay/retry: the answer the original execution got for this wait, if any.

    Unnamed waits are numbered by ZenML in call order; taking the next number here keeps the
    numbering of later waits the same as in the original execution.
    """
    from pydantic import TypeAdapter

    from kitaru_core.backend.zenml_compat.runner import next_wait_name

    if name is None:
        name = next_wait_name()
        if name is None:
            return False, None
    if name not in scope.answers:
        return False, None
    value = scope.answers[name]
    from kitaru_core import terminal

    terminal.answer_reused(name)
    return True, None if schema is None else TypeAdapter(schema).validate_python(value)


def log(**metadata: Any) -> None:
    """Attach metadata to the current checkpoint, or to the execution at flow scope."""
    scope = context.current_flow()
    if scope is None:
        raise KitaruContextError(
            "log() can only be called while a flow is running.",
            hint="Call log() inside a @flow or @checkpoint function.",
        )
    if not metadata:
        return
    from zenml import log_metadata

    if context.current_checkpoint() is not None:
        log_metadata(metadata=metadata)
    else:
        log_metadata(metadata=metadata, run_id_name_or_prefix=scope.exec_id)


def save(name: str, value: Any) -> str:
    """Store ``value`` as a named artifact of the running execution; returns its artifact id."""
    scope = context.current_flow()
    if scope is None:
        raise KitaruContextError(
            "save() can only be called while a flow is running.",
            hint="Call save() inside a @flow or @checkpoint function.",
        )
    if not isinstance(name, str) or not _ARTIFACT_NAME.match(name.strip()):
        raise KitaruUsageError(
            f"save(name, value): {name!r} is not a valid artifact name.",
            hint="Use letters, digits, '_', '.' and '-' (at most 100 characters).",
        )
    from zenml import log_metadata, save_artifact

    artifact = save_artifact(value, name=name.strip())
    key = SAVED_PREFIX + name.strip()
    if context.current_checkpoint() is not None:
        # Kept on the checkpoint, so a cached call of it still knows what it saved.
        log_metadata(metadata={key: str(artifact.id)})
    else:
        log_metadata(metadata={key: str(artifact.id)}, run_id_name_or_prefix=scope.exec_id)
    return str(artifact.id)


def load(exec_id: str, name: str) -> Any:
    """Load an artifact of an execution: a ``save()`` name or a checkpoint call id."""
    from kitaru_core.backend.runs import (
        get_run,
        load_artifact,
        saved_artifacts,
        use_run_source_root,
    )

    run = get_run(exec_id)
    use_run_source_root(run)
    saved = saved_artifacts(run, SAVED_PREFIX)
    if name in saved:
        return load_artifact(saved[name])
    step = (run.steps or {}).get(name)
    if step is not None and step.outputs:
        # A checkpoint that called save() also lists that artifact among its outputs; the
        # call's return value is the output the step declares.
        declared = set(step.config.outputs) if step.config else set()
        artifacts = [
            artifact
            for output, versions in step.outputs.items()
            if output in declared or not declared
            for artifact in versions
        ]
        if artifacts:
            return load_artifact(str(artifacts[0].id))
    available = sorted(set(saved) | set(run.steps or {}))
    raise KitaruNotFoundError(
        f"Execution {exec_id} has no artifact named '{name}'.",
        hint=f"Available: {', '.join(available) or 'none'}.",
        details={"exec_id": exec_id, "name": name, "available": available},
    )


def configure(
    *,
    stack: str | None = None,
    cache: bool | None = None,
    retries: int | None = None,
    image: ImageInput | None = None,
    project: str | None = None,
) -> None:
    """Set process-local defaults for flows started in this process.

    They rank above environment variables and ``[tool.kitaru]`` and below ``@flow(...)`` and
    ``run(...)`` arguments; the persisted active stack is not changed.
    """
    configure_settings(stack=stack, cache=cache, retries=retries, image=image, project=project)
