"""Record a computed checkpoint's output artifact in one transaction (local SQLite store only).

Every output of a computed checkpoint call becomes an artifact version. ZenML writes it in
``SqlZenStore.create_artifact_version``: it checks the artifact store, finds or creates the
artifact of that name, numbers the version (the highest number + 1, retrying on a clash), adds
visualizations, tags and metadata, commits several times and re-reads the new row into a full
response model with its artifact, user, tags, visualizations, metadata and producer.

For an output of a flow run on a local store, Kitaru's tuning leaves nothing to visualize, tag
or describe with metadata, so :func:`record` writes the very same rows (built by ZenML's schema
classes from the request) with a few core statements in one transaction, and builds the
response from them: a new version has no visualizations, tags, metadata or producer yet (the
producer link is written when the call completes). It takes this way only for such a plain
request on the fast path's one guard; anything else — a version clash with a concurrent writer
included, after its transaction rolled back — goes through ZenML's method.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from kitaru_core.backend.zenml_compat import schema, store_internals


def applies(request: Any) -> bool:
    """Whether the request is a plain output (checked in memory): a named artifact with no
    explicit version, custom name, tags, visualizations or metadata."""
    return (
        bool(request.artifact_name)
        and request.artifact_id is None
        and request.version is None
        and not request.has_custom_name
        and not request.tags
        and not request.visualizations
        and not request.metadata
    )


def record(store: Any, request: Any, user: Any) -> Any | None:
    """Write the artifact version of ``request`` (and its artifact if the name is new) as
    ZenML's method would; its response, or ``None`` (nothing written, the request as it was)
    when ZenML's method must do it. ``user`` is the creator's user response."""
    try:
        written = _write(store, request, user.id)
    except Exception:  # rolled back: ZenML's method writes it (or raises its own error)
        written = None
    if written is None:
        # ZenML's method takes a set version as an explicit one: hand the request back as is.
        request.artifact_id, request.version = None, None
        return None
    artifact, version = written
    return _response(artifact, version, user)


def _write(store: Any, request: Any, user_id: UUID) -> tuple[Any, Any] | None:
    from sqlalchemy import func, insert, select

    component = schema.core_table("stack_component").c
    version_table = schema.core_table("artifact_version")
    with store.engine.begin() as connection:  # one transaction: all rows or none
        found = connection.execute(
            select(component.id).where(component.id == request.artifact_store_id)
        ).first()
        if found is None:
            return None  # ZenML explains a missing artifact store
        request.user = user_id  # as ZenML's method sets it
        artifact = _artifact(connection, request, user_id)
        highest = connection.execute(
            select(func.max(version_table.c.version_number)).where(
                version_table.c.artifact_id == artifact.id
            )
        ).scalar()
        request.artifact_id = artifact.id
        request.version = str(1 if highest is None else int(highest) + 1)
        version = store_internals.artifact_version_row(request)
        connection.execute(insert(version_table), schema.row_values("artifact_version", version))
    return artifact, version


def _artifact(connection: Any, request: Any, user_id: UUID) -> Any:
    """The artifact row of the request's name in its project, inserted if it is new."""
    from sqlalchemy import insert, select

    table = schema.core_table("artifact")
    row = (
        connection.execute(
            select(table)
            .where(table.c.name == request.artifact_name)
            .where(table.c.project_id == request.project)
        )
        .mappings()
        .first()
    )
    if row is not None:
        return _Row(row)
    artifact = store_internals.artifact_row(
        name=request.artifact_name,
        project_id=request.project,
        has_custom_name=False,
        user_id=user_id,
    )
    connection.execute(insert(table), schema.row_values("artifact", artifact))
    return artifact


class _Row:
    """A stored row read as attributes, like the schema instance of a new one."""

    def __init__(self, values: Any) -> None:
        self.__dict__.update(values)


def _response(artifact: Any, version: Any, user: Any) -> Any:
    """The response ZenML's ``to_model(include_metadata=True, include_resources=True)`` gives
    for a new version: no visualizations, metadata, tags or producer yet."""
    from zenml.enums import ArtifactSaveType, ArtifactType
    from zenml.models import (
        ArtifactResponse,
        ArtifactResponseBody,
        ArtifactVersionResponse,
        ArtifactVersionResponseBody,
        ArtifactVersionResponseMetadata,
        ArtifactVersionResponseResources,
    )

    return ArtifactVersionResponse(
        id=version.id,
        body=ArtifactVersionResponseBody(
            user_id=version.user_id,
            project_id=version.project_id,
            artifact=ArtifactResponse(
                id=artifact.id,
                name=artifact.name,
                body=ArtifactResponseBody(
                    user_id=artifact.user_id,
                    project_id=artifact.project_id,
                    created=artifact.created,
                    updated=artifact.updated,
                ),
            ),
            version=version.version or str(version.version_number),
            uri=version.uri,
            type=ArtifactType(version.type),
            materializer=store_internals.stored_source(version.materializer),
            data_type=store_internals.stored_source(version.data_type),
            created=version.created,
            updated=version.updated,
            save_type=ArtifactSaveType(version.save_type),
            artifact_store_id=version.artifact_store_id,
            content_hash=version.content_hash,
            item_count=version.item_count,
        ),
        metadata=ArtifactVersionResponseMetadata(visualizations=[], run_metadata={}),
        resources=ArtifactVersionResponseResources(
            user=user, tags=[], producer_step_run_id=None, producer_pipeline_run_id=None
        ),
    )
