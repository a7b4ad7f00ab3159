"""Every ZenML internal the fast path relies on (``backend/zenml_compat/store_internals.py``)
still exists in the installed ZenML with the shape Kitaru uses, and the fast path's schema
(``backend/zenml_compat/schema.py``) matches ZenML's own schema classes.

A ZenML upgrade that moves or renames one of these fails here, naming it, instead of turning
cache hits or reads into run-time errors.
"""

from __future__ import annotations

import inspect
from typing import Any
from uuid import uuid4

import pytest

from kitaru_core.backend.zenml_compat import schema, store_internals


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_cache_lookup_is_a_module_function_taking_a_cache_key() -> None:
    from zenml.orchestrators import cache_utils

    assert callable(cache_utils.get_cached_step_run), "cache_utils.get_cached_step_run moved"
    assert _parameters(cache_utils.get_cached_step_run)[:1] == ["cache_key"]
    # populate_request must read it from the module at call time for the patch to work.
    from zenml.orchestrators import step_run_utils

    source = inspect.getsource(step_run_utils)
    assert "cache_utils.get_cached_step_run(" in source


def test_create_run_step_takes_the_step_run_request() -> None:
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    assert _parameters(SqlZenStore.create_run_step) == ["self", "step_run"]


def test_update_run_step_takes_the_id_and_the_update() -> None:
    from zenml.models import StepRunUpdate
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    assert _parameters(SqlZenStore.update_run_step) == ["self", "step_run_id", "step_run_update"]
    # The fields ``step_record`` checks to tell a plain success from any other update.
    assert set(StepRunUpdate.model_fields) == {
        "outputs",
        "loaded_artifact_versions",
        "status",
        "end_time",
        "exception_info",
        "cache_expires_at",
        "add_logs",
    }
    assert isinstance(inspect.getattr_static(SqlZenStore, "resource_pools_enabled"), property)


def test_a_completion_update_sets_only_status_end_and_update_times() -> None:
    """``step_record`` writes these three columns, as ``StepRunSchema.update`` does for a
    plain success."""
    from zenml.zen_stores.schemas import StepRunSchema

    source = inspect.getsource(StepRunSchema.update)
    for column in ("status", "end_time", "exception_info", "cache_expires_at", "updated"):
        assert f"self.{column} =" in source, column


def test_update_run_takes_the_id_and_the_update() -> None:
    from zenml.models import PipelineRunUpdate
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    assert _parameters(SqlZenStore.update_run) == ["self", "run_id", "run_update"]
    assert _parameters(SqlZenStore.get_or_create_run)[:2] == ["self", "pipeline_run"]
    # The fields ``run_record`` checks to tell a plain update from any other.
    assert set(PipelineRunUpdate.model_fields) == {
        "status",
        "status_reason",
        "orchestrator_run_id",
        "exception_info",
        "outputs",
        "add_tags",
        "remove_tags",
        "add_logs",
    }


def test_a_run_status_update_sets_the_columns_run_record_writes() -> None:
    """``run_record`` writes these columns as ``update_status`` and ``update`` set them; the
    run end's side effects it checks for are the ones ``update_run`` has."""
    from zenml.zen_stores.schemas import PipelineRunSchema
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    status = inspect.getsource(PipelineRunSchema.update_status)
    for column in ("status", "in_progress", "end_time", "status_reason", "updated"):
        assert f"self.{column} =" in status, column
    assert "requested_status == ExecutionStatus.PROVISIONING" in status
    update = inspect.getsource(PipelineRunSchema.update)
    assert "self.orchestrator_run_id =" in update and "self.updated = utc_now()" in update
    tail = inspect.getsource(SqlZenStore._update_pipeline_run_status)
    for effect in ("has_handlers()", "RUN_PIPELINE_ENDED", "_update_onboarding_state("):
        assert effect in tail, effect
    onboarding = inspect.getsource(SqlZenStore._update_onboarding_state)
    assert "self._cached_onboarding_state" in onboarding


def test_run_end_side_effects_are_read(zenml_client: Any) -> None:
    assert store_internals.has_run_status_listeners() is False
    assert store_internals.analytics_opted_in() is False  # the tests run with analytics off
    recorded = store_internals.onboarding_steps_recorded(zenml_client.zen_store)
    assert isinstance(recorded, frozenset)
    assert store_internals.run_end_onboarding_steps("local", "local") == {"pipeline_run"}
    assert len(store_internals.run_end_onboarding_steps("kubernetes", "s3")) == 3


def test_run_metadata_is_resolved_as_zenml_resolves_it() -> None:
    from datetime import datetime

    early, late = datetime(2026, 1, 1), datetime(2026, 1, 2)
    rows = [("a", '{"x": 1}', early), ("b", "1", early), ("a", '{"y": 2}', late), ("b", "2", late)]
    assert store_internals.resolved_run_metadata(rows) == {"a": {"x": 1, "y": 2}, "b": 2}


def test_create_artifact_version_takes_the_request_and_is_what_the_batch_calls() -> None:
    from zenml.models import ArtifactVersionRequest
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    assert _parameters(SqlZenStore.create_artifact_version) == ["self", "artifact_version"]
    batch = inspect.getsource(SqlZenStore.batch_create_artifact_versions)
    assert "self.create_artifact_version(" in batch
    # The fields ``artifact_record.applies`` checks to tell a plain output from any other.
    for field in (
        "artifact_name",
        "artifact_id",
        "version",
        "has_custom_name",
        "tags",
        "visualizations",
        "metadata",
    ):
        assert field in ArtifactVersionRequest.model_fields, field


def test_artifact_rows_are_built_from_requests() -> None:
    from zenml.config.source import Source
    from zenml.enums import ArtifactSaveType, ArtifactType
    from zenml.models import ArtifactVersionRequest

    project, user, store = uuid4(), uuid4(), uuid4()
    artifact = store_internals.artifact_row(
        name="flow::call::output", project_id=project, has_custom_name=False, user_id=user
    )
    assert artifact.id and artifact.created and artifact.name == "flow::call::output"
    assert artifact.project_id == project and artifact.user_id == user
    source = Source.from_import_path("builtins.int")
    request = ArtifactVersionRequest(
        project=project,
        artifact_id=artifact.id,
        version="3",
        type=ArtifactType.DATA,
        artifact_store_id=store,
        uri="/tmp/x",
        materializer=source,
        data_type=source,
        save_type=ArtifactSaveType.STEP_OUTPUT,
    )
    version = store_internals.artifact_version_row(request)
    assert version.version_number == 3 and version.artifact_id == artifact.id
    assert store_internals.stored_source(version.data_type) == source


def test_environment_python_packages_is_a_static_method() -> None:
    from zenml.environment import Environment

    assert isinstance(inspect.getattr_static(Environment, "get_python_packages"), staticmethod)


def test_hashed_source_code_takes_one_value() -> None:
    from zenml.utils import source_code_utils

    assert len(_parameters(source_code_utils.get_hashed_source_code)) == 1


def test_the_integration_registry_activates_integrations() -> None:
    from zenml.integrations.registry import integration_registry

    method = type(integration_registry).activate_integrations
    assert _parameters(method) == ["self"]


def test_the_server_process_flag_is_read() -> None:
    assert store_internals.is_server_process() is False


def test_utc_now_is_naive_utc() -> None:
    assert store_internals.utc_now().tzinfo is None


def test_configured_store_names_the_local_sql_store(zenml_client: Any) -> None:
    kind, url = store_internals.configured_store()
    assert kind == "sql" and url.startswith("sqlite:///")


def test_the_active_user_is_read_from_the_sql_store(zenml_client: Any) -> None:
    user_id = store_internals.active_user_id(zenml_client.zen_store)
    assert user_id == zenml_client.active_user.id


def test_step_configuration_rows_get_an_id_and_times() -> None:
    step_id = uuid4()
    row = store_internals.step_configuration_row(
        index=0, name="call", config="{}", step_run_id=step_id
    )
    assert row.step_run_id == step_id and row.id and row.created and row.name == "call"


def test_step_run_rows_are_built_from_a_request() -> None:
    from zenml.zen_stores.schemas import StepRunSchema

    parameters = _parameters(StepRunSchema.from_request)
    assert parameters[:4] == ["request", "snapshot_id", "version", "is_retriable"]


def test_artifact_versions_and_input_responses(zenml_client: Any) -> None:
    from flows_exec import listing
    from flows_exec.support import new_salt

    handle = listing.compared_flow.run(f"compat-{new_salt()}")
    handle.wait(timeout=120)
    step = zenml_client.get_pipeline_run(handle.exec_id).steps["label"]
    artifact_id = next(iter(step.outputs.values()))[0].id
    found = store_internals.artifact_version_responses(zenml_client.zen_store, [artifact_id])
    assert found[artifact_id].uri
    response = store_internals.step_run_input_response(
        input_type="step_output",
        index=0,
        chunk_index=None,
        chunk_size=None,
        **found[artifact_id].model_dump(),
    )
    assert response.id == artifact_id and response.index == 0


def test_user_responses_are_zenml_user_models(zenml_client: Any) -> None:
    user_id = store_internals.active_user_id(zenml_client.zen_store)
    user = store_internals.user_response(zenml_client.zen_store, user_id)
    assert user.id == user_id and user.name == zenml_client.active_user.name
    assert user.metadata is None  # as a step run response holds it
    with pytest.raises(LookupError):
        store_internals.user_response(zenml_client.zen_store, uuid4())


def test_input_types_are_chosen_from_the_configuration_in_this_order() -> None:
    """``step_record`` types a computed call's inputs as ZenML's create_run_step does:
    overrides first (ZenML's path), then another call's output, then an external artifact."""
    from zenml.config.step_configurations import StepConfiguration, StepSpec
    from zenml.zen_stores.sql_zen_store import SqlZenStore

    source = inspect.getsource(SqlZenStore._get_step_run_input_type_from_config)
    checks = [
        "in input_overrides",
        "in step_spec.normalized_inputs",
        "in step_config.external_input_artifacts",
    ]
    positions = [source.index(check) for check in checks]
    assert positions == sorted(positions)
    assert "external_input_artifacts" in StepConfiguration.model_fields
    assert "normalized_inputs" in dir(StepSpec)
    create = inspect.getsource(SqlZenStore.create_run_step)
    assert "index = i" in create and "input_spec.chunk_index" in create


def test_pipeline_configuration_and_cascading_tags() -> None:
    from zenml.utils.tag_utils import Tag

    configuration = store_internals.pipeline_configuration('{"name": "a_flow"}')
    assert configuration.name == "a_flow" and configuration.model is None
    assert store_internals.is_cascading_tag(Tag(name="t", cascade=True))
    assert not store_internals.is_cascading_tag("plain")


@pytest.mark.parametrize("table", sorted(schema.TABLES))
def test_the_fast_path_schema_matches_zenml_schema_classes(table: str) -> None:
    """ZenML's ORM classes have every column the fast path uses, exactly those of the tables
    the cache writer fills, with the same SQL types as the fast path's Core tables."""
    spec = schema.TABLES[table]
    if table == "alembic_version":
        return  # alembic's own table: no ZenML class
    zenml_columns = store_internals.schema_columns(table)
    missing = set(spec.columns) - zenml_columns
    assert not missing, f"{table}: ZenML's schema class lacks {missing}"
    if spec.complete:
        assert zenml_columns == set(spec.columns), f"{table}: ZenML's columns changed"
    from sqlalchemy.dialects import sqlite
    from sqlmodel import SQLModel

    def sql_type(column: Any) -> str:  # as SQLite declares it, without a length
        return str(column.type.compile(dialect=sqlite.dialect())).split("(")[0]

    theirs = SQLModel.metadata.tables[table].columns
    for column in schema.core_table(table).columns:
        assert sql_type(column) == sql_type(theirs[column.name]), f"{table}.{column.name}"


_CONFIG_SCRIPT = """
import sys, uuid
from zenml.config.global_config import GlobalConfiguration
from kitaru_core.backend.zenml_compat import store_internals
if sys.argv[1] == "worker":
    store_internals.keep_global_config_unwritten()
GlobalConfiguration().active_stack_id = uuid.uuid4()  # ZenML writes the file on any change
"""


def test_a_worker_never_writes_the_global_config_back(zenml_client: Any, tmp_path: Any) -> None:
    """A worker's stale settings must not undo a ``stacks use`` made after it started; the
    same change in an ordinary process does reach the file (so this test can fail)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    source = Path(os.environ["ZENML_CONFIG_PATH"]) / "config.yaml"
    changed = {}
    for kind in ("worker", "ordinary"):
        folder = tmp_path / kind
        folder.mkdir()
        shutil.copy(source, folder / "config.yaml")
        before = (folder / "config.yaml").read_text()
        subprocess.run(
            [sys.executable, "-c", _CONFIG_SCRIPT, kind],
            # Kitaru points ZenML at its own config dir (importing ZenML imports Kitaru's hooks).
            env={**os.environ, "KITARU_CONFIG_PATH": str(folder), "ZENML_CONFIG_PATH": str(folder)},
            check=True,
            timeout=300,
        )
        changed[kind] = (folder / "config.yaml").read_text() != before
    assert changed == {"worker": False, "ordinary": True}
