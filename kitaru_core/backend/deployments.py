"""Deployment versions as ZenML snapshots (``kitaru::<flow>::v<N>``) with routing tags.

Routing tags are ZenML tags named ``kitaru:x:<tag>`` (exclusive) or ``kitaru:s:<tag>`` (shared).
ZenML scopes an exclusive tag to one pipeline (= one flow) and moves it in the same database
transaction that attaches it, so a move never leaves zero or two holders.
"""

from __future__ import annotations

import contextlib
from typing import Any
from uuid import UUID

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.errors import KitaruStateError
from kitaru_core.models import Deployment, DeploymentTag
from kitaru_core.requests.deployments import VersionTags, parse_snapshot_name, snapshot_name

DEPLOYMENT_KEY = "kitaru_deployment"
_EXCLUSIVE, _SHARED = "kitaru:x:", "kitaru:s:"
MAX_VERSION_ATTEMPTS = 25


def zenml_tag(tag: str, exclusive: bool) -> str:
    return (_EXCLUSIVE if exclusive else _SHARED) + tag


def _kitaru_tags(snapshot: Any) -> dict[str, bool]:
    tags: dict[str, bool] = {}
    for tag in snapshot.tags or []:
        if tag.name.startswith(_EXCLUSIVE):
            tags[tag.name[len(_EXCLUSIVE) :]] = True
        elif tag.name.startswith(_SHARED):
            tags[tag.name[len(_SHARED) :]] = False
    return tags


def list_snapshots(flow: str) -> list[Any]:
    """The flow's deployment snapshots, oldest version first."""
    page = zenml_client().list_snapshots(
        name=f"startswith:kitaru::{flow}::v", hydrate=True, size=1000
    )
    found = []
    for snapshot in page.items:
        parsed = parse_snapshot_name(snapshot.name or "")
        if parsed and parsed[0] == flow:
            found.append((parsed[1], snapshot))
    return [snapshot for _, snapshot in sorted(found, key=lambda item: item[0])]


def version_tags(snapshots: list[Any]) -> list[VersionTags]:
    return [
        VersionTags(version=_version(snapshot), tags=_kitaru_tags(snapshot))
        for snapshot in snapshots
    ]


def _version(snapshot: Any) -> int:
    parsed = parse_snapshot_name(snapshot.name or "")
    assert parsed is not None
    return parsed[1]


def orchestrator_flavors(stack_id: str) -> list[str]:
    from zenml.enums import StackComponentType

    stack = zenml_client().get_stack(UUID(stack_id))
    orchestrators = stack.components.get(StackComponentType.ORCHESTRATOR) or []
    return [str(component.flavor_name) for component in orchestrators]


def create_version(flow: str, pipeline: Any, first_guess: int) -> tuple[int, Any]:
    """Save ``pipeline`` as the next free version; racing deploys retry with the next number."""
    from zenml.exceptions import EntityExistsError

    version = first_guess
    for _ in range(MAX_VERSION_ATTEMPTS):
        try:
            return version, pipeline.create_snapshot(name=snapshot_name(flow, version))
        except EntityExistsError:
            version += 1
    raise KitaruStateError(
        f"Could not allocate a version number for flow '{flow}' (too many concurrent deploys).",
        retryable=True,
    )


def add_tag(snapshot_id: str, tag: str, exclusive: bool) -> None:
    client = zenml_client()
    name = zenml_tag(tag, exclusive)
    try:
        client.get_tag(name)
    except KeyError:
        from zenml.exceptions import EntityExistsError

        with contextlib.suppress(EntityExistsError):  # created concurrently by another deploy
            client.create_tag(name=name, exclusive=exclusive)
    client.update_snapshot(UUID(snapshot_id), add_tags=[name])


def remove_tag(snapshot_id: str, tag: str, exclusive: bool) -> None:
    zenml_client().update_snapshot(UUID(snapshot_id), remove_tags=[zenml_tag(tag, exclusive)])


def delete(snapshot_id: str) -> None:
    zenml_client().delete_snapshot(UUID(snapshot_id))


def get_snapshot(snapshot_id: str) -> Any:
    return zenml_client().get_snapshot(UUID(snapshot_id), hydrate=True)


def to_deployment(snapshot: Any) -> Deployment:
    info = dict((snapshot.pipeline_configuration.extra or {}).get(DEPLOYMENT_KEY) or {})
    parsed = parse_snapshot_name(snapshot.name or "")
    assert parsed is not None
    tags = _kitaru_tags(snapshot)
    return Deployment(
        flow=parsed[0],
        version=parsed[1],
        tags=[DeploymentTag(name=name, exclusive=exclusive) for name, exclusive in tags.items()],
        created_at=snapshot.created,
        stack=snapshot.stack.name if snapshot.stack else info.get("stack"),
        inputs=dict(info.get("inputs") or {}),
        input_schema=dict(info.get("input_schema") or {}),
        local=bool(info.get("local")),
        snapshot_id=str(snapshot.id),
        target=info.get("target"),
    )


def trigger_remote(snapshot_id: str, inputs: dict[str, Any]) -> str:
    """Start a remote deployment on the server from its snapshot; returns the exec_id."""
    from zenml.config.pipeline_run_configuration import PipelineRunConfiguration

    run = zenml_client().trigger_pipeline(
        snapshot_name_or_id=UUID(snapshot_id),
        run_configuration=PipelineRunConfiguration(parameters=inputs),
    )
    return str(run.id)
