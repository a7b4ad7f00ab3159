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
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kitaru_core import sdk_stacks
from kitaru_core.backend.stacks import flavor_source_root
from kitaru_core.errors import (
    KitaruError,
    KitaruNotFoundError,
    KitaruStateError,
    KitaruValidationError,
)
from kitaru_core.models import StackDetails, StackInfo
from kitaru_core.requests.stacks import (
    CLI_LABELS,
    MCP_LABELS,
    StackFieldLabels,
    build_stack_create_request,
    build_stack_delete_request,
    load_stack_file,
)
from kitaru_core.services import stacks as service

E = TypeVar("E", bound=KitaruError)

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
GAR = "us-central1-docker.pkg.dev/my-project/my-repo"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000123"

# The seed's `kitaru stack create` examples for the four remote types, as CLI inputs.
SEED_REMOTE: dict[str, dict[str, Any]] = {
    "prod-k8s": {
        "stack_type": "kubernetes",
        "artifact_store": "s3://my-bucket/kitaru",
        "container_registry": ECR,
        "cluster": "prod-cluster",
        "region": "eu-west-1",
    },
    "prod-vertex": {
        "stack_type": "vertex",
        "artifact_store": "gs://my-bucket/kitaru",
        "container_registry": GAR,
        "region": "us-central1",
    },
    "prod-sagemaker": {
        "stack_type": "sagemaker",
        "artifact_store": "s3://my-bucket/kitaru",
        "container_registry": ECR,
        "region": "eu-west-1",
        "execution_role": ROLE,
    },
    "prod-azureml": {
        "stack_type": "azureml",
        "artifact_store": "az://my-container/kitaru",
        "container_registry": "demo.azurecr.io/my-team/my-image",
        "subscription_id": SUBSCRIPTION,
        "resource_group": "ml-platform",
        "workspace": "team-ml",
        "region": "westeurope",
    },
}
# What `kitaru stack show` must report for each (flavors, key configuration, connector).
EXPECTED_REMOTE: dict[str, dict[str, Any]] = {
    "prod-k8s": {
        "flavors": ["kubernetes", "s3", "aws"],
        "orchestrator": {"kubernetes_namespace": "default"},
        "connector": ("aws", {"region": "eu-west-1"}, {"orchestrator": "prod-cluster"}),
    },
    "prod-vertex": {
        "flavors": ["vertex", "gcp", "gcp"],
        "orchestrator": {"location": "us-central1", "project": "my-project"},
        "connector": ("gcp", {"project_id": "my-project"}, {}),
    },
    "prod-sagemaker": {
        "flavors": ["sagemaker", "s3", "aws"],
        "orchestrator": {"region": "eu-west-1", "execution_role": ROLE},
        "connector": ("aws", {"region": "eu-west-1"}, {}),
    },
    "prod-azureml": {
        "flavors": ["azureml", "azure", "azure"],
        "orchestrator": {
            "subscription_id": SUBSCRIPTION,
            "resource_group": "ml-platform",
            "workspace": "team-ml",
            "location": "westeurope",
        },
        "connector": (
            "azure",
            {"subscription_id": SUBSCRIPTION, "resource_group": "ml-platform"},
            {},
        ),
    },
}


def create(name: str, labels: StackFieldLabels = CLI_LABELS, **kwargs: Any) -> StackDetails:
    if kwargs.get("stack_type", "local") != "local":
        kwargs.setdefault("verify", False)
    return service.create_stack(build_stack_create_request(name=name, labels=labels, **kwargs))


def snapshot(client: Any) -> dict[str, list[Any]]:
    """Everything a stack operation could leave behind, in comparable form."""
    return {
        "stacks": sorted(s.name for s in client.list_stacks(size=1000).items),
        "components": sorted(
            (c.type.value, c.name) for c in client.list_stack_components(size=1000).items
        ),
        "connectors": sorted(c.name for c in client.list_service_connectors(size=1000).items),
        "active": [client.active_stack_model.name],
    }


@pytest.fixture
def store(zenml_client: Any) -> Iterator[Any]:
    """The store, reset to only the default stack after each test."""
    yield zenml_client
    zenml_client.activate_stack("default")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*stack_composition.*")  # a ZenML quirk
        for stack in zenml_client.list_stacks(size=1000).items:
            if stack.name != "default":
                zenml_client.zen_store.delete_stack(stack.id)
    for component in zenml_client.list_stack_components(size=1000).items:
        if component.name != "default":
            zenml_client.zen_store.delete_stack_component(component.id)
    for connector in zenml_client.list_service_connectors(size=1000).items:
        zenml_client.zen_store.delete_service_connector(connector.id)


def assert_rejected_unchanged(store: Any, error_type: type[E], action: Callable[[], object]) -> E:
    before = snapshot(store)
    with pytest.raises(error_type) as info:
        action()
    assert snapshot(store) == before
    return info.value


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


# ------------------------------------------------------------------------ rejected requests


@pytest.mark.parametrize(
    ("name", "inputs", "needle"),
    [
        (
            "prod-vertex",
            {**SEED_REMOTE["prod-vertex"], "cluster": "c"},
            "does not accept --cluster",
        ),
        (
            "prod-vertex",
            {**SEED_REMOTE["prod-vertex"], "artifact_store": "s3://b/x"},
            "must start with gs://",
        ),
        (
            "dev",
            {"extra": ["container_registry.default_repository=x"]},
            "not valid for local stacks",
        ),
        ("dev", {"stack_type": "ecs"}, "Unknown stack type"),
    ],
)
def test_invalid_requests_never_reach_the_store(
    store,
    name: str,
    inputs: dict[str, Any],
    needle: str,
) -> None:
    def action() -> None:
        create(name, **inputs)

    assert needle in assert_rejected_unchanged(store, KitaruValidationError, action).message


@pytest.mark.parametrize(
    ("inputs", "needle"),
    [
        ({"extra": ["orchestrator.no_such_field=1"]}, "rejects its configuration"),
        ({"extra": ["orchestrator.kubernetes_namespace=x"]}, "already sets from 'namespace'"),
        ({"extra": ["artifact_store.path=s3://other/x"]}, "already sets from 'artifact_store'"),
        ({"extra": ["orchestrator.max_parallelism=-3"]}, "rejects its configuration"),
    ],
)
def test_zenml_config_problems_are_found_before_any_write(store: Any, inputs, needle) -> None:
    error = assert_rejected_unchanged(
        store, KitaruValidationError, lambda: create("k", **SEED_REMOTE["prod-k8s"], **inputs)
    )
    assert needle in error.message


def test_duplicate_name_is_refused(store: Any) -> None:
    create("dev")
    error = assert_rejected_unchanged(store, KitaruStateError, lambda: create("dev"))
    assert "already exists" in error.message


@pytest.mark.parametrize("stack_type", ["local", "kubernetes"])
def test_failure_part_way_leaves_nothing_behind(store: Any, stack_type: str) -> None:
    # A real failure: the last component to be created has a name that is already taken.
    from zenml.enums import StackComponentType

    if stack_type == "local":
        with flavor_source_root():
            store.create_stack_component("clash", "local", StackComponentType.ARTIFACT_STORE, {})
        inputs: dict[str, Any] = {}
    else:
        with flavor_source_root():
            store.create_stack_component(
                "clash", "default", StackComponentType.CONTAINER_REGISTRY, {"uri": "localhost:5000"}
            )
        inputs = SEED_REMOTE["prod-k8s"]
    error = assert_rejected_unchanged(store, KitaruStateError, lambda: create("clash", **inputs))
    assert error.message.startswith("Could not create stack 'clash':")
    assert error.message.endswith("Nothing was left behind.")


# ------------------------------------------------------------------------ delete


def test_plain_delete_keeps_the_components(store: Any) -> None:
    # `kitaru stack delete dev`
    create("dev", activate=False)
    deletion = service.delete_stack(build_stack_delete_request("dev"))
    assert deletion.stack.name == "dev" and deletion.removed_components == []
    after = snapshot(store)
    assert "dev" not in after["stacks"]
    assert {("orchestrator", "dev"), ("artifact_store", "dev")} <= set(after["components"])


def test_recursive_delete_spares_shared_and_unmanaged_parts(store: Any) -> None:
    # `kitaru stack delete dev --recursive`
    from zenml.enums import StackComponentType as T

    create("dev", activate=False)
    # Another stack shares dev's orchestrator; a ZenML-made stack has unmanaged parts.
    with flavor_source_root():  # plain ZenML calls need a source root under xdist
        store.create_stack_component("mine", "local", T.ARTIFACT_STORE, {})
        store.create_stack("shared", components={T.ORCHESTRATOR: "dev", T.ARTIFACT_STORE: "mine"})
    deletion = service.delete_stack(build_stack_delete_request("dev", recursive=True))
    assert [(c.type, c.name) for c in deletion.removed_components] == [("artifact_store", "dev")]
    assert ("orchestrator", "dev") in snapshot(store)["components"]
    deletion = service.delete_stack(build_stack_delete_request("shared", recursive=True))
    assert deletion.removed_components[0].name == "dev"  # the managed orchestrator, now unshared
    assert ("artifact_store", "mine") in snapshot(store)["components"]


def test_active_stack_needs_force(store: Any) -> None:
    create("dev")
    error = assert_rejected_unchanged(
        store,
        KitaruStateError,
        lambda: service.delete_stack(build_stack_delete_request("dev", recursive=True)),
    )
    assert "is the active stack" in error.message and "--force" in error.hint
    # `kitaru stack delete dev --recursive --force`
    deletion = service.delete_stack(build_stack_delete_request("dev", True, True))
    assert deletion.switched_to_default
    assert snapshot(store) == {
        "stacks": ["default"],
        "components": [
            ("artifact_store", "default"),
            ("deployer", "default"),
            ("orchestrator", "default"),
        ],
        "connectors": [],
        "active": ["default"],
    }


def test_default_stack_cannot_be_deleted(store: Any) -> None:
    error = assert_rejected_unchanged(
        store,
        KitaruStateError,
        lambda: service.delete_stack(build_stack_delete_request("default", force=True)),
    )
    assert "default stack cannot be deleted" in error.message


def test_delete_unknown_stack(store: Any) -> None:
    error = assert_rejected_unchanged(
        store,
        KitaruNotFoundError,
        lambda: service.delete_stack(build_stack_delete_request("nope", labels=MCP_LABELS)),
    )
    assert "Existing stacks: default." in error.message


# ------------------------------------------------------------------------ SDK helpers


def test_sdk_helpers(store: Any) -> None:
    # kitaru.current_stack(), list_stacks(), create_stack("dev"), use_stack(...), delete_stack
    assert sdk_stacks.current_stack().name == "default"
    created = sdk_stacks.create_stack("dev")
    assert isinstance(created, StackInfo) and created.is_active
    listed = sdk_stacks.list_stacks()
    assert all(type(item) is StackInfo for item in listed)
    assert [(s.name, s.is_active) for s in listed] == [("default", False), ("dev", True)]
    create("production", activate=False)
    assert sdk_stacks.use_stack("production").name == "production"
    deleted = sdk_stacks.delete_stack("production", recursive=True, force=True)
    assert deleted.name == "production" and not deleted.is_active
    assert sdk_stacks.current_stack().name == "default"
    with pytest.raises(KitaruValidationError):
        sdk_stacks.create_stack("bad name")


# ------------------------------------------------------------------------ missing extras

_MISSING_EXTRA_SCRIPT = """
import json, sys
# Without `kitaru-mcp[aws|gcp|azure]` these packages are absent; None makes their import fail
# exactly as it does then. Nothing else is faked.
for module in ("aws_profile_manager", "google.cloud.container_v1", "azure.identity"):
    sys.modules[module] = None
from kitaru_core.errors import KitaruFeatureNotAvailableError
from kitaru_core.requests.stacks import CLI_LABELS, build_stack_create_request
from kitaru_core.services import stacks as service
from kitaru_core.backend.bootstrap import zenml_client

def state():
    c = zenml_client()
    return (sorted(s.name for s in c.list_stacks(size=1000).items),
            sorted(x.name for x in c.list_stack_components(size=1000).items),
            sorted(x.name for x in c.list_service_connectors(size=1000).items))

results = {}
for name, inputs in json.loads(sys.argv[1]).items():
    before = state()
    request = build_stack_create_request(name=name, labels=CLI_LABELS, verify=False, **inputs)
    try:
        service.create_stack(request)
        results[name] = "created"
    except KitaruFeatureNotAvailableError as exc:
        results[name] = [exc.code, exc.details["extra"], exc.hint, state() == before]
print(json.dumps(results))
"""


def test_missing_connector_extras_name_the_extra(tmp_path: Path) -> None:
    inputs = {name: SEED_REMOTE[name] for name in ("prod-k8s", "prod-vertex", "prod-azureml")}
    env = {**os.environ, "KITARU_CONFIG_PATH": str(tmp_path / "config")}
    result = subprocess.run(
        [sys.executable, "-c", _MISSING_EXTRA_SCRIPT, json.dumps(inputs)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    results = json.loads(result.stdout.strip().splitlines()[-1])
    for name, extra in (("prod-k8s", "aws"), ("prod-vertex", "gcp"), ("prod-azureml", "azure")):
        assert results[name] == [
            "feature_not_available",
            extra,
            f"Install it with: pip install 'kitaru-mcp[{extra}]'",
            True,
        ]
