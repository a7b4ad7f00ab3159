"""ZenML's dynamic-pipeline runner: the run context of the running flow body, its invocation
ids, and the signal that stops a run without marking it failed.

ZenML names used: ``zenml.execution.pipeline.dynamic.run_context.DynamicPipelineRunContext``
(``get()``, ``run``, ``runner``, ``next_wait_condition_name()``),
``zenml.execution.pipeline.utils.compute_invocation_id``, the runner's private
``_invocation_id_lock`` and ``_invocation_ids``, and
``zenml.execution.pipeline.dynamic.runner._WaitConditionAborted``.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any


def run_context() -> Any | None:
    """The dynamic run this thread executes the flow body of, or ``None`` outside one."""
    from zenml.execution.pipeline.dynamic.run_context import DynamicPipelineRunContext

    return DynamicPipelineRunContext.get()


def current_run() -> Any:
    """The pipeline run whose flow body this thread executes."""
    context = run_context()
    assert context is not None, "a flow body runs inside a ZenML dynamic run"
    return context.run


def next_wait_name() -> str | None:
    """Take the name ZenML gives the next unnamed wait of this run (``None`` outside a run).

    ZenML numbers unnamed waits in call order; taking a number keeps later ones unchanged.
    """
    context = run_context()
    return None if context is None else str(context.next_wait_condition_name())


def claim_invocation_id(base_name: str, *, pinned: bool, only_if: Container[str]) -> str | None:
    """The id ZenML would give the next call named ``base_name``, claimed for this run when it
    is in ``only_if``; ``None`` (nothing claimed) when it is not, or outside a run.

    ``pinned``: ``base_name`` is a user-given id, used as-is (no ``_2`` suffix). The runner's
    own lock is held, so a concurrent call cannot take the same id.
    """
    from zenml.execution.pipeline.utils import compute_invocation_id

    context = run_context()
    if context is None:
        return None
    runner = context.runner
    with runner._invocation_id_lock:
        call_id = compute_invocation_id(
            existing_invocations=runner._invocation_ids,
            base_name=base_name,
            allow_suffix=not pinned,
        )
        if call_id not in only_if:
            return None
        runner._invocation_ids.add(call_id)
    return str(call_id)


def abort_signal(message: str) -> Exception:
    """The exception that ends a flow body while ZenML leaves the run's status alone (it is
    what an aborted wait raises), so a status written before it stays."""
    from zenml.execution.pipeline.dynamic.runner import _WaitConditionAborted

    return _WaitConditionAborted(message)
