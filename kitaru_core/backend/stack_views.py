"""Reading stacks from ZenML and mapping them to Kitaru's stack models.

ZenML response objects stop here: callers get :mod:`kitaru_core.models` instances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from zenml.client import Client
from zenml.enums import StackComponentType
from zenml.models import ComponentResponse, Page, ServiceConnectorResponse, StackResponse
from zenml.utils.uuid_utils import is_valid_uuid

from kitaru_core.backend.stack_labels import TYPE_LABEL, is_managed
from kitaru_core.config.masking import mask_mapping
from kitaru_core.errors import KitaruUsageError
from kitaru_core.models import StackComponentInfo, StackDetails, StackInfo, StackListItem
from kitaru_core.requests.stacks import StackType

DEFAULT_STACK = "default"
# The order `show` lists components in; other component types follow alphabetically.
_COMPONENT_ORDER = ("orchestrator", "artifact_store", "container_registry")

T = TypeVar("T", bound=BaseModel)


def iterate(list_page: Callable[..., Page[T]], **filters: Any) -> Iterator[T]:
    """Every item of a paginated ZenML list call."""
    page_number = 1
    while True:
        page = list_page(page=page_number, size=100, **filters)
        yield from page.items
        if page_number >= page.total_pages:
            return
        page_number += 1


def active_stack_id(client: Client) -> UUID:
    return client.active_stack_model.id


def lookup(client: Client, reference: str, *, name_only: bool = False) -> StackResponse | None:
    """A stack by exact name, full id, or unique id prefix (names win over ids)."""
    by_name = client.list_stacks(name=f"equals:{reference}", hydrate=True)
    if by_name.total == 1 or name_only:
        return by_name.items[0] if by_name.total else None
    if is_valid_uuid(reference):
        try:
            return client.zen_store.get_stack(UUID(reference), hydrate=True)
        except KeyError:
            return None
    if len(reference) < 4 or any(ch not in "0123456789abcdef-" for ch in reference.lower()):
        return None
    by_prefix = client.list_stacks(id=f"startswith:{reference.lower()}", hydrate=True)
    if by_prefix.total > 1:
        names = ", ".join(stack.name for stack in by_prefix.items)
        raise KitaruUsageError(
            f"'{reference}' matches several stack ids ({names}).",
            hint="Use more characters of the id, or the stack name.",
        )
    return by_prefix.items[0] if by_prefix.total == 1 else None


def to_info(stack: StackResponse, active_id: UUID) -> StackInfo:
    return StackInfo(id=str(stack.id), name=stack.name, is_active=stack.id == active_id)


def to_list_item(stack: StackResponse, active_id: UUID) -> StackListItem:
    return StackListItem(
        **to_info(stack, active_id).model_dump(), is_managed=is_managed(stack.labels)
    )


def ordered_components(stack: StackResponse) -> list[ComponentResponse]:
    def rank(component_type: StackComponentType) -> tuple[int, str]:
        value = component_type.value
        position = _COMPONENT_ORDER.index(value) if value in _COMPONENT_ORDER else 99
        return position, value

    ordered: list[ComponentResponse] = []
    for component_type in sorted(stack.components, key=rank):
        ordered.extend(stack.components[component_type])
    return ordered


def to_component_info(component: ComponentResponse) -> StackComponentInfo:
    return StackComponentInfo(
        type=component.type.value,
        name=component.name,
        flavor=component.flavor_name,
        # ZenML keeps secret fields out of `configuration`; masking guards against the rest.
        configuration=mask_mapping(component.configuration),
        is_managed=is_managed(component.labels),
    )


def _stack_type(stack: StackResponse, components: list[ComponentResponse]) -> str:
    labelled = str((stack.labels or {}).get(TYPE_LABEL, ""))
    if labelled in {t.value for t in StackType}:
        return labelled
    for component in components:
        if component.type is StackComponentType.ORCHESTRATOR:
            return component.flavor_name
    return "unknown"


def _connector_view(components: list[ComponentResponse]) -> dict[str, Any] | None:
    """The connector used by the stack's components, with the resource each one reaches."""
    connector: ServiceConnectorResponse | None = None
    resources: dict[str, str] = {}
    for component in components:
        if component.connector is None:
            continue
        connector = connector or component.connector
        if component.connector.id == connector.id and component.connector_resource_id:
            resources[component.type.value] = component.connector_resource_id
    if connector is None:
        return None
    return {
        "id": str(connector.id),
        "name": connector.name,
        "type": str(connector.type),
        "auth_method": connector.auth_method,
        "configuration": mask_mapping(dict(connector.configuration.non_secrets)),
        "resources": resources,
        "is_managed": is_managed(connector.labels),
    }


def to_details(stack: StackResponse, active_id: UUID) -> StackDetails:
    components = ordered_components(stack)
    return StackDetails(
        **to_list_item(stack, active_id).model_dump(),
        stack_type=_stack_type(stack, components),
        components=[to_component_info(component) for component in components],
        connector=_connector_view(components),
    )
