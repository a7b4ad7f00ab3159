"""Stacks in ZenML: atomic create, delete, use, current, list and show.

Everything Kitaru creates (stack, components, connector) carries the ``kitaru.managed`` label,
so ``list`` can report ``is_managed``, ``delete --recursive`` removes only Kitaru's parts, and
``create`` may replace the unused Kitaru parts an earlier stack of the same name left behind.
Business rules (unknown names, the active stack) live in :mod:`kitaru_core.services.stacks`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from zenml.client import Client
from zenml.enums import StackComponentType
from zenml.models import ComponentRequest, ComponentResponse, ServiceConnectorResponse
from zenml.stack.utils import validate_stack_component_config

from kitaru_core.backend import stack_specs as specs
from kitaru_core.backend import stack_views as views
from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.backend.stack_labels import REGION_LABEL, TYPE_LABEL, is_managed, managed_labels
from kitaru_core.backend.zenml_compat.errors import is_authorization_error
from kitaru_core.config.masking import mask_value
from kitaru_core.errors import (
    KitaruBackendError,
    KitaruError,
    KitaruFeatureNotAvailableError,
    KitaruValidationError,
    translate_exception,
)
from kitaru_core.hints import Hint
from kitaru_core.models import StackComponentInfo, StackDetails, StackInfo, StackListItem
from kitaru_core.requests.stacks import StackCreateRequest

_CHECK_CREDENTIALS = (
    "Check the credentials (implicit auth also needs "
    "ZENML_ENABLE_IMPLICIT_AUTH_METHODS=true where the check runs)"
)

DEFAULT_STACK = views.DEFAULT_STACK
CONNECTOR_KIND = "service_connector"
# The component types Kitaru creates, each named after its stack.
_CREATED_TYPES = (
    StackComponentType.ORCHESTRATOR,
    StackComponentType.ARTIFACT_STORE,
    StackComponentType.CONTAINER_REGISTRY,
)

# (what, how to remove it) for every part created so far, undone in reverse on failure.
_UndoLog = list[tuple[str, Callable[[], None]]]


def list_stacks() -> list[StackListItem]:
    client = zenml_client()
    active = views.active_stack_id(client)
    return [
        views.to_list_item(stack, active)
        for stack in views.iterate(client.list_stacks, hydrate=True)
    ]


def current_stack() -> StackInfo:
    client = zenml_client()
    stack = client.active_stack_model
    return views.to_info(stack, stack.id)


def find_stack(name_or_id: str, *, name_only: bool = False) -> StackDetails | None:
    """The stack with this name, id or unique id prefix (or only this name), or ``None``."""
    client = zenml_client()
    stack = views.lookup(client, name_or_id, name_only=name_only)
    return None if stack is None else views.to_details(stack, views.active_stack_id(client))


def use_stack(stack_id: str) -> StackInfo:
    """Activate a stack; ZenML persists it as the active stack of Kitaru's config."""
    client = zenml_client()
    client.activate_stack(UUID(stack_id))
    stack = client.active_stack_model
    return views.to_info(stack, stack.id)


# ---------------------------------------------------------------------------------- create


@contextmanager
def flavor_source_root() -> Iterator[None]:
    """Let ZenML load flavor classes when ``__main__`` has no file.

    ZenML resolves a source root before loading any flavor class, and fails in ``python -c``,
    a REPL or a notebook. Built-in and integration flavors do not need one, so the working
    directory stands in while the stack is created; an existing source root is left alone.
    """
    from zenml.utils import source_utils

    try:
        source_utils.get_source_root()
    except RuntimeError:
        source_utils.set_custom_source_root(os.getcwd())
        try:
            yield
        finally:
            source_utils.set_custom_source_root(None)
    else:
        yield


@dataclass(frozen=True)
class NamedPart:
    """A component or service connector with a given name, as the create rule needs to see it.

    ``used_by`` names the stacks using a component, or the components using a connector
    (``user_ids`` are those components' ids).
    """

    kind: str  # a component type ("orchestrator", ...) or CONNECTOR_KIND
    id: str
    name: str
    is_managed: bool
    used_by: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()


def parts_named(name: str) -> list[NamedPart]:
    """Every component of a type Kitaru creates, and every service connector, called ``name``."""
    client = zenml_client()
    parts: list[NamedPart] = []
    for component_type in _CREATED_TYPES:
        for component in views.iterate(
            client.list_stack_components, name=f"equals:{name}", type=component_type
        ):
            stacks = views.iterate(client.list_stacks, component_id=component.id)
            parts.append(
                NamedPart(
                    kind=component_type.value,
                    id=str(component.id),
                    name=component.name,
                    is_managed=is_managed(component.labels),
                    used_by=tuple(f"stack '{stack.name}'" for stack in stacks),
                )
            )
    for connector in views.iterate(client.list_service_connectors, name=f"equals:{name}"):
        users = list(views.iterate(client.list_stack_components, connector_id=connector.id))
        parts.append(
            NamedPart(
                kind=CONNECTOR_KIND,
                id=str(connector.id),
                name=connector.name,
                is_managed=is_managed(connector.labels),
                used_by=tuple(f"{user.type.value} '{user.name}'" for user in users),
                user_ids=tuple(str(user.id) for user in users),
            )
        )
    return parts


def create_stack(request: StackCreateRequest, replace: Sequence[NamedPart] = ()) -> StackDetails:
    """Create the connector, components and stack of ``request`` — all of them or none.

    ``replace``: leftovers to remove first (the service decides which may go); they are
    removed only once the request has passed every check that needs no write.
    """
    with flavor_source_root():
        return _create_stack(request, replace)


def _create_stack(request: StackCreateRequest, replace: Sequence[NamedPart]) -> StackDetails:
    client = zenml_client()
    connector = specs.connector_spec(request)
    components = specs.component_specs(request)
    # Everything that can be checked without writing is checked before the first write.
    if connector is not None:
        _require_connector_type(client, connector.connector_type, request)
    configs = [_validated_config(spec) for spec in components]
    _remove_parts(client, replace)
    undo: _UndoLog = []
    try:
        connector_id = _create_connector(client, request, connector, undo) if connector else None
        created = [
            _create_component(client, request.name, spec, config, connector_id, undo)
            for spec, config in zip(components, configs, strict=True)
        ]
        stack = client.create_stack(
            name=request.name,
            components={component.type: component.id for component in created},
            labels=managed_labels(
                **{TYPE_LABEL: request.stack_type.value, REGION_LABEL: request.region}
            ),
        )
        undo.append((f"stack '{request.name}'", lambda: client.zen_store.delete_stack(stack.id)))
        if request.activate:
            client.activate_stack(stack.id)
    except Exception as exc:
        raise _creation_error(request.name, exc, _roll_back(undo)) from exc
    return views.to_details(client.zen_store.get_stack(stack.id), views.active_stack_id(client))


def _remove_parts(client: Client, parts: Sequence[NamedPart]) -> None:
    """Components first: a connector cannot go while a component still points at it."""
    for part in sorted(parts, key=lambda p: p.kind == CONNECTOR_KIND):
        if part.kind == CONNECTOR_KIND:
            client.zen_store.delete_service_connector(UUID(part.id))
        else:
            client.zen_store.delete_stack_component(UUID(part.id))


def _require_connector_type(
    client: Client, connector_type: str, request: StackCreateRequest
) -> None:
    """Remote stacks need ZenML's cloud connector, which only its extras install."""
    try:
        with warnings.catch_warnings():
            # Google's client libraries warn about Python versions on import; not our news.
            warnings.simplefilter("ignore")
            client.zen_store.get_service_connector_type(connector_type)
    except KeyError:
        raise KitaruFeatureNotAvailableError(
            f"A {request.stack_type.value} stack on {connector_type.upper()} needs ZenML's "
            f"{connector_type} service connector, which is not installed (on this machine, or "
            "on the server when connected to one).",
            extra=connector_type,
        ) from None


def _validated_config(spec: specs.ComponentSpec) -> dict[str, object]:
    """ZenML's own check of one component configuration, as a Kitaru validation error."""
    try:
        config = validate_stack_component_config(
            configuration_dict=spec.configuration,
            flavor=spec.flavor,
            component_type=spec.component_type,
        )
    except Exception as exc:
        reason = translate_exception(exc).message
        sentence = (
            f"The {spec.flavor} {spec.target.replace('_', ' ')} rejects its configuration: {reason}"
        )
        raise KitaruValidationError(sentence, fields={spec.target: sentence}) from exc
    assert config is not None  # only custom flavors that fail to import give None
    return config.model_dump(mode="json", exclude_unset=True)


def _create_connector(
    client: Client, request: StackCreateRequest, spec: specs.ConnectorSpec, undo: _UndoLog
) -> UUID:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            connector, _ = client.create_service_connector(
                name=request.name,
                connector_type=spec.connector_type,
                auth_method=spec.auth_method,
                configuration=spec.configuration,
                labels=managed_labels(),
                # verify=False registers without a single cloud call.
                verify=request.verify,
                list_resources=False,
            )
    except Exception as exc:
        reason = _scrub(str(exc), spec.secret_values)
        if request.verify and is_authorization_error(exc):
            raise KitaruBackendError(
                f"The {spec.connector_type} credentials could not be verified: {reason}",
                hint=Hint(
                    sdk=f"{_CHECK_CREDENTIALS}, or register without checking: verify=False.",
                    cli=f"{_CHECK_CREDENTIALS}, or register without checking: --no-verify.",
                    mcp=f"{_CHECK_CREDENTIALS}, or register without checking: verify=false.",
                ),
                retryable=False,
            ) from None  # the original exception may quote the credentials
        error = translate_exception(exc)
        # ZenML's validation messages may quote the values they reject, secrets included.
        error.message = _scrub(error.message, spec.secret_values)
        error.args = (error.message,)
        raise error from None
    assert isinstance(connector, ServiceConnectorResponse)  # register=True returns the record
    undo.append(
        (
            f"service connector '{connector.name}'",
            lambda: client.zen_store.delete_service_connector(connector.id),
        )
    )
    return connector.id


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, mask_value(secret) or "")
    return text


def _create_component(
    client: Client,
    name: str,
    spec: specs.ComponentSpec,
    config: dict[str, object],
    connector_id: UUID | None,
    undo: _UndoLog,
) -> ComponentResponse:
    component = client.zen_store.create_stack_component(
        ComponentRequest(
            name=name,
            type=spec.component_type,
            flavor=spec.flavor,
            configuration=config,
            labels=managed_labels(),
            connector=connector_id,
            connector_resource_id=spec.connector_resource_id,
        )
    )
    undo.append(
        (f"{spec.target} '{name}'", lambda: client.zen_store.delete_stack_component(component.id))
    )
    return component


def _roll_back(undo: _UndoLog) -> list[str]:
    """Undo in reverse order; returns what could not be removed."""
    left_behind: list[str] = []
    for what, remove in reversed(undo):
        try:
            remove()
        except Exception:
            left_behind.append(what)
    return left_behind


def _creation_error(name: str, exc: Exception, left_behind: list[str]) -> KitaruError:
    error = translate_exception(exc)
    if left_behind:
        tail = f"These parts could not be removed: {', '.join(left_behind)}."
        error.details["left_behind"] = left_behind
        error.hint = "Remove the parts named in the message, then try again."
    else:
        tail = "Nothing was left behind."
    error.message = f"Could not create stack '{name}': {error.message} {tail}"
    error.args = (error.message,)
    return error


# ---------------------------------------------------------------------------------- delete


def delete_stack(
    stack_id: str, *, recursive: bool, activate_default: bool
) -> tuple[list[StackComponentInfo], list[str]]:
    """Delete a stack record; ``recursive`` also removes its Kitaru-managed components and
    connector when no other stack uses them. Returns (removed components, removed connectors).
    """
    client = zenml_client()
    stack = client.zen_store.get_stack(UUID(stack_id), hydrate=True)
    if activate_default:
        client.activate_stack(DEFAULT_STACK)
    with warnings.catch_warnings():
        # ZenML 0.98's SQL store deletes the stack's composition rows twice (cascade + ORM)
        # and SQLAlchemy warns about the second, empty delete. Harmless, and not the user's.
        warnings.filterwarnings("ignore", message=".*stack_composition.*")
        client.zen_store.delete_stack(stack.id)
    if not recursive:
        return [], []
    removed: list[StackComponentInfo] = []
    connectors: dict[UUID, str] = {}
    for component in views.ordered_components(stack):
        if not is_managed(component.labels) or _in_any_stack(client, component.id):
            continue
        if component.connector is not None and is_managed(component.connector.labels):
            connectors[component.connector.id] = component.connector.name
        client.zen_store.delete_stack_component(component.id)
        removed.append(views.to_component_info(component))
    return removed, _delete_unused_connectors(client, connectors)


def _in_any_stack(client: Client, component_id: UUID) -> bool:
    return client.list_stacks(component_id=component_id, size=1).total > 0


def _delete_unused_connectors(client: Client, connectors: dict[UUID, str]) -> list[str]:
    removed: list[str] = []
    for connector_id, connector_name in connectors.items():
        if client.list_stack_components(connector_id=connector_id, size=1).total == 0:
            client.zen_store.delete_service_connector(connector_id)
            removed.append(connector_name)
    return removed
