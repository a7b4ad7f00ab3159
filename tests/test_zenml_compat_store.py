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
