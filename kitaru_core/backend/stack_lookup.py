"""Find the stack an execution runs on, and what kind of stack it is."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from kitaru_core.errors import KitaruNotFoundError
from kitaru_core.hints import STACK_NAMES


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


def stack_to_run_on(name_or_id: str) -> Any:
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


def is_local_stack(stack_id: str) -> bool:
    """Whether the stack's orchestrator runs flows in this machine's processes."""
    from kitaru_core.backend.bootstrap import zenml_client

    return runs_locally(zenml_client().get_stack(stack_id))


def runs_locally(stack: Any) -> bool:
    """Whether every orchestrator of the stack model is the local one."""
    from zenml.enums import StackComponentType

    orchestrators = stack.components.get(StackComponentType.ORCHESTRATOR) or []
    return all(component.flavor_name == "local" for component in orchestrators)


def keeps_logs_locally(stack: Any) -> bool:
    """Kitaru keeps the logs itself on a local stack, unless the stack names a log store
    (``kitaru log-store set``), which then receives them through ZenML."""
    from zenml.enums import StackComponentType

    return runs_locally(stack) and not stack.components.get(StackComponentType.LOG_STORE)
