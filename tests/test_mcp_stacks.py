"""The stack tools through the official MCP client, against this process's real store.

Remote stacks are created with ``verify: false``: they are registered in the real store (flavors,
connector, components) without calling a cloud API, which cannot exist here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _mcp_support import call, data, error, text

from kitaru_mcp.results import encode_cursor
from kitaru_mcp.server import KitaruMCPServer, build_server

K8S = {
    "stack_type": "kubernetes",
    "artifact_store": "s3://kitaru-test-bucket/artifacts",
    "container_registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "cluster": "test-cluster",
    "region": "eu-west-1",
    "verify": False,
}


@pytest.fixture(scope="module")
def server(zenml_client: Any) -> KitaruMCPServer:
    return build_server("destructive")


@pytest.fixture
def new_name(server: KitaruMCPServer) -> Iterator[Callable[[], str]]:
    """Unique stack names; afterwards `default` is active again and the stacks are gone."""
    made: list[str] = []

    def make() -> str:
        made.append(f"mcp-{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield make
    call(server, "kitaru_stacks_use", {"name": "default"})
    for name in made:
        call(server, "kitaru_stacks_delete", {"name": name, "recursive": True, "force": True})


def stacks(server: KitaruMCPServer) -> list[tuple[str, bool]]:
    """Every stack as (name, is_active): the state a refused request must leave unchanged."""
    items = data(call(server, "kitaru_stacks_list", {"limit": 200}))["items"]
    return sorted((item["name"], item["is_active"]) for item in items)


def where_active() -> str:
    """What decides the active stack, for a failure message (a rare flake listed the old stack
    as active right after it was switched: this says which source disagreed)."""
    import threading

    from zenml.client import Client

    from kitaru_core.backend import local_store

    config = local_store._zenml_global_config().get("active_stack_id")
    return (
        f"env={os.environ.get('ZENML_ACTIVE_STACK_ID')} config.yaml={config} "
        f"zenml={Client().active_stack_model.name} "
        f"threads={sorted(t.name for t in threading.enumerate())}"
    )


def refused(server: KitaruMCPServer, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool that must fail, and check that it changed no stack."""
    before = stacks(server)
    body = error(call(server, tool, arguments))
    assert stacks(server) == before
    return body


# ----------------------------------------------------------------------------------- reads


def test_list_current_and_show_the_default_stack(server: KitaruMCPServer) -> None:
    page = data(call(server, "kitaru_stacks_list"))
    default = next(item for item in page["items"] if item["name"] == "default")
    assert default["is_active"] is True and default["is_managed"] is False
    assert page["count"] == len(page["items"]) and page["next_cursor"] is None
    current = data(call(server, "kitaru_stacks_current"))
    assert current == {"id": default["id"], "name": "default", "is_active": True}
    details = data(call(server, "kitaru_stacks_show", {"name": "default"}))
    kinds = {component["type"] for component in details["components"]}
    assert {"orchestrator", "artifact_store"} <= kinds and details["stack_type"] == "local"
    assert data(call(server, "kitaru_stacks_show")) == details  # omitted → the active stack


def test_show_unknown_stack_lists_the_existing_ones(server: KitaruMCPServer) -> None:
    body = error(call(server, "kitaru_stacks_show", {"name": "no-such-stack"}))
    assert body["code"] == "not_found" and "default" in body["details"]["existing"]


def test_list_pages_through_every_stack(server: KitaruMCPServer, new_name: Any) -> None:
    for _ in range(5):
        data(call(server, "kitaru_stacks_create", {"name": new_name(), "activate": False}))
    everything = [name for name, _ in stacks(server)]
    assert len(everything) >= 6
    seen: list[str] = []
    cursor = None
    for _ in range(len(everything)):
        arguments = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = data(call(server, "kitaru_stacks_list", arguments))
        assert page["count"] == len(page["items"]) <= 2 and page["total"] == len(everything)
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(everything) and len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": encode_cursor("executions", 1)}, "cursor"),
    ],
)
def test_list_rejects_bad_paging_arguments(
    server: KitaruMCPServer, arguments: dict[str, Any], field: str
) -> None:
    body = error(call(server, "kitaru_stacks_list", arguments))
    assert body["code"] == "validation_error" and list(body["details"]["fields"]) == [field]


# --------------------------------------------------------------------------------- use


def test_use_switches_and_persists_the_active_stack(server: KitaruMCPServer, new_name: Any) -> None:
    name = new_name()
    data(call(server, "kitaru_stacks_create", {"name": name, "activate": False}))
    used = data(call(server, "kitaru_stacks_use", {"name": name}))
    assert used["name"] == name and used["is_active"] is True
    assert data(call(server, "kitaru_stacks_current"))["name"] == name, where_active()
    listed = stacks(server)
    assert (name, True) in listed and ("default", False) in listed, where_active()


@pytest.mark.parametrize(
    ("name", "code"), [("no-such-stack", "not_found"), ("   ", "validation_error")]
)
def test_use_refuses_unknown_or_blank_names(server: KitaruMCPServer, name: str, code: str) -> None:
    body = refused(server, "kitaru_stacks_use", {"name": name})
    assert body["code"] == code
    if code == "validation_error":
        assert list(body["details"]["fields"]) == ["name"]


# ------------------------------------------------------------------------------ create


def test_create_local_stack(server: KitaruMCPServer, new_name: Any) -> None:
    quiet, active = new_name(), new_name()
    made = data(call(server, "kitaru_stacks_create", {"name": quiet, "activate": False}))
    assert made["name"] == quiet and made["is_managed"] is True and made["is_active"] is False
    assert {c["type"] for c in made["components"]} == {"orchestrator", "artifact_store"}
    assert data(call(server, "kitaru_stacks_current"))["name"] == "default"
    made = data(call(server, "kitaru_stacks_create", {"name": active}))  # activate defaults on
    assert made["is_active"] is True
    assert data(call(server, "kitaru_stacks_current"))["name"] == active, where_active()


def test_create_remote_stack_and_delete_it_recursively(
    server: KitaruMCPServer, new_name: Any
) -> None:
    name = new_name()
    made = data(call(server, "kitaru_stacks_create", {"name": name, "activate": False, **K8S}))
    flavors = {c["type"]: c["flavor"] for c in made["components"]}
    assert flavors == {
        "orchestrator": "kubernetes",
        "artifact_store": "s3",
        "container_registry": "aws",
    }
    assert made["connector"]["type"] == "aws"
    deleted = data(call(server, "kitaru_stacks_delete", {"name": name, "recursive": True}))
    assert deleted["stack"]["name"] == name and deleted["switched_to_default"] is False
    assert {c["type"] for c in deleted["removed_components"]} == set(flavors)
    assert name not in [n for n, _ in stacks(server)]


def test_create_never_echoes_a_secret(server: KitaruMCPServer, new_name: Any) -> None:
    secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYzzSECRET"
    arguments = {"name": new_name(), "activate": False, **K8S}
    result = call(
        server, "kitaru_stacks_create", {**arguments, "credentials": f"access-key:AKIAX:{secret}"}
    )
    assert secret not in text(result)
    # A malformed value for another cloud is refused without quoting it either.
    gcp = {**arguments, "name": new_name(), "artifact_store": "gs://b/x"}
    bad = call(server, "kitaru_stacks_create", {**gcp, "credentials": f"access-key:AKIAX:{secret}"})
    assert secret not in text(bad)


@pytest.mark.parametrize(
    ("arguments", "fields"),
    [
        ({"stack_type": "gke"}, {"stack_type"}),
        ({"cluster": "c1"}, {"cluster"}),
        ({"stack_type": "local", "region": "eu-west-1", "verify": False}, {"region", "verify"}),
        (
            {"stack_type": "kubernetes"},
            {"artifact_store", "container_registry", "cluster", "region"},
        ),
        ({**K8S, "workspace": "ws"}, {"workspace"}),
        ({**K8S, "artifact_store": "ftp://bucket"}, {"artifact_store"}),
        ({"extra": {"container_registry": {"uri": "x"}}}, {"extra"}),
        ({"name": "   "}, {"name"}),
        ({"stack_typ": "kubernetes"}, {"stack_typ"}),
    ],
)
def test_create_rejects_invalid_requests_naming_mcp_fields(
    server: KitaruMCPServer, new_name: Any, arguments: dict[str, Any], fields: set[str]
) -> None:
    body = refused(server, "kitaru_stacks_create", {"name": new_name(), **arguments})
    assert body["code"] == "validation_error"
    assert set(body["details"]["fields"]) == fields
    assert "--" not in body["message"]  # MCP labels, never CLI flags
    if "stack_type" in fields:
        assert "kubernetes" in body["message"] and "azureml" in body["message"]


def test_create_needs_a_name_and_refuses_duplicates(server: KitaruMCPServer, new_name: Any) -> None:
    body = refused(server, "kitaru_stacks_create", {})
    assert body["code"] == "validation_error" and list(body["details"]["fields"]) == ["name"]
    name = new_name()
    data(call(server, "kitaru_stacks_create", {"name": name, "activate": False}))
    assert refused(server, "kitaru_stacks_create", {"name": name})["code"] == "invalid_state"


# ------------------------------------------------------------------------------ delete


def test_delete_an_inactive_stack(server: KitaruMCPServer, new_name: Any) -> None:
    name = new_name()
    data(call(server, "kitaru_stacks_create", {"name": name, "activate": False}))
    deleted = data(call(server, "kitaru_stacks_delete", {"name": name}))
    assert deleted["active_stack"] == "default" and deleted["removed_components"] == []
    assert name not in [n for n, _ in stacks(server)]


def test_delete_the_active_stack_needs_force(server: KitaruMCPServer, new_name: Any) -> None:
    name = new_name()
    data(call(server, "kitaru_stacks_create", {"name": name}))
    body = refused(server, "kitaru_stacks_delete", {"name": name})
    assert body["code"] == "invalid_state" and "force" in body["hint"]
    assert data(call(server, "kitaru_stacks_current"))["name"] == name
    deleted = data(call(server, "kitaru_stacks_delete", {"name": name, "force": True}))
    assert deleted["switched_to_default"] is True and deleted["active_stack"] == "default"
    assert data(call(server, "kitaru_stacks_current"))["name"] == "default"


@pytest.mark.parametrize(("name", "code"), [("default", "invalid_state"), ("gone", "not_found")])
def test_delete_refuses_default_and_unknown_stacks(
    server: KitaruMCPServer, name: str, code: str
) -> None:
    assert refused(server, "kitaru_stacks_delete", {"name": name, "force": True})["code"] == code
