"""The flows the store knows: ZenML pipelines that ran or were deployed, read as plain records.

The service (``services/flows.py``) turns a record into a :class:`~kitaru_core.models.FlowInfo`;
this module only reads: pipeline names, each one's latest run (its status, and the source and
input schema its pipeline spec recorded) and its deployment snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.models import Deployment, Execution

_PAGE_SIZE = 1000


@dataclass(frozen=True)
class FlowRecord:
    """What the store holds about one flow (plain values, no ZenML objects)."""

    name: str
    last_run: Execution | None = None
    # From the latest run's pipeline spec: ``{"module": ..., "attribute": ...}`` and the JSON
    # schema of the inputs it ran with; the source root the run was started from.
    source: dict[str, Any] = field(default_factory=dict)
    input_schema: dict[str, Any] = field(default_factory=dict)
    source_root: str | None = None
    interactive: bool = False
    deployments: list[Deployment] = field(default_factory=list)


def _pipelines() -> list[Any]:
    """Every pipeline of the active project, by name."""
    client = zenml_client()
    found: list[Any] = []
    page_number = 1
    while True:
        page = client.list_pipelines(sort_by="asc:name", size=_PAGE_SIZE, page=page_number)
        found.extend(page.items)
        if page_number >= page.total_pages:
            return found
        page_number += 1


def _deployments_by_flow() -> dict[str, list[Deployment]]:
    from kitaru_core.backend.deployments import list_all_snapshots, to_deployment

    grouped: dict[str, list[Deployment]] = {}
    for snapshot in list_all_snapshots():
        deployment = to_deployment(snapshot)
        grouped.setdefault(deployment.flow, []).append(deployment)
    for versions in grouped.values():
        versions.sort(key=lambda item: item.version)
    return grouped


def list_flows(*, offset: int, size: int) -> tuple[list[FlowRecord], bool]:
    """A page of flows by name: ``(records, has_more)``. A pipeline that neither ran nor has a
    deployment (a deploy that failed before saving) is not a flow anyone can use: left out."""
    deployments = _deployments_by_flow()
    known = [
        pipeline
        for pipeline in _pipelines()
        if pipeline.latest_run_id is not None or pipeline.name in deployments
    ]
    window = known[offset : offset + size]
    records = [_record(pipeline, deployments.get(pipeline.name, [])) for pipeline in window]
    return records, len(known) > offset + len(window)


def _record(pipeline: Any, deployments: list[Deployment]) -> FlowRecord:
    from kitaru_core.backend.recovery import reconcile
    from kitaru_core.backend.runs import get_run, to_execution
    from kitaru_core.naming import INTERACTIVE_KEY, SOURCE_ROOT_KEY

    if pipeline.latest_run_id is None:
        return FlowRecord(name=pipeline.name, deployments=deployments)
    run = reconcile(get_run(str(pipeline.latest_run_id)))
    extra = run.config.extra or {}
    spec = run.snapshot.pipeline_spec if run.snapshot else None
    return FlowRecord(
        name=pipeline.name,
        last_run=to_execution(run, summary=True),
        source=spec.source.model_dump(mode="json") if spec and spec.source else {},
        input_schema=dict(spec.input_schema or {}) if spec else {},
        source_root=extra.get(SOURCE_ROOT_KEY),
        interactive=bool(extra.get(INTERACTIVE_KEY)),
        deployments=deployments,
    )
