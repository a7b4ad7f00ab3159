"""ZenML's store internals that the fast path and the per-run tunings rely on, in one place.

Each function wraps one internal name: an ORM schema class (``zenml.zen_stores.schemas``), the
SQL store's ``Session``, ``create_run_step``, ``update_run_step``, ``update_run``,
``get_run``, ``get_or_create_run``, ``_get_active_user``, ``_cached_onboarding_state`` and
``GlobalConfiguration._write_config``, the
cache lookup of ``zenml.orchestrators.cache_utils``, and the methods
:mod:`kitaru_core.backend.tuning` replaces.
``tests/test_zenml_compat_store.py`` checks every one of them against the installed ZenML, so an
upgrade that moves a name fails there, not at run time. ZenML is imported inside the functions
only (nothing here runs at start-up).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

# ``make(original)`` gives the replacement of a ZenML function.
Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]

# ---------------------------------------------------------------------------- monkeypatches


def replace_cache_lookup(make: Wrap) -> None:
    """Replace ``cache_utils.get_cached_step_run`` by ``make(original)``. ZenML's
    ``StepRunRequestFactory.populate_request`` reads the module attribute at call time."""
    from zenml.orchestrators import cache_utils

    cache_utils.get_cached_step_run = make(cache_utils.get_cached_step_run)


def replace_create_run_step(make: Wrap) -> None:
    """Replace ``SqlZenStore.create_run_step(self, step_run)`` by ``make(original)``."""
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    SqlZenStore.create_run_step = make(SqlZenStore.create_run_step)  # type: ignore[method-assign]


def replace_update_run_step(make: Wrap) -> None:
    """Replace ``SqlZenStore.update_run_step(self, step_run_id, step_run_update)`` by
    ``make(original)``."""
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    SqlZenStore.update_run_step = make(SqlZenStore.update_run_step)  # type: ignore[method-assign]


def replace_create_artifact_version(make: Wrap) -> None:
    """Replace ``SqlZenStore.create_artifact_version(self, artifact_version)`` by
    ``make(original)`` (``batch_create_artifact_versions`` calls it for each output)."""
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    SqlZenStore.create_artifact_version = make(SqlZenStore.create_artifact_version)  # type: ignore[method-assign]


def replace_update_run(make: Wrap) -> None:
    """Replace ``SqlZenStore.update_run(self, run_id, run_update)`` by ``make(original)``."""
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    SqlZenStore.update_run = make(SqlZenStore.update_run)  # type: ignore[method-assign]


def replace_get_run(make: Wrap) -> None:
    """Replace ``SqlZenStore.get_run(self, run_id, hydrate, include_full_metadata,
    include_python_packages)`` by ``make(original)``."""
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    SqlZenStore.get_run = make(SqlZenStore.get_run)  # type: ignore[method-assign]


def replace_get_or_create_run(make: Wrap) -> None:
    """Replace ``SqlZenStore.get_or_create_run(self, pipeline_run, pre_creation_hook=None)`` by
    ``make(original)``."""
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    SqlZenStore.get_or_create_run = make(SqlZenStore.get_or_create_run)  # type: ignore[method-assign]


def replace_python_packages(packages: Callable[[], list[str]]) -> None:
    """Answer ``Environment.get_python_packages()`` (ZenML runs ``pip freeze``) with
    ``packages``."""
    from zenml.environment import Environment

    Environment.get_python_packages = staticmethod(packages)  # type: ignore[method-assign]


def replace_hashed_source_code(make: Wrap) -> None:
    """Replace ``source_code_utils.get_hashed_source_code`` by ``make(original)`` (once: a
    replacement marked ``__kitaru_memoized__`` stays)."""
    from zenml.utils import source_code_utils

    original = source_code_utils.get_hashed_source_code
    if not getattr(original, "__kitaru_memoized__", False):
        source_code_utils.get_hashed_source_code = make(original)


def replace_activate_integrations(make: Wrap) -> None:
    """Replace the integration registry's ``activate_integrations(self)`` by ``make(original)``
    (once: a replacement marked ``__kitaru_once__`` stays)."""
    from zenml.integrations.registry import integration_registry

    registry_type = type(integration_registry)
    original = registry_type.activate_integrations
    if not getattr(original, "__kitaru_once__", False):
        registry_type.activate_integrations = make(original)  # type: ignore[method-assign]


def keep_global_config_unwritten() -> None:
    """From now on, this process never writes ZenML's global configuration file.

    For detached workers: they run with the configuration read when their pool started, and
    ZenML rewrites the whole file whenever it changes a setting in memory — for instance
    ``Stack.from_model`` records the stack a run uses as "active" when that stack's model is
    newer than the cached one. A worker would then put back the active stack (or project) it
    started with, undoing a ``kitaru stacks use`` made since. A worker has nothing to persist
    there: its run's stack and project are pinned for it.
    """
    from zenml.config.global_config import GlobalConfiguration

    def _write_config(self: Any) -> None:
        return None

    GlobalConfiguration._write_config = _write_config  # type: ignore[method-assign]


# ------------------------------------------------------------------------- store and schema


def configured_store() -> tuple[str, str]:
    """``(type, url)`` of the store ZenML's global configuration names (``sql`` or ``rest``)."""
    from zenml.config.global_config import GlobalConfiguration

    store = GlobalConfiguration().store_configuration
    return str(store.type.value), str(store.url)


def is_server_process() -> bool:
    """Whether this process is a ZenML server (its store serves clients: no shortcuts)."""
    from zenml.constants import ENV_ZENML_SERVER, handle_bool_env_var

    return bool(handle_bool_env_var(ENV_ZENML_SERVER))


def utc_now() -> datetime:
    """ZenML's "now" for stored times (naive UTC)."""
    from zenml.utils.time_utils import utc_now as now

    return now()


def step_run_row(request: Any, *, snapshot_id: UUID, version: int, is_retriable: bool) -> Any:
    """The ``step_run`` row ZenML builds from a ``StepRunRequest`` (its schema instance)."""
    from zenml.zen_stores.schemas import StepRunSchema

    return StepRunSchema.from_request(
        request, snapshot_id=snapshot_id, version=version, is_retriable=is_retriable
    )


def step_configuration_row(*, index: int, name: str, config: str, step_run_id: UUID) -> Any:
    """A ``step_configuration`` row as ZenML's schema builds it (id and times filled in)."""
    from zenml.zen_stores.schemas.pipeline_snapshot_schemas import StepConfigurationSchema

    return StepConfigurationSchema(index=index, name=name, config=config, step_run_id=step_run_id)


def active_user_id(store: Any) -> UUID:
    """The user a client-side SQL store records as the creator of what it writes."""
    from zenml.zen_stores.sql_zen_store import Session

    with Session(store.engine) as session:
        return UUID(str(store._get_active_user(session).id))


def artifact_row(*, name: str, project_id: UUID, has_custom_name: bool, user_id: UUID) -> Any:
    """The ``artifact`` row ZenML builds for a new artifact name (its schema instance)."""
    from zenml.models import ArtifactRequest
    from zenml.zen_stores.schemas import ArtifactSchema

    request = ArtifactRequest(name=name, project=project_id, has_custom_name=has_custom_name)
    request.user = user_id
    return ArtifactSchema.from_request(request)


def artifact_version_row(request: Any) -> Any:
    """The ``artifact_version`` row ZenML builds from an ``ArtifactVersionRequest`` that has
    its artifact id and version set (its schema instance)."""
    from zenml.zen_stores.schemas import ArtifactVersionSchema

    return ArtifactVersionSchema.from_request(request)


def stored_source(stored_json: str) -> Any:
    """A materializer or data type source as ZenML reads it back from its column."""
    from zenml.config.source import Source

    return Source.model_validate_json(stored_json)


def user_response(store: Any, user_id: UUID) -> Any:
    """A user as a step run response holds it: ZenML's ``UserSchema.to_model()`` (no
    metadata)."""
    from zenml.zen_stores.schemas import UserSchema
    from zenml.zen_stores.sql_zen_store import Session

    with Session(store.engine) as session:
        user = session.get(UserSchema, user_id)
        if user is None:
            raise LookupError(f"user {user_id} not found")
        return user.to_model()


def artifact_version_responses(store: Any, artifact_ids: list[UUID]) -> dict[UUID, Any]:
    """Artifact versions as ZenML's ``to_model`` gives them without metadata (what a step run
    response holds), read in one query with their artifact."""
    from sqlalchemy.orm import joinedload
    from sqlmodel import col, select
    from zenml.zen_stores.schemas import ArtifactVersionSchema
    from zenml.zen_stores.sql_zen_store import Session

    version = ArtifactVersionSchema
    with Session(store.engine) as session:
        rows = session.exec(
            select(version)
            .options(joinedload(version.artifact))  # type: ignore[arg-type]
            .where(col(version.id).in_(set(artifact_ids)))
        ).all()
        return {row.id: row.to_model() for row in rows}


def step_run_input_response(**fields: Any) -> Any:
    """ZenML's ``StepRunInputResponse`` (an input artifact of a step run response)."""
    from zenml.models.v2.core.step_run import StepRunInputResponse

    return StepRunInputResponse(**fields)


def pipeline_configuration(stored_json: str) -> Any:
    """A snapshot's stored pipeline configuration, parsed by ZenML's model."""
    from zenml.config.pipeline_configurations import PipelineConfiguration

    return PipelineConfiguration.model_validate_json(stored_json)


def is_cascading_tag(tag: Any) -> bool:
    """Whether a configured tag cascades to the run's artifacts (ZenML then tags outputs)."""
    from zenml.utils.tag_utils import Tag

    return isinstance(tag, Tag) and bool(tag.cascade)


def schema_columns(table: str) -> set[str]:
    """The column names of ZenML's ORM schema class for ``table`` (for the schema tests)."""
    import zenml.zen_stores.schemas  # noqa: F401  (registers every schema class)
    from sqlmodel import SQLModel

    return {column.name for column in SQLModel.metadata.tables[table].columns}


# ------------------------------------------------------------- what a run status update does


def has_run_status_listeners() -> bool:
    """Whether ZenML's event dispatcher has handlers (``update_run`` then notifies them of a
    status change)."""
    from zenml.dispatcher import EventDispatcher

    return bool(EventDispatcher().has_handlers())


def analytics_opted_in() -> bool:
    """Whether this client sends analytics (``update_run`` then reports a run's end)."""
    from zenml.config.global_config import GlobalConfiguration

    return bool(GlobalConfiguration().analytics_opt_in)


def onboarding_steps_recorded(store: Any) -> frozenset[str]:
    """The onboarding steps ``store`` knows are recorded (its ``_cached_onboarding_state``):
    ``update_run`` writes a finished run's steps to the server settings unless they are in it."""
    cached = getattr(store, "_cached_onboarding_state", None)
    return frozenset(cached or ())


def run_end_onboarding_steps(orchestrator_flavor: str, artifact_store_flavor: str) -> set[str]:
    """The onboarding steps ``update_run`` records when a run on this stack finishes."""
    from zenml.enums import OnboardingStep

    steps = {OnboardingStep.PIPELINE_RUN.value}
    if orchestrator_flavor not in {"local", "local_docker"}:
        steps.add(OnboardingStep.PIPELINE_RUN_WITH_REMOTE_ORCHESTRATOR.value)
    if artifact_store_flavor != "local":
        steps.add(OnboardingStep.PIPELINE_RUN_WITH_REMOTE_ARTIFACT_STORE.value)
    return steps


def resolved_run_metadata(rows: list[tuple[str, str, datetime]]) -> dict[str, Any]:
    """A run's ``run_metadata`` as ZenML's response shows it, from its ``(key, value JSON,
    created)`` rows: ZenML's own ``resolve_metadata_collection`` (latest per key, dicts
    merged)."""
    import json

    from zenml.models import RunMetadataEntry
    from zenml.zen_stores.schemas.utils import resolve_metadata_collection

    collection: dict[str, list[Any]] = {}
    for key, value, created in rows:
        collection.setdefault(key, []).append(
            RunMetadataEntry(value=json.loads(value), created=created)
        )
    return resolve_metadata_collection(collection)
