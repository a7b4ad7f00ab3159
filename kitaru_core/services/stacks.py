"""Stack operations shared by the CLI, the MCP server and the SDK.

Each takes a validated request (see :mod:`kitaru_core.requests.stacks`) or a stack name/id and
returns Kitaru models. The backend (and so the engine) is imported inside the functions, so
importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from kitaru_core.errors import KitaruNotFoundError, KitaruStateError
from kitaru_core.hints import STACK_NAMES, Hint
from kitaru_core.models import StackComponentInfo, StackDetails, StackInfo, StackListItem
from kitaru_core.requests.stack_fields import oxford_join
from kitaru_core.requests.stacks import (
    StackCreateRequest,
    StackDeleteRequest,
    normalize_stack_reference,
)

if TYPE_CHECKING:
    from kitaru_core.backend.stacks import NamedPart

DEFAULT_STACK = "default"
# What Kitaru creates for a stack, every part named after the stack (see backend/stack_specs).
_LOCAL_PARTS = frozenset({"orchestrator", "artifact_store"})
_REMOTE_PARTS = _LOCAL_PARTS | {"container_registry", "service_connector"}


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
    from kitaru_core.backend.store import execution_store

    return execution_store().list_stacks()


def current_stack() -> StackInfo:
    """The active stack (the persisted default that ``use`` changes)."""
    from kitaru_core.backend.store import execution_store

    return execution_store().active_stack()


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
    """Create the stack of a validated request; a failure part-way leaves nothing behind.

    A name is always creatable again after its stack was deleted: the Kitaru-managed parts an
    earlier stack of this name left behind (``delete`` without ``recursive``), which no stack
    uses any more, are replaced. Parts Kitaru did not create, or that a stack still uses, are
    never touched: if one holds a name the new stack needs, creation is refused.
    """
    from kitaru_core.backend import stacks as backend

    if backend.find_stack(request.name, name_only=True) is not None:
        raise KitaruStateError(
            f"A stack named '{request.name}' already exists.",
            hint="Pick another name, or delete the existing stack first.",
            details={"stack": request.name},
        )
    leftovers, blocking = _sort_parts(
        backend.parts_named(request.name), _REMOTE_PARTS if request.is_remote else _LOCAL_PARTS
    )
    if blocking:
        raise _name_taken(request.name, blocking)
    return backend.create_stack(request, replace=leftovers)


def _sort_parts(
    parts: list[NamedPart], needed: frozenset[str]
) -> tuple[list[NamedPart], list[NamedPart]]:
    """(leftovers that may be removed, parts in the way that must stay).

    A leftover is Kitaru-managed and unused: a component in no stack, a connector whose every
    user is itself a leftover. Other parts block only when the new stack needs their kind.
    """
    leftovers = [
        p for p in parts if p.kind != "service_connector" and p.is_managed and not p.used_by
    ]
    gone = {p.id for p in leftovers}
    leftovers += [
        p
        for p in parts
        if p.kind == "service_connector" and p.is_managed and set(p.user_ids) <= gone
    ]
    blocking = [p for p in parts if p not in leftovers and p.kind in needed]
    return leftovers, blocking


def _name_taken(name: str, blocking: list[NamedPart]) -> KitaruStateError:
    def why(part: NamedPart) -> str:
        if not part.is_managed:
            return "not created by Kitaru"
        return f"used by {oxford_join(list(part.used_by))}"

    listed = [f"{part.kind.replace('_', ' ')} '{part.name}' ({why(part)})" for part in blocking]
    return KitaruStateError(
        f"Stack '{name}' was not created: its parts are named after the stack, and "
        f"{oxford_join(listed)} already {'exists' if len(listed) == 1 else 'exist'}.",
        hint="Pick another stack name. Kitaru never removes a part it did not create or that "
        "a stack still uses; remove or rename it yourself if you no longer need it.",
        details={
            "stack": name,
            "conflicts": [
                {
                    "kind": p.kind,
                    "name": p.name,
                    "managed": p.is_managed,
                    "used_by": list(p.used_by),
                }
                for p in blocking
            ],
        },
    )


def delete_stack(request: StackDeleteRequest) -> StackDeletion:
    """Delete a stack; the active one only with ``force`` (which switches to ``default``)."""
    from kitaru_core.backend import stacks as backend

    stack = _require(request.name)
    if stack.name == DEFAULT_STACK:
        raise KitaruStateError(
            "The default stack cannot be deleted: Kitaru falls back to it.",
            hint=Hint(
                sdk="Delete another stack, or switch with `use_stack(name)`.",
                cli="Delete another stack, or switch with `kitaru stack use NAME`.",
                mcp="Delete another stack, or {tool:kitaru_stacks_use|switch stacks}.",
            ),
            details={"stack": stack.name},
        )
    if stack.is_active and not request.force:
        raise KitaruStateError(
            f"Stack '{stack.name}' is the active stack, so it was not deleted.",
            hint=Hint(
                sdk="Switch first (`use_stack('default')`), or pass force=True to switch to "
                "the default stack and delete it.",
                cli="Switch first (`kitaru stack use default`), or pass --force to switch to "
                "the default stack and delete it.",
                mcp="Switch first ({tool:kitaru_stacks_use} with name_or_id='default'), or pass "
                "force=true to switch to the default stack and delete it.",
            ),
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
        hint=STACK_NAMES,
        details={"stack": reference, "existing": names},
    )
