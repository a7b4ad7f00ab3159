"""Stack services on the real store: refused requests leave nothing behind, deletion rules,
the SDK helpers, and missing connector extras (split from test_stacks_service.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from stack_store_support import (
    SEED_REMOTE,
    assert_rejected_unchanged,
    create,
    snapshot,
)

from kitaru_core import sdk_stacks
from kitaru_core.backend.stacks import flavor_source_root
from kitaru_core.errors import (
    KitaruNotFoundError,
    KitaruStateError,
    KitaruValidationError,
)
from kitaru_core.hints import Surface
from kitaru_core.models import StackInfo
from kitaru_core.requests.stacks import (
    MCP_LABELS,
    build_stack_delete_request,
)
from kitaru_core.services import stacks as service

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
def test_failure_part_way_leaves_nothing_behind(
    store: Any, stack_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real failure: the last component to be created has a name that is already taken.
    # `create` refuses a foreign part of its name up front (tests/test_stack_recreate.py);
    # here the part appears after that check (as with a concurrent create), so it is hidden.
    from zenml.enums import StackComponentType

    from kitaru_core.backend import stacks as backend

    monkeypatch.setattr(backend, "parts_named", lambda name: [])

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
    assert "is the active stack" in error.message and "--force" in error.hint_for(Surface.CLI)
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
