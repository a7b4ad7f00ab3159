"""Stack operations shared by the CLI, the MCP server and the SDK.

Each takes a validated request (see :mod:`kitaru_core.requests.stacks`) or a stack name/id and
returns Kitaru models. The backend (and so ZenML) is imported inside the functions, so
importing this module stays cheap.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kitaru_core.errors import KitaruNotFoundError, KitaruStateError
from kitaru_core.models import StackComponentInfo, StackDetails, StackInfo, StackListItem
from kitaru_core.requests.stack_fields import oxford_join
from kitaru_core.requests.stacks import (
    StackCreateRequest,
    StackDeleteRequest,
    normalize_stack_reference,
)

DEFAULT_STACK = "default"


class StackDeletion(BaseModel):
    """What ``delete`` did: the stack as it was, what else went, and the active stack after."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stack: StackDetails
    removed_components: list[StackComponentInfo] = Field(default_factory=list)
    removed_connectors: list[str] = Field(default_factory=list)
    active_stack: str
    switched_to_default: bool = False


def list_stacks() -> list[StackListItem]:
    """Every stack: ``id, name, is_active, is_managed``."""
    from kitaru_core.backend import local_store

    stacks = local_store.read_locally(local_store.list_stacks)  # without importing ZenML
    if stacks is not None and any(stack.is_active for stack in stacks):
        return stacks  # (without an active stack among them, ZenML repairs it)
    from kitaru_core.backend import stacks as backend

    return backend.list_stacks()


def current_stack() -> StackInfo:
    """The active stack (the persisted default that ``use`` changes)."""
    from kitaru_core.backend import local_store

    stack = local_store.read_locally(local_store.active_stack)
    if stack is not None:  # read without importing ZenML
        return stack
    from kitaru_core.backend import stacks as backend

    return backend.current_stack()


def show_stack(name_or_id: str | None = None) -> StackDetails:
    """Components, flavors, key configuration and connector of one stack (default: active)."""
    if name_or_id is None or not name_or_id.strip():
        name_or_id = current_stack().id
    return _require(name_or_id)


def use_stack(name_or_id: str) -> StackInfo:
    """Make a stack (by name or id) the persisted active stack."""
    from kitaru_core.backend import stacks as backend

    return backend.use_stack(_require(name_or_id).id)


def create_stack(request: StackCreateRequest) -> StackDetails:
    """Create the stack of a validated request; a failure part-way leaves nothing behind."""
    from kitaru_core.backend import stacks as backend

    if backend.find_stack(request.name, name_only=True) is not None:
        raise KitaruStateError(
            f"A stack named '{request.name}' already exists.",
            hint="Pick another name, or delete the existing stack first.",
            details={"stack": request.name},
        )
    return backend.create_stack(request)


def delete_stack(request: StackDeleteRequest) -> StackDeletion:
    """Delete a stack; the active one only with ``force`` (which switches to ``default``)."""
    from kitaru_core.backend import stacks as backend

    stack = _require(request.name)
    if stack.name == DEFAULT_STACK:
        raise KitaruStateError(
            "The default stack cannot be deleted: Kitaru falls back to it.",
            hint="Delete another stack, or switch with `kitaru stack use NAME`.",
            details={"stack": stack.name},
        )
    if stack.is_active and not request.force:
        raise KitaruStateError(
            f"Stack '{stack.name}' is the active stack, so it was not deleted.",
            hint="Switch first (`kitaru stack use default`), or pass force "
            "(`--force` on the CLI) to switch to the default stack and delete it.",
            details={"stack": stack.name, "is_active": True},
        )
    removed, connectors = backend.delete_stack(
        stack.id, recursive=request.recursive, activate_default=stack.is_active
    )
    return StackDeletion(
        stack=stack,
        removed_components=removed,
        removed_connectors=connectors,
        active_stack=backend.current_stack().name,
        switched_to_default=stack.is_active,
    )


def _require(name_or_id: str) -> StackDetails:
    """The stack, or a not-found error that lists the stacks that do exist."""
    from kitaru_core.backend import stacks as backend

    reference = normalize_stack_reference(name_or_id)
    stack = backend.find_stack(reference)
    if stack is not None:
        return stack
    names = [item.name for item in backend.list_stacks()]
    raise KitaruNotFoundError(
        f"No stack named '{reference}'. Existing stacks: {oxford_join(names) or 'none'}.",
        hint="Use one of the listed names (`kitaru stack list`), or create it with "
        "`kitaru stack create`.",
        details={"stack": reference, "existing": names},
    )
