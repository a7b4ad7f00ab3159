"""The Python SDK's stack helpers: small, and returning :class:`StackInfo` (id, name, is_active).

``is_managed`` and the component details are part of the CLI/MCP list and show output, not of
``StackInfo``. ``create_stack`` provisions local stacks only; remote types are created through
the CLI (``kitaru stack create --type ...``) or MCP.
"""

from __future__ import annotations

from kitaru_core.models import StackInfo
from kitaru_core.requests.stacks import (
    MCP_LABELS,
    build_stack_create_request,
    build_stack_delete_request,
    normalize_stack_reference,
)
from kitaru_core.services import stacks as service

__all__ = ["create_stack", "current_stack", "delete_stack", "list_stacks", "use_stack"]

# The SDK's keyword arguments are spelled like the MCP parameters.
_LABELS = MCP_LABELS


def list_stacks() -> list[StackInfo]:
    """Every stack, with the active one marked."""
    return [StackInfo(id=s.id, name=s.name, is_active=s.is_active) for s in service.list_stacks()]


def current_stack() -> StackInfo:
    """The active stack (what ``kitaru stack current`` shows)."""
    return service.current_stack()


def use_stack(name_or_id: str) -> StackInfo:
    """Make a stack the persisted active stack; returns it."""
    return service.use_stack(normalize_stack_reference(name_or_id, labels=_LABELS, field="name"))


def create_stack(name: str, activate: bool = True) -> StackInfo:
    """Create a local stack (local orchestrator + local artifact store) named ``name``."""
    request = build_stack_create_request(name=name, activate=activate, labels=_LABELS)
    details = service.create_stack(request)
    return StackInfo(id=details.id, name=details.name, is_active=details.is_active)


def delete_stack(name: str, recursive: bool = False, force: bool = False) -> StackInfo:
    """Delete a stack (see ``kitaru stack delete``); returns the deleted stack."""
    request = build_stack_delete_request(name, recursive, force, labels=_LABELS)
    deleted = service.delete_stack(request).stack
    return StackInfo(id=deleted.id, name=deleted.name, is_active=False)
