"""Shared cases for the stack request tests: the seed's examples and SPEC §3 written out."""

from __future__ import annotations

from typing import Any

import pytest

from kitaru_core.errors import KitaruValidationError
from kitaru_core.requests.stacks import (
    CLI_LABELS,
    StackCreateRequest,
    StackFieldLabels,
    build_stack_create_request,
)

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
GAR = "us-central1-docker.pkg.dev/my-project/my-repo"
ACR = "demo.azurecr.io/my-team/my-image"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000123"

# The seed's examples, as the keyword arguments a surface passes (name and type aside).
SEED_EXAMPLES: dict[str, dict[str, Any]] = {
    "kubernetes": {
        "artifact_store": "s3://my-bucket/kitaru",
        "container_registry": ECR,
        "cluster": "prod-cluster",
        "region": "eu-west-1",
    },
    "vertex": {
        "artifact_store": "gs://my-bucket/kitaru",
        "container_registry": GAR,
        "region": "us-central1",
    },
    "sagemaker": {
        "artifact_store": "s3://my-bucket/kitaru",
        "container_registry": ECR,
        "region": "eu-west-1",
        "execution_role": ROLE,
    },
    "azureml": {
        "artifact_store": "az://my-container/kitaru",
        "container_registry": ACR,
        "subscription_id": SUBSCRIPTION,
        "resource_group": "ml-platform",
        "workspace": "team-ml",
        "region": "westeurope",
    },
}

# SPEC §3, written out independently of the implementation's table.
REQUIRED = {
    "local": set(),
    "kubernetes": {"artifact_store", "container_registry", "cluster", "region"},
    "vertex": {"artifact_store", "container_registry", "region"},
    "sagemaker": {"artifact_store", "container_registry", "region", "execution_role"},
    "azureml": {
        "artifact_store",
        "container_registry",
        "subscription_id",
        "resource_group",
        "workspace",
    },
}
OPTIONAL = {
    "local": set(),
    "kubernetes": {"namespace", "credentials", "verify"},
    "vertex": {"credentials", "verify"},
    "sagemaker": {"credentials", "verify"},
    "azureml": {"region", "credentials", "verify"},
}
# A value for every field that is valid wherever the field is allowed.
ANY_VALUE: dict[str, Any] = {
    "cluster": "c1",
    "region": "eu-west-1",
    "subscription_id": SUBSCRIPTION,
    "resource_group": "rg",
    "workspace": "ws",
    "execution_role": ROLE,
    "namespace": "team-a",
    "credentials": "implicit",
    "verify": False,
    "artifact_store": "s3://b/x",
    "container_registry": ECR,
}
CLI_FLAG = {
    "artifact_store": "--artifact-store",
    "container_registry": "--container-registry",
    "cluster": "--cluster",
    "region": "--region",
    "subscription_id": "--subscription-id",
    "resource_group": "--resource-group",
    "workspace": "--workspace",
    "execution_role": "--execution-role",
    "namespace": "--namespace",
    "credentials": "--credentials",
    "verify": "--no-verify",
}


def build(
    stack_type: str = "local", labels: StackFieldLabels = CLI_LABELS, **kwargs: Any
) -> StackCreateRequest:
    kwargs.setdefault("name", "s1")
    return build_stack_create_request(stack_type=stack_type, labels=labels, **kwargs)


def rejected(**kwargs: Any) -> KitaruValidationError:
    with pytest.raises(KitaruValidationError) as info:
        build(**kwargs)
    assert info.value.code == "validation_error"
    return info.value
