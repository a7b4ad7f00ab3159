"""``kitaru stack ...`` against the real store: every CLI line of the stacks seed, and the
errors. Remote stacks need a cloud to be *verified*, not to be registered: the seed lines run
with ``--no-verify`` added, and the same lines without it are shown to fail with the documented
error, leaving nothing behind."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from cli_support import kitaru, kitaru_error, kitaru_json

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
GAR = "us-central1-docker.pkg.dev/my-project/my-repo"

# The seed's `kitaru stack create` lines, argument for argument.
SEED_REMOTE: dict[str, list[str]] = {
    "prod-k8s": [
        "--type", "kubernetes",
        "--artifact-store", "s3://my-bucket/kitaru",
        "--container-registry", ECR,
        "--cluster", "prod-cluster",
        "--region", "eu-west-1",
    ],
    "prod-vertex": [
        "--type", "vertex",
        "--artifact-store", "gs://my-bucket/kitaru",
        "--container-registry", GAR,
        "--region", "us-central1",
    ],
    "prod-sagemaker": [
        "--type", "sagemaker",
        "--artifact-store", "s3://my-bucket/kitaru",
        "--container-registry", ECR,
        "--region", "eu-west-1",
        "--execution-role", "arn:aws:iam::123456789012:role/SageMakerExecutionRole",
    ],
    "prod-azureml": [
        "--type", "azureml",
        "--artifact-store", "az://my-container/kitaru",
        "--container-registry", "demo.azurecr.io/my-team/my-image",
        "--subscription-id", "00000000-0000-0000-0000-000000000123",
        "--resource-group", "ml-platform",
        "--workspace", "team-ml",
        "--region", "westeurope",
    ],
}  # fmt: skip
FLAVORS = {
    "prod-k8s": ("kubernetes", "s3", "aws"),
    "prod-vertex": ("vertex", "gcp", "gcp"),
    "prod-sagemaker": ("sagemaker", "s3", "aws"),
    "prod-azureml": ("azureml", "azure", "azure"),
}
SEED_YAML = """\
name: prod-vertex
type: vertex
artifact_store: gs://my-bucket/kitaru
container_registry: us-central1-docker.pkg.dev/my-project/my-repo
region: us-central1
async: true
extra:
  orchestrator:
    pipeline_root: gs://my-bucket/vertex-root
  container_registry:
    default_repository: agents
"""


def snapshot(client: Any) -> dict[str, list[Any]]:
    """Everything a stack command could leave behind, comparable."""
    return {
        "stacks": sorted(s.name for s in client.list_stacks(size=1000).items),
        "components": sorted(
            (c.type.value, c.name) for c in client.list_stack_components(size=1000).items
        ),
        "connectors": sorted(c.name for c in client.list_service_connectors(size=1000).items),
        "active": [client.active_stack_model.name],
    }


def components(details: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in details["components"]}


def test_seed_list_and_current(store: Any) -> None:
    current = kitaru("stack", "current").stdout
    assert "Active stack: default" in current
    assert kitaru_json("stack", "current")["name"] == "default"
    table = kitaru("stack", "list").stdout
    assert "default" in table and "●" in table
    listed = kitaru_json("stack", "list", "--output", "json")
    assert listed["count"] == len(listed["items"])
    assert all(set(item) == {"id", "name", "is_active", "is_managed"} for item in listed["items"])
    assert [item["name"] for item in listed["items"] if item["is_active"]] == ["default"]


def test_seed_create_local_then_protected_and_forced_delete(store: Any) -> None:
    created = kitaru("stack", "create", "dev").stdout
    assert "Created stack: dev" in created
    assert "Active stack: default → dev" in created
    listed = {i["name"]: i for i in kitaru_json("stack", "list")["items"]}
    assert listed["dev"]["is_active"] and listed["dev"]["is_managed"]
    before = snapshot(store)
    error = kitaru_error("stack", "delete", "dev", code=1)
    assert error["code"] == "invalid_state"
    assert "--force" in error["hint"]
    assert snapshot(store) == before  # refused: nothing changed
    deletion = kitaru_json("stack", "delete", "dev", "--recursive", "--force")
    assert deletion["switched_to_default"] is True
    assert deletion["active_stack"] == "default"
    assert sorted(c["type"] for c in deletion["removed_components"]) == [
        "artifact_store",
        "orchestrator",
    ]
    assert "dev" not in snapshot(store)["stacks"]
    assert all(name != "dev" for _, name in snapshot(store)["components"])


def test_seed_create_no_activate_and_delete_keeps_or_removes_components(store: Any) -> None:
    created = kitaru("stack", "create", "dev", "--no-activate").stdout
    assert "Created stack: dev" in created
    assert "Active stack: default (switch with: kitaru stack use dev)" in created
    assert kitaru_json("stack", "current")["name"] == "default"
    deleted = kitaru("stack", "delete", "dev").stdout  # the record only
    assert "Deleted stack: dev" in deleted
    assert ("orchestrator", "dev") in snapshot(store)["components"]
    kitaru("stack", "create", "dev2", "--no-activate")
    removed = kitaru_json("stack", "delete", "dev2", "--recursive")
    assert len(removed["removed_components"]) == 2
    assert ("orchestrator", "dev2") not in snapshot(store)["components"]


@pytest.mark.parametrize("name", sorted(SEED_REMOTE))
def test_seed_remote_create_registers_with_no_verify(store: Any, name: str) -> None:
    details = kitaru_json("stack", "create", name, *SEED_REMOTE[name], "--no-verify")
    assert details["name"] == name
    assert details["is_active"] and details["is_managed"]
    parts = components(details)
    flavors = tuple(
        parts[kind]["flavor"] for kind in ("orchestrator", "artifact_store", "container_registry")
    )
    assert flavors == FLAVORS[name]
    assert details["connector"]["name"] == name
    shown = kitaru("stack", "show", name).stdout
    assert FLAVORS[name][0] in shown and "Connector" in shown
    # The seed's switching line works with a name and with an id.
    switched = kitaru("stack", "use", "default").stdout
    assert f"Active stack: {name} → default" in switched
    assert kitaru_json("stack", "use", details["id"])["name"] == name


def test_seed_remote_create_without_a_cloud_fails_cleanly(store: Any) -> None:
    before = snapshot(store)
    error = kitaru_error("stack", "create", "prod-k8s", *SEED_REMOTE["prod-k8s"], code=1)
    assert error["code"] == "backend_error"
    assert "could not be verified" in error["message"]
    assert "--no-verify" in error["hint"]
    assert snapshot(store) == before  # a failed creation leaves nothing behind


def test_seed_async_and_extra(store: Any) -> None:
    vertex = SEED_REMOTE["prod-vertex"]
    root = "orchestrator.pipeline_root=gs://my-bucket/vertex-root"
    details = kitaru_json(
        "stack", "create", "prod-vertex", *vertex, "--async", "--extra", root, "--no-verify"
    )
    orchestrator = components(details)["orchestrator"]["configuration"]
    assert orchestrator["synchronous"] is False
    assert orchestrator["pipeline_root"] == "gs://my-bucket/vertex-root"
    explicit = kitaru_json(
        "stack",
        "create",
        "prod-vertex-2",
        *vertex,
        "--async",
        "--extra",
        "orchestrator.synchronous=true",
        "--no-verify",
        "--no-activate",
    )
    assert components(explicit)["orchestrator"]["configuration"]["synchronous"] is True


def test_seed_stack_file_with_flag_overrides(
    store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("stack.yaml").write_text(SEED_YAML, encoding="utf-8")
    details = kitaru_json("stack", "create", "-f", "stack.yaml", "--no-verify")
    assert details["name"] == "prod-vertex"
    parts = components(details)
    assert parts["orchestrator"]["configuration"]["synchronous"] is False  # async: true
    assert parts["orchestrator"]["configuration"]["pipeline_root"] == "gs://my-bucket/vertex-root"
    assert parts["container_registry"]["configuration"]["default_repository"] == "agents"
    # Flags win over the file; --extra merges on top of its `extra:`.
    override = kitaru_json(
        "stack",
        "create",
        "vertex-eu",
        "-f",
        "stack.yaml",
        "--region",
        "europe-west4",
        "--extra",
        "orchestrator.synchronous=true",
        "--no-verify",
        "--no-activate",
    )
    configuration = components(override)["orchestrator"]["configuration"]
    assert override["name"] == "vertex-eu"
    assert configuration["location"] == "europe-west4"
    assert configuration["synchronous"] is True
    assert configuration["pipeline_root"] == "gs://my-bucket/vertex-root"
    assert components(override)["container_registry"]["configuration"] == {
        "uri": GAR,
        "default_repository": "agents",
    }


def test_invalid_create_names_cli_flags_and_changes_nothing(store: Any, tmp_path: Path) -> None:
    before = snapshot(store)
    error = kitaru_error(
        "stack", "create", "bad", "--type", "kubernetes", "--workspace", "x", code=2
    )
    assert error["code"] == "validation_error"
    fields = error["details"]["fields"]
    assert {"--workspace", "--artifact-store", "--cluster", "--region"} <= set(fields)
    unknown = kitaru_error("stack", "create", "bad", "--type", "nope", code=2)
    assert "local, kubernetes, vertex, sagemaker, and azureml" in unknown["message"]
    scheme = kitaru_error(
        "stack", "create", "bad", *SEED_REMOTE["prod-k8s"][:2], "--artifact-store", "ftp://x",
        "--container-registry", ECR, "--cluster", "c", "--region", "eu-west-1", code=2,
    )  # fmt: skip
    assert "s3://" in scheme["message"]
    registry = "container_registry.default_repository=x"
    local_extra = kitaru_error("stack", "create", "bad", "--extra", registry, code=2)
    assert "--extra" in local_extra["details"]["fields"]  # a local stack has no registry
    rejected = kitaru_error("stack", "create", "bad", "--extra", "orchestrator.nope=1", code=2)
    assert "nope" in rejected["message"]  # ZenML's own check of the component configuration
    missing = kitaru_error("stack", "create", "-f", str(tmp_path / "nope.yaml"), code=2)
    assert "no such file" in missing["message"]
    no_name = kitaru_error("stack", "create", code=2)
    assert "NAME" in no_name["details"]["fields"]
    table = kitaru("stack", "create", "bad", "--type", "vertex", code=2).stderr
    assert table.startswith("Error: ") and "Hint: " in table
    assert snapshot(store) == before


def test_not_found_and_protected_stacks(store: Any) -> None:
    missing = kitaru_error("stack", "show", "nope", code=1)
    assert missing["code"] == "not_found"
    assert "default" in missing["message"]  # lists the stacks that exist
    assert kitaru_error("stack", "use", "nope", code=1)["code"] == "not_found"
    assert kitaru_error("stack", "delete", "nope", code=1)["code"] == "not_found"
    assert kitaru_error("stack", "delete", "default", code=1)["code"] == "invalid_state"
    kitaru("stack", "create", "dup", "--no-activate")
    assert kitaru_error("stack", "create", "dup", code=1)["code"] == "invalid_state"
    shown = kitaru_json("stack", "show")  # the active stack by default
    assert shown["name"] == "default" and shown["stack_type"] == "local"


def test_delete_the_active_stack_recursive_force_seed_line(store: Any) -> None:
    kitaru("stack", "create", "dev")
    result = kitaru("stack", "delete", "dev", "--recursive", "--force").stdout
    assert "Deleted stack: dev" in result
    assert "switched to the default stack first" in result
    assert textwrap.dedent(result).count("removed") == 2
