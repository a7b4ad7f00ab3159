"""A stack name is creatable again after any sequence of creates and deletes (real store).

Kitaru names a stack's parts after the stack. A plain ``delete`` keeps them (SPEC §3), so the
next ``create`` of that name replaces those leftovers — but only Kitaru-managed parts that no
stack uses. A part the user made outside Kitaru, or one another stack uses, is never removed:
creation is refused instead, and nothing changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from stack_store_support import SEED_REMOTE, assert_rejected_unchanged, create, snapshot

from kitaru_core.backend.stacks import flavor_source_root
from kitaru_core.errors import KitaruStateError, KitaruValidationError
from kitaru_core.requests.stacks import build_stack_delete_request
from kitaru_core.services import stacks as service

K8S = SEED_REMOTE["prod-k8s"]  # fake s3:// store and ECR registry, registered without a cloud


def delete(name: str, recursive: bool = False) -> None:
    service.delete_stack(build_stack_delete_request(name, recursive=recursive, force=True))


def parts_of(store: Any, name: str) -> list[tuple[str, str]]:
    return [part for part in snapshot(store)["components"] if part[1] == name]


def connectors_of(store: Any, name: str) -> list[str]:
    return [connector for connector in snapshot(store)["connectors"] if connector == name]


def test_delete_then_create(store: Any) -> None:
    create("dev")
    delete("dev")
    assert parts_of(store, "dev")  # the plain delete kept the components ...
    details = create("dev")  # ... and the name is creatable again
    assert details.is_active and [c.name for c in details.components] == ["dev", "dev"]
    assert parts_of(store, "dev") == [("artifact_store", "dev"), ("orchestrator", "dev")]
    delete("dev")
    create("dev", activate=False)  # and again
    assert "dev" in snapshot(store)["stacks"]


def test_recursive_delete_then_create(store: Any) -> None:
    create("dev", activate=False)
    delete("dev", recursive=True)
    assert parts_of(store, "dev") == []
    assert create("dev", activate=False).name == "dev"


def test_remote_create_delete_create(store: Any) -> None:
    first = create("k8s", activate=False, **K8S)
    delete("k8s")
    assert connectors_of(store, "k8s") == ["k8s"]  # kept with the components
    second = create("k8s", activate=False, **K8S)
    assert second.id != first.id
    assert second.connector is not None and second.connector["id"] != first.connector["id"]
    assert len(parts_of(store, "k8s")) == 3 and connectors_of(store, "k8s") == ["k8s"]
    delete("k8s", recursive=True)
    assert parts_of(store, "k8s") == [] and connectors_of(store, "k8s") == []
    assert create("k8s", activate=False, **K8S).name == "k8s"


def test_a_local_stack_takes_over_the_name_of_a_deleted_remote_one(store: Any) -> None:
    create("shift", activate=False, **K8S)
    delete("shift")
    details = create("shift", activate=False)
    assert details.stack_type == "local"
    # The remote leftovers (registry, connector) went too: nothing else could ever use them.
    assert parts_of(store, "shift") == [("artifact_store", "shift"), ("orchestrator", "shift")]
    assert connectors_of(store, "shift") == []


def test_a_foreign_component_of_the_same_name_is_never_removed(store: Any) -> None:
    from zenml.enums import StackComponentType as T

    with flavor_source_root():  # a component the user made with ZenML itself
        store.create_stack_component("mine", "local", T.ORCHESTRATOR, {})
    error = assert_rejected_unchanged(store, KitaruStateError, lambda: create("mine"))
    assert "orchestrator 'mine' (not created by Kitaru)" in error.message
    assert error.details["conflicts"][0]["kind"] == "orchestrator"
    assert "another stack name" in error.hint
    assert ("orchestrator", "mine") in snapshot(store)["components"]


def test_a_managed_component_another_stack_uses_is_never_removed(store: Any) -> None:
    from zenml.enums import StackComponentType as T

    create("dev", activate=False)
    with flavor_source_root():  # a ZenML stack built on dev's orchestrator
        store.create_stack(
            "borrower", components={T.ORCHESTRATOR: "dev", T.ARTIFACT_STORE: "default"}
        )
    delete("dev")
    error = assert_rejected_unchanged(store, KitaruStateError, lambda: create("dev"))
    assert "orchestrator 'dev' (used by stack 'borrower')" in error.message
    assert "borrower" in snapshot(store)["stacks"]


def test_a_foreign_part_of_a_kind_the_stack_does_not_need_stays(store: Any) -> None:
    from zenml.enums import StackComponentType as T

    with flavor_source_root():
        store.create_stack_component(
            "dev", "default", T.CONTAINER_REGISTRY, {"uri": "localhost:5000"}
        )
    create("dev", activate=False)  # a local stack has no registry: no conflict
    assert ("container_registry", "dev") in parts_of(store, "dev")
    delete("dev")
    # A remote stack needs a registry: now the foreign one is in the way, and the refusal
    # also keeps the leftovers it would otherwise have replaced.
    error = assert_rejected_unchanged(store, KitaruStateError, lambda: create("dev", **K8S))
    assert "container registry 'dev' (not created by Kitaru)" in error.message
    assert "orchestrator" not in error.message


def test_a_refused_request_keeps_the_leftovers(store: Any) -> None:
    # Bad input changes nothing, not even the leftovers a valid create would replace.
    create("k8s", activate=False, **K8S)
    delete("k8s")

    def bad() -> object:
        return create("k8s", **K8S, extra=["orchestrator.no_such_field=1"])

    error = assert_rejected_unchanged(store, KitaruValidationError, bad)
    assert "rejects its configuration" in error.message
    assert len(parts_of(store, "k8s")) == 3


@pytest.mark.parametrize("recursive", [False, True])
def test_many_rounds_always_end_creatable(store: Any, recursive: bool) -> None:
    for _ in range(3):
        create("loop", activate=False)
        delete("loop", recursive=recursive)
    assert create("loop", activate=False).name == "loop"
    assert parts_of(store, "loop") == [("artifact_store", "loop"), ("orchestrator", "loop")]
