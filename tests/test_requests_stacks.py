"""The pure stack request layer: rules table, messages, URIs, credentials, extra, YAML files.

No ZenML here: these tests only build requests (one subprocess test proves the layer does not
import ZenML).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from pydantic import ValidationError
from stack_cases import (
    ANY_VALUE,
    CLI_FLAG,
    ECR,
    GAR,
    OPTIONAL,
    REQUIRED,
    ROLE,
    SEED_EXAMPLES,
    build,
    rejected,
)

from kitaru_core.errors import KitaruValidationError
from kitaru_core.requests.stack_credentials import (
    CredentialMethod,
)
from kitaru_core.requests.stack_fields import oxford_join
from kitaru_core.requests.stacks import (
    CLI_LABELS,
    MCP_LABELS,
    CloudProvider,
    StackFieldLabels,
    StackType,
    build_stack_delete_request,
    infer_cloud_provider,
    normalize_optional_string,
    normalize_stack_reference,
    normalize_stack_type,
)

# ------------------------------------------------------------------------ types and basics


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, StackType.LOCAL),
        ("", StackType.LOCAL),
        ("   ", StackType.LOCAL),
        ("local", StackType.LOCAL),
        (" Kubernetes ", StackType.KUBERNETES),
        ("VERTEX", StackType.VERTEX),
        ("Sage Maker", StackType.SAGEMAKER),
        ("Azure ML", StackType.AZUREML),
        ("azure-ml", StackType.AZUREML),
        ("azure_ml", StackType.AZUREML),
    ],
)
def test_stack_type_is_case_and_space_tolerant(raw: str | None, expected: StackType) -> None:
    assert normalize_stack_type(raw, labels=CLI_LABELS) is expected


@pytest.mark.parametrize(("labels", "label"), [(CLI_LABELS, "--type"), (MCP_LABELS, "stack_type")])
def test_unknown_type_lists_supported_types_with_oxford_comma(
    labels: StackFieldLabels, label: str
) -> None:
    error = rejected(stack_type="ecs", labels=labels)
    assert "Unknown stack type 'ecs'" in error.message
    assert label in error.message
    assert "local, kubernetes, vertex, sagemaker, and azureml" in error.message
    assert list(error.fields) == [label]


def test_oxford_join() -> None:
    assert oxford_join([]) == ""
    assert oxford_join(["a"]) == "a"
    assert oxford_join(["a", "b"]) == "a and b"
    assert oxford_join(["a", "b", "c"], "or") == "a, b, or c"


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), ("  ", None), (" x ", "x")]
)
def test_blank_strings_count_as_omitted(raw: str | None, expected: str | None) -> None:
    assert normalize_optional_string(raw) == expected


def test_local_defaults() -> None:
    request = build(name=" dev ")
    assert request.name == "dev"
    assert request.stack_type is StackType.LOCAL
    assert request.activate is True
    assert request.provider is None and request.credentials is None
    assert request.extra == {}


def test_no_activate() -> None:
    assert build(name="dev", activate=False).activate is False


@pytest.mark.parametrize("name", ["", "  ", None])
def test_name_is_required(name: str | None) -> None:
    error = rejected(name=name)
    assert "NAME is required" in error.message


@pytest.mark.parametrize("name", ["has space", "-dash-first", "x" * 65, "a/b"])
def test_bad_stack_names(name: str) -> None:
    error = rejected(name=name, labels=MCP_LABELS)
    assert "is not a valid stack name" in error.message
    assert "name" in error.fields


def test_request_is_frozen() -> None:
    request = build(name="dev")
    with pytest.raises(ValidationError):
        request.name = "other"


# ------------------------------------------------------------------------ the rules table


@pytest.mark.parametrize("stack_type", list(SEED_EXAMPLES))
def test_seed_examples_build(stack_type: str) -> None:
    request = build(stack_type, name=f"prod-{stack_type}", **SEED_EXAMPLES[stack_type])
    assert request.stack_type.value == stack_type
    assert request.is_remote and request.verify is True
    assert request.credentials is not None
    assert request.credentials.method is CredentialMethod.IMPLICIT
    for field, value in SEED_EXAMPLES[stack_type].items():
        assert getattr(request, field) == value


@pytest.mark.parametrize(
    ("stack_type", "field"),
    [(t, f) for t, fields in REQUIRED.items() for f in sorted(fields)],
)
def test_each_required_field_is_required(stack_type: str, field: str) -> None:
    inputs = {f: ANY_VALUE[f] for f in REQUIRED[stack_type] if f != field}
    inputs.update(_fit(stack_type))
    inputs.pop(field, None)
    error = rejected(stack_type=stack_type, **inputs)
    assert f"Stack type '{stack_type}' requires" in error.message
    assert CLI_FLAG[field] in error.fields


@pytest.mark.parametrize(
    ("stack_type", "field"),
    [(t, f) for t in REQUIRED for f in sorted(set(ANY_VALUE) - REQUIRED[t] - OPTIONAL[t])],
)
def test_each_field_not_allowed_for_a_type_is_rejected(stack_type: str, field: str) -> None:
    inputs = {**_fit(stack_type), field: ANY_VALUE[field]}
    error = rejected(stack_type=stack_type, **inputs)
    assert f"Stack type '{stack_type}' does not accept" in error.message
    assert CLI_FLAG[field] in error.fields
    assert "stacks only)" in error.fields[CLI_FLAG[field]]


@pytest.mark.parametrize(
    ("stack_type", "field"),
    [(t, f) for t in REQUIRED if t != "local" for f in sorted(OPTIONAL[t])],
)
def test_each_optional_field_is_accepted(stack_type: str, field: str) -> None:
    request = build(stack_type, **{**_fit(stack_type), field: ANY_VALUE[field]})
    expected = False if field == "verify" else ANY_VALUE[field]
    if field == "credentials":
        assert request.credentials is not None
    else:
        assert getattr(request, field) == expected


def _fit(stack_type: str) -> dict[str, Any]:
    """Valid required inputs for a type (the seed example, without optional fields)."""
    if stack_type == "local":
        return {}
    return {k: v for k, v in SEED_EXAMPLES[stack_type].items() if k in REQUIRED[stack_type]}


def test_wrong_fields_are_grouped_by_who_takes_them() -> None:
    error = rejected(
        stack_type="vertex",
        **SEED_EXAMPLES["vertex"],
        cluster="c",
        namespace="n",
        execution_role=ROLE,
    )
    assert (
        "Stack type 'vertex' does not accept --cluster and --namespace (kubernetes stacks only);"
        " --execution-role (sagemaker stacks only)." in error.message
    )
    assert set(error.fields) == {"--cluster", "--namespace", "--execution-role"}


def test_local_rejects_remote_fields_with_mcp_labels() -> None:
    error = rejected(artifact_store="s3://b", region="r", async_mode=True, labels=MCP_LABELS)
    assert "artifact_store, region, and async_mode (remote stacks only)" in error.message
    assert "--" not in error.message


def test_missing_and_wrong_fields_are_reported_together() -> None:
    error = rejected(stack_type="kubernetes", cluster="c", workspace="w")
    assert "does not accept --workspace (azureml stacks only)" in error.message
    assert "requires --artifact-store, --container-registry, and --region" in error.message


def test_blank_required_field_counts_as_missing() -> None:
    error = rejected(stack_type="kubernetes", **{**SEED_EXAMPLES["kubernetes"], "region": "  "})
    assert "requires --region" in error.message


def test_blank_disallowed_field_is_ignored() -> None:
    assert build(name="dev", cluster="", region="   ").stack_type is StackType.LOCAL


def test_verify_left_at_default_is_not_a_given_field() -> None:
    assert build(name="dev", verify=True).stack_type is StackType.LOCAL
    assert "--no-verify" in rejected(verify=False).fields


def test_kubernetes_namespace_defaults_to_default() -> None:
    assert build("kubernetes", **SEED_EXAMPLES["kubernetes"]).namespace == "default"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("namespace", "Team_A", "is not a Kubernetes namespace"),
        ("execution_role", "my-role", "is not an IAM role ARN"),
        ("subscription_id", "sub-123", "is not an Azure subscription id"),
    ],
)
def test_field_values_are_checked(field: str, value: str, needle: str) -> None:
    stack_type = {"namespace": "kubernetes", "execution_role": "sagemaker"}.get(field, "azureml")
    error = rejected(stack_type=stack_type, **{**SEED_EXAMPLES[stack_type], field: value})
    assert needle in error.message
    assert CLI_FLAG[field] in error.fields


# ------------------------------------------------------------------------ URIs and registries


@pytest.mark.parametrize(
    ("uri", "provider"),
    [
        ("s3://bucket/path", CloudProvider.AWS),
        ("gs://bucket", CloudProvider.GCP),
        ("az://container/x", CloudProvider.AZURE),
        ("abfs://container/x", CloudProvider.AZURE),
        ("abfss://container/x", CloudProvider.AZURE),
        ("S3://Bucket", CloudProvider.AWS),
    ],
)
def test_provider_is_inferred_from_the_uri(uri: str, provider: CloudProvider) -> None:
    assert infer_cloud_provider(uri) is provider


@pytest.mark.parametrize("uri", ["ftp://bucket/x", "my-bucket/kitaru", "s3://", "/tmp/local"])
def test_unknown_uri_lists_accepted_schemes(uri: str) -> None:
    with pytest.raises(ValueError, match=r"s3://, gs://, az://, abfs://, or abfss://"):
        infer_cloud_provider(uri, label="--artifact-store")
    error = rejected(stack_type="vertex", **{**SEED_EXAMPLES["vertex"], "artifact_store": uri})
    assert "--artifact-store" in error.fields


@pytest.mark.parametrize(
    ("stack_type", "uri", "accepted"),
    [
        ("vertex", "s3://b/x", "gs://"),
        ("sagemaker", "gs://b/x", "s3://"),
        ("azureml", "s3://b/x", "az://, abfs://, or abfss://"),
        ("kubernetes", "az://c/x", "s3:// or gs://"),
    ],
)
def test_uri_scheme_must_fit_the_stack_type(stack_type: str, uri: str, accepted: str) -> None:
    error = rejected(stack_type=stack_type, **{**SEED_EXAMPLES[stack_type], "artifact_store": uri})
    assert f"--artifact-store must start with {accepted}" in error.message


def test_kubernetes_runs_on_gcp_too() -> None:
    request = build(
        "kubernetes",
        artifact_store="gs://b/k",
        container_registry=GAR,
        cluster="gke-1",
        region="europe-west1",
    )
    assert request.provider is CloudProvider.GCP
    assert request.gcp_project == "my-project"


@pytest.mark.parametrize(
    ("registry", "project"),
    [
        ("us-central1-docker.pkg.dev/my-project/my-repo", "my-project"),
        ("gcr.io/proj-x", "proj-x"),
        ("eu.gcr.io/proj-y/images/", "proj-y"),
    ],
)
def test_gcp_project_is_inferred_from_the_registry(registry: str, project: str) -> None:
    request = build("vertex", **{**SEED_EXAMPLES["vertex"], "container_registry": registry})
    assert request.gcp_project == project
    assert request.container_registry == registry.rstrip("/")


@pytest.mark.parametrize(
    ("stack_type", "registry", "needle"),
    [
        ("vertex", "docker.io/me", "is not a GCP container registry"),
        ("vertex", "us-central1-docker.pkg.dev", "is not a GCP container registry"),
        ("sagemaker", f"{ECR}/repo", "is not an AWS container registry"),
        ("azureml", "demo.example.com/x", "is not an Azure container registry"),
    ],
)
def test_registry_must_fit_the_cloud(stack_type: str, registry: str, needle: str) -> None:
    inputs = {**SEED_EXAMPLES[stack_type], "container_registry": registry}
    error = rejected(stack_type=stack_type, labels=MCP_LABELS, **inputs)
    assert needle in error.message
    assert "container_registry" in error.fields


# ------------------------------------------------------------------------ delete and references


def test_delete_request() -> None:
    request = build_stack_delete_request(" dev ", recursive=True, force=True)
    assert (request.name, request.recursive, request.force) == ("dev", True, True)
    assert build_stack_delete_request("dev").recursive is False


@pytest.mark.parametrize(("labels", "label"), [(CLI_LABELS, "NAME"), (MCP_LABELS, "name")])
def test_delete_and_use_need_a_name(labels: StackFieldLabels, label: str) -> None:
    with pytest.raises(KitaruValidationError) as info:
        build_stack_delete_request("  ", labels=labels)
    assert label in info.value.fields
    with pytest.raises(KitaruValidationError):
        normalize_stack_reference(None)


def test_request_layer_does_not_import_zenml() -> None:
    code = textwrap.dedent(
        """
        import sys
        import kitaru_core.requests.stacks, kitaru_core.services.stacks, kitaru_core.sdk_stacks
        print(sorted(m for m in sys.modules if m == "zenml" or m.startswith("zenml.")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
