"""Deployment versions as ZenML snapshots (``kitaru::<flow>::v<N>``) with routing tags.

Routing tags are ZenML tags named ``kitaru:x:<tag>`` (exclusive) or ``kitaru:s:<tag>`` (shared).
ZenML scopes an exclusive tag to one pipeline (= one flow) and moves it in the same database
transaction that attaches it, so a move never leaves zero or two holders.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from uuid import UUID

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.errors import KitaruStateError
from kitaru_core.models import Deployment, DeploymentTag
from kitaru_core.requests.deployments import VersionTags, parse_snapshot_name, snapshot_name

DEPLOYMENT_KEY = "kitaru_deployment"
SOURCE_KEY = "source"  # in the deployment info: the saved source of a local version
_EXCLUSIVE, _SHARED = "kitaru:x:", "kitaru:s:"
MAX_VERSION_ATTEMPTS = 25
_PAGE_SIZE = 1000


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
    from zenml.constants import STR_FIELD_MAX_LENGTH

    # No stored snapshot name is longer than ZenML's cap, so such a flow has no deployments;
    # asking anyway would hand SQLite a LIKE pattern it may refuse ("too complex").
    if len(snapshot_name(flow, 1)) > STR_FIELD_MAX_LENGTH:
        return []
    page = zenml_client().list_snapshots(
        name=f"startswith:kitaru::{flow}::v", hydrate=True, size=1000
    )
    found = []
    for snapshot in page.items:
        parsed = parse_snapshot_name(snapshot.name or "")
        if parsed and parsed[0] == flow:
            found.append((parsed[1], snapshot))
    return [snapshot for _, snapshot in sorted(found, key=lambda item: item[0])]


def list_all_snapshots() -> list[Any]:
    """Every flow's deployment snapshots, newest first (by creation, then flow and version)."""
    client = zenml_client()
    found: list[tuple[Any, str, int, Any]] = []
    page_number = 1
    while True:
        page = client.list_snapshots(
            name="startswith:kitaru::", hydrate=True, size=_PAGE_SIZE, page=page_number
        )
        for snapshot in page.items:
            parsed = parse_snapshot_name(snapshot.name or "")
            if parsed:  # other snapshots under the prefix are not Kitaru deployments
                found.append((snapshot.created, parsed[0], parsed[1], snapshot))
        if page_number >= page.total_pages:
            break
        page_number += 1
    # Several flows may be deployed within the same clock tick; flow and version break ties.
    found.sort(key=lambda item: (item[0] is not None, item[0], item[1], item[2]), reverse=True)
    return [snapshot for *_, snapshot in found]


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


def save_source(target: str, root: Path, stack_id: str) -> dict[str, str]:
    """Save the source a local version runs from: an archive of ``root`` in the artifact store
    and the flow file's path inside it (stored with the version's deployment info)."""
    from kitaru_core.backend import source_archive

    file = Path(target.rpartition(":")[0]).resolve()
    return {
        "archive": source_archive.save(root, stack_id),
        "file": file.relative_to(root.resolve()).as_posix(),
    }


def local_target(snapshot: Any) -> str:
    """The target a local version's worker loads: the flow in the unpacked copy of the source
    saved at deploy time. Versions saved before sources were kept fall back to the live file."""
    from kitaru_core.backend import source_archive

    info = dict((snapshot.pipeline_configuration.extra or {}).get(DEPLOYMENT_KEY) or {})
    source = info.get(SOURCE_KEY)
    if not isinstance(source, dict):
        return str(info.get("target"))
    root = source_archive.unpack(str(source["archive"]), info.get("stack"))
    return f"{root / str(source['file'])}:{info['flow']}"


def trigger_remote(snapshot_id: str, inputs: dict[str, Any]) -> str:
    """Start a remote deployment on the server from its snapshot; returns the exec_id."""
    from zenml.config.pipeline_run_configuration import PipelineRunConfiguration

    run = zenml_client().trigger_pipeline(
        snapshot_name_or_id=UUID(snapshot_id),
        run_configuration=PipelineRunConfiguration(parameters=inputs),
    )
    return str(run.id)
