"""Shared cases of the stack service tests: the seed's remote examples, what `show` must
report for them, and helpers that prove a refused request changed nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from kitaru_core.errors import (
    KitaruError,
)
from kitaru_core.models import StackDetails
from kitaru_core.requests.stacks import (
    CLI_LABELS,
    StackFieldLabels,
    build_stack_create_request,
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


def assert_rejected_unchanged(store: Any, error_type: type[E], action: Callable[[], object]) -> E:
    before = snapshot(store)
    with pytest.raises(error_type) as info:
        action()
    assert snapshot(store) == before
    return info.value
