"""The ZenML log-store component behind ``kitaru log-store``."""

from __future__ import annotations

import contextlib
from typing import Any

from zenml.enums import StackComponentType

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.config.settings import LogStoreSettings
from kitaru_core.errors import KitaruStateError

COMPONENT = "kitaru-log-store"


def _configuration(settings: LogStoreSettings) -> dict[str, Any]:
    if settings.backend == "datadog":
        # One key for ingestion and for reading logs back.
        config: dict[str, Any] = {
            "api_key": settings.api_key,
            "application_key": settings.api_key,
        }
        if settings.endpoint:
            config["endpoint"] = settings.endpoint
        return config
    config = {"endpoint": settings.endpoint}
    if settings.api_key:
        config["headers"] = {"Authorization": f"Bearer {settings.api_key}"}
    return config


def apply(settings: LogStoreSettings, stack: str | None = None) -> None:
    """Make ``stack`` (default: the active one) send its logs where ``settings`` say."""
    client = zenml_client()
    model = client.get_stack(stack) if stack else client.active_stack_model
    target = str(model.id)
    is_default = model.name == "default"
    if settings.backend == "artifact-store":
        if not is_default:
            client.update_stack(target, component_updates={StackComponentType.LOG_STORE: []})
        with contextlib.suppress(Exception):  # still used by another stack: keep it
            client.delete_stack_component(COMPONENT, StackComponentType.LOG_STORE)
        return
    if is_default:
        raise KitaruStateError(
            "The default stack cannot carry a log store (ZenML keeps it fixed).",
            hint="Create a stack and use it first: kitaru stack create dev, then run "
            "`kitaru log-store set` again.",
        )
    try:
        client.get_stack_component(StackComponentType.LOG_STORE, COMPONENT)
    except KeyError:
        client.create_stack_component(
            name=COMPONENT,
            flavor=settings.backend,
            component_type=StackComponentType.LOG_STORE,
            configuration=_configuration(settings),
        )
    else:
        client.update_stack_component(
            COMPONENT,
            StackComponentType.LOG_STORE,
            configuration=_configuration(settings),
        )
    client.update_stack(target, component_updates={StackComponentType.LOG_STORE: [COMPONENT]})
