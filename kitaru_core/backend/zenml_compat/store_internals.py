"""ZenML's store internals that the fast path and the per-run tunings rely on, in one place.

Each function wraps one internal name: an ORM schema class (``zenml.zen_stores.schemas``), the
SQL store's ``Session``, ``create_run_step`` and ``_get_active_user``, the cache lookup of
``zenml.orchestrators.cache_utils``, and the methods :mod:`kitaru_core.backend.tuning` replaces.
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
