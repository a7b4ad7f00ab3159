"""Stack services against the real ZenML store of this test process.

Remote stacks are registered with ``verify=False``: registering needs no cloud, verifying
would (and there is no cloud here). Every rejected request is shown to leave the stacks,
components and connectors exactly as they were.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from stack_store_support import (
    EXPECTED_REMOTE,
    GAR,
    ROLE,
    SEED_REMOTE,
    assert_rejected_unchanged,
    create,
    snapshot,
)

from kitaru_core.errors import (
    KitaruNotFoundError,
    KitaruValidationError,
)
from kitaru_core.models import StackInfo
from kitaru_core.requests.stacks import (
    CLI_LABELS,
    build_stack_create_request,
    build_stack_delete_request,
    load_stack_file,
)
from kitaru_core.services import stacks as service

# ------------------------------------------------------------------------ current / list / use


def test_default_stack_is_current_and_listed(store: Any) -> None:
    # `kitaru stack current` and `kitaru stack list [--output json]`
    assert service.current_stack().name == "default"
    items = service.list_stacks()
    assert [(i.name, i.is_active, i.is_managed) for i in items] == [("default", True, False)]
    assert set(json.loads(items[0].model_dump_json())) == {"id", "name", "is_active", "is_managed"}


def test_create_local_dev_activates_it(store: Any) -> None:
    # `kitaru stack create dev`
    details = create("dev")
    assert details.is_active and details.is_managed and details.stack_type == "local"
    assert [(c.type, c.name, c.flavor, c.is_managed) for c in details.components] == [
        ("orchestrator", "dev", "local", True),
        ("artifact_store", "dev", "local", True),
    ]
    assert details.connector is None
    assert service.current_stack().name == "dev"
    assert {i.name: i.is_managed for i in service.list_stacks()} == {"default": False, "dev": True}


def test_create_no_activate(store: Any) -> None:
    # `kitaru stack create dev --no-activate`
    details = create("dev", activate=False)
    assert not details.is_active
    assert service.current_stack().name == "default"


def test_use_by_name_and_id(store: Any) -> None:
    # `kitaru stack use prod-k8s` (name or id)
    dev = create("dev", activate=False)
    assert service.use_stack("dev") == StackInfo(id=dev.id, name="dev", is_active=True)
    assert service.use_stack(service.show_stack("default").id).name == "default"
    assert service.use_stack(dev.id[:8]).name == "dev"
    assert service.current_stack().name == "dev"


def _run_python(code: str) -> str:
    """Run code in a new process on this store; `python -c` also means __main__ has no file."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    return result.stdout.strip().splitlines()[-1]


def test_use_persists_for_the_next_process(store: Any) -> None:
    create("dev", activate=False)
    service.use_stack("dev")
    code = "from kitaru_core.services.stacks import current_stack; print(current_stack().name)"
    assert _run_python(code) == "dev"


def test_create_works_where_main_has_no_file(store: Any) -> None:
    # ZenML needs a source root to load flavors; a REPL or `python -c` has none of its own.
    code = (
        "from kitaru_core.sdk_stacks import create_stack; "
        "print(create_stack('repl-stack', activate=False).name)"
    )
    assert _run_python(code) == "repl-stack"
    assert "repl-stack" in snapshot(store)["stacks"]


def test_use_unknown_stack_lists_the_existing_ones(store: Any) -> None:
    create("dev", activate=False)
    error = assert_rejected_unchanged(store, KitaruNotFoundError, lambda: service.use_stack("prod"))
    assert error.message == "No stack named 'prod'. Existing stacks: default and dev."
    assert error.details["existing"] == ["default", "dev"]


def test_show_defaults_to_the_active_stack(store: Any) -> None:
    details = service.show_stack()
    assert details.name == "default" and details.stack_type == "local"
    assert not details.is_managed


# ------------------------------------------------------------------------ remote types


@pytest.mark.parametrize("name", list(SEED_REMOTE))
def test_seed_remote_examples_create_show_and_delete(store: Any, name: str) -> None:
    before = snapshot(store)
    details = create(name, **SEED_REMOTE[name])
    expected = EXPECTED_REMOTE[name]
    assert details.is_active and details.is_managed
    assert details.stack_type == SEED_REMOTE[name]["stack_type"]
    assert [c.flavor for c in details.components] == expected["flavors"]
    assert all(c.name == name and c.is_managed for c in details.components)
    orchestrator, artifact_store, registry = details.components
    assert expected["orchestrator"].items() <= orchestrator.configuration.items()
    assert artifact_store.configuration["path"] == SEED_REMOTE[name]["artifact_store"]
    assert registry.configuration["uri"] == SEED_REMOTE[name]["container_registry"]
    connector_type, connector_config, resources = expected["connector"]
    assert details.connector is not None
    assert details.connector["name"] == name and details.connector["is_managed"]
    assert (details.connector["type"], details.connector["auth_method"]) == (
        connector_type,
        "implicit",
    )
    assert details.connector["configuration"] == connector_config
    assert details.connector["resources"] == resources
    assert service.show_stack(name) == details
    # `kitaru stack delete NAME --recursive --force` puts everything back.
    deletion = service.delete_stack(build_stack_delete_request(name, True, True))
    assert deletion.switched_to_default and deletion.active_stack == "default"
    assert len(deletion.removed_components) == 3 and deletion.removed_connectors == [name]
    assert snapshot(store) == before


def test_vertex_async_with_extra(store: Any) -> None:
    details = create(
        "prod-vertex",
        **SEED_REMOTE["prod-vertex"],
        async_mode=True,
        extra=["orchestrator.pipeline_root=gs://my-bucket/vertex-root"],
    )
    config = details.components[0].configuration
    assert config["synchronous"] is False
    assert config["pipeline_root"] == "gs://my-bucket/vertex-root"


def test_vertex_explicit_synchronous_beats_async(store: Any) -> None:
    details = create(
        "prod-vertex",
        **SEED_REMOTE["prod-vertex"],
        async_mode=True,
        extra=["orchestrator.synchronous=true"],
    )
    assert details.components[0].configuration["synchronous"] is True


def test_seed_yaml_file_with_cli_overrides(store: Any, tmp_path: Path) -> None:
    # `kitaru stack create -f stack.yaml`, with flags over the file
    path = tmp_path / "stack.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: prod-vertex
        type: vertex
        artifact_store: gs://my-bucket/kitaru
        container_registry: {GAR}
        region: us-central1
        async: true
        verify: false
        extra:
          orchestrator:
            pipeline_root: gs://my-bucket/vertex-root
          container_registry:
            default_repository: agents
        """)
    )
    request = build_stack_create_request(
        name=None,
        region="europe-west4",
        extra=["orchestrator.pipeline_root=gs://b/root"],
        labels=CLI_LABELS,
        file_values=load_stack_file(path, labels=CLI_LABELS),
    )
    details = service.create_stack(request)
    orchestrator, _, registry = details.components
    assert details.name == "prod-vertex"
    assert orchestrator.configuration["location"] == "europe-west4"
    assert orchestrator.configuration["pipeline_root"] == "gs://b/root"
    assert orchestrator.configuration["synchronous"] is False
    assert registry.configuration["default_repository"] == "agents"


def test_kubernetes_on_gcp_with_namespace(store: Any) -> None:
    details = create(
        "gke",
        stack_type="kubernetes",
        artifact_store="gs://b/k",
        container_registry=GAR,
        cluster="gke-1",
        region="europe-west1",
        namespace="agents",
    )
    assert [c.flavor for c in details.components] == ["kubernetes", "gcp", "gcp"]
    assert details.components[0].configuration["kubernetes_namespace"] == "agents"
    assert details.connector is not None
    assert details.connector["resources"] == {"orchestrator": "gke-1"}


def test_abfss_is_stored_as_abfs(store: Any) -> None:
    inputs = {**SEED_REMOTE["prod-azureml"], "artifact_store": "abfss://my-container/kitaru"}
    details = create("az", **inputs)
    assert details.components[1].configuration["path"] == "abfs://my-container/kitaru"


# ------------------------------------------------------------------------ credentials

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AZURE_SECRET = "azure-client-secret-value-123"


def test_aws_access_key_credentials(store: Any) -> None:
    details = create(
        "sm",
        **SEED_REMOTE["prod-sagemaker"],
        credentials=f"access-key:AKIAIOSFODNN7EXAMPLE:{AWS_SECRET}",
    )
    assert details.connector is not None
    assert details.connector["auth_method"] == "secret-key"
    assert AWS_SECRET not in details.model_dump_json()
    assert "AKIAIOSFODNN7EXAMPLE" not in details.model_dump_json()


def test_aws_profile_and_role_are_implicit_variants(store: Any) -> None:
    details = create("k1", **SEED_REMOTE["prod-k8s"], credentials="profile:ml-team")
    assert details.connector is not None
    assert details.connector["configuration"] == {"region": "eu-west-1", "profile_name": "ml-team"}
    details = create("k2", **SEED_REMOTE["prod-k8s"], credentials=f"role:{ROLE}")
    assert details.connector is not None
    assert details.connector["configuration"]["role_arn"] == ROLE


def test_azure_service_principal(store: Any) -> None:
    tenant, client = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    details = create(
        "az",
        **SEED_REMOTE["prod-azureml"],
        credentials=f"service-principal:{tenant}:{client}:{AZURE_SECRET}",
    )
    assert details.connector is not None
    assert details.connector["auth_method"] == "service-principal"
    assert details.connector["configuration"]["client_id"] == client
    assert AZURE_SECRET not in details.model_dump_json()


def _service_account_key(path: Path) -> Path:
    fields = [
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "client_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_x509_cert_url",
    ]
    path.write_text(json.dumps({"type": "service_account", **{f: f"test-{f}" for f in fields}}))
    return path


def test_gcp_service_account_key_file(store: Any, tmp_path: Path) -> None:
    key = _service_account_key(tmp_path / "sa.json")
    details = create("vx", **SEED_REMOTE["prod-vertex"], credentials=str(key))
    assert details.connector is not None
    assert details.connector["auth_method"] == "service-account"
    assert "test-private_key" not in details.model_dump_json()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "could not be read"),
        ("{not json", "is not valid JSON"),
        ('{"type": "authorized_user"}', "is not a service-account key"),
        ('{"type": "service_account", "private_key": "k"}', "lacks project_id"),
    ],
)
def test_bad_gcp_key_file_is_rejected_before_anything_exists(
    store: Any, tmp_path: Path, content: str | None, needle: str
) -> None:
    key = tmp_path / "key.json"
    if content is not None:
        key.write_text(content)
    request = build_stack_create_request(
        name="vx",
        labels=CLI_LABELS,
        verify=False,
        **SEED_REMOTE["prod-vertex"],
        credentials=f"service-account:{key}",
    )
    error = assert_rejected_unchanged(
        store, KitaruValidationError, lambda: service.create_stack(request)
    )
    assert "key.json" in error.message and needle in error.message
    assert "credentials" in error.fields
