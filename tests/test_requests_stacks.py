"""The pure stack request layer: rules table, messages, URIs, credentials, extra, YAML files.

No ZenML here: these tests only build requests (one subprocess test proves the layer does not
import ZenML).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kitaru_core.errors import KitaruValidationError
from kitaru_core.requests.stack_credentials import (
    CredentialMethod,
    CredentialsFormatError,
    parse_credentials,
)
from kitaru_core.requests.stack_extra import (
    apply_async_rule,
    coerce_extra,
    deep_merge,
    parse_extra_assignments,
)
from kitaru_core.requests.stack_fields import oxford_join
from kitaru_core.requests.stacks import (
    CLI_LABELS,
    MCP_LABELS,
    CloudProvider,
    StackCreateRequest,
    StackFieldLabels,
    StackType,
    build_stack_create_request,
    build_stack_delete_request,
    infer_cloud_provider,
    load_stack_file,
    normalize_optional_string,
    normalize_stack_reference,
    normalize_stack_type,
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


# ------------------------------------------------------------------------ credentials

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AZURE_SECRET = "s3cr:et~value.with-colon"
TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"


@pytest.mark.parametrize(
    ("provider", "raw", "method", "settings"),
    [
        (CloudProvider.AWS, None, CredentialMethod.IMPLICIT, {}),
        (CloudProvider.AWS, "IMPLICIT", CredentialMethod.IMPLICIT, {}),
        (
            CloudProvider.AWS,
            "profile:ml-team",
            CredentialMethod.PROFILE,
            {"profile_name": "ml-team"},
        ),
        (CloudProvider.AWS, f"role:{ROLE}", CredentialMethod.ROLE, {"role_arn": ROLE}),
        (
            CloudProvider.AWS,
            f"access-key:AKIAIOSFODNN7EXAMPLE:{AWS_SECRET}",
            CredentialMethod.ACCESS_KEY,
            {},
        ),
        (
            CloudProvider.GCP,
            "service-account:/keys/sa.json",
            CredentialMethod.SERVICE_ACCOUNT,
            {"service_account_file": "/keys/sa.json"},
        ),
        (
            CloudProvider.GCP,
            "~/sa.json",
            CredentialMethod.SERVICE_ACCOUNT,
            {"service_account_file": "~/sa.json"},
        ),
        (CloudProvider.GCP, "", CredentialMethod.IMPLICIT, {}),
        (
            CloudProvider.AZURE,
            f"service-principal:{TENANT}:{CLIENT}:{AZURE_SECRET}",
            CredentialMethod.SERVICE_PRINCIPAL,
            {"tenant_id": TENANT, "client_id": CLIENT},
        ),
    ],
)
def test_credential_formats(
    provider: CloudProvider, raw: str | None, method: CredentialMethod, settings: dict[str, str]
) -> None:
    credentials = parse_credentials(raw, provider)
    assert credentials.method is method
    assert credentials.settings == settings


def test_secrets_are_kept_whole_but_never_rendered() -> None:
    raw = f"service-principal:{TENANT}:{CLIENT}:{AZURE_SECRET}"
    request = build("azureml", **SEED_EXAMPLES["azureml"], credentials=raw)
    assert request.credentials is not None
    assert request.credentials.secret("client_secret") == AZURE_SECRET
    for text in (repr(request), str(request), request.model_dump_json(), str(request.describe())):
        assert AZURE_SECRET not in text
    assert request.describe()["credentials"]["client_secret"] == "s3cr****"


def test_aws_access_key_is_masked_in_describe() -> None:
    raw = f"access-key:AKIAIOSFODNN7EXAMPLE:{AWS_SECRET}"
    request = build("sagemaker", **SEED_EXAMPLES["sagemaker"], credentials=raw)
    shown = request.describe()["credentials"]
    assert shown == {
        "method": "access-key",
        "aws_access_key_id": "AKIA****",
        "aws_secret_access_key": "wJal****",
    }
    assert AWS_SECRET not in repr(request)


@pytest.mark.parametrize(
    ("stack_type", "raw"),
    [
        ("sagemaker", f"access-key:{AWS_SECRET}"),
        ("sagemaker", "role:not-an-arn"),
        ("sagemaker", "profile:"),
        ("sagemaker", f"password:{AWS_SECRET}"),
        ("vertex", f"token:{AWS_SECRET}"),
        ("vertex", "service-account:"),
        ("azureml", f"service-principal:tenant:client:{AWS_SECRET}"),
        ("azureml", f"service-principal:{TENANT}:{CLIENT}"),
        ("azureml", f"access-key:x:{AWS_SECRET}"),
    ],
)
def test_bad_credentials_name_the_formats_and_hide_the_value(stack_type: str, raw: str) -> None:
    error = rejected(stack_type=stack_type, **SEED_EXAMPLES[stack_type], credentials=raw)
    assert "--credentials" in error.fields
    assert "Accepted formats for" in error.message
    assert AWS_SECRET not in error.message and AWS_SECRET not in str(error.details)


def test_credentials_parser_raises_its_own_error() -> None:
    with pytest.raises(CredentialsFormatError, match="implicit, profile:NAME"):
        parse_credentials("nonsense", CloudProvider.AWS)


# ------------------------------------------------------------------------ extra and async


def test_extra_values_use_yaml_semantics() -> None:
    overrides = parse_extra_assignments(
        [
            "orchestrator.synchronous=false",
            "orchestrator.max_parallelism=3",
            "orchestrator.cpu=1.5",
            "orchestrator.note=null",
            "orchestrator.pipeline_root=gs://my-bucket/vertex-root",
            "orchestrator.labels={team: ml, tier: 1}",
            "orchestrator.list=[a, b]",
            "artifact_store.key='quoted: text'",
            "container_registry.default_repository=agents",
        ],
        labels=CLI_LABELS,
    )
    assert overrides == {
        "orchestrator": {
            "synchronous": False,
            "max_parallelism": 3,
            "cpu": 1.5,
            "note": None,
            "pipeline_root": "gs://my-bucket/vertex-root",
            "labels": {"team": "ml", "tier": 1},
            "list": ["a", "b"],
        },
        "artifact_store": {"key": "quoted: text"},
        "container_registry": {"default_repository": "agents"},
    }


def test_extra_dotted_paths_nest_and_later_values_win() -> None:
    overrides = parse_extra_assignments(
        [
            "orchestrator.pod_settings.node_selectors={pool: cpu, zone: a}",
            "orchestrator.pod_settings.node_selectors.pool=gpu",
            "orchestrator.a=1",
            "orchestrator.a=2",
            "orchestrator.b=1",
            "orchestrator.b.c=2",
        ],
        labels=CLI_LABELS,
    )
    assert overrides["orchestrator"] == {
        "pod_settings": {"node_selectors": {"pool": "gpu", "zone": "a"}},
        "a": 2,
        "b": {"c": 2},
    }


def test_extra_mapping_forms() -> None:
    overrides = coerce_extra(
        {
            "orchestrator": {"pod_settings": {"node_selectors": {"cloud.google.com/pool": "p"}}},
            "orchestrator.synchronous": True,
        },
        labels=MCP_LABELS,
    )
    # Dots only nest in top-level keys: a node-selector key keeps its dots.
    assert overrides == {
        "orchestrator": {
            "pod_settings": {"node_selectors": {"cloud.google.com/pool": "p"}},
            "synchronous": True,
        }
    }
    assert coerce_extra(None, labels=MCP_LABELS) == {}
    assert coerce_extra("orchestrator.x=1", labels=MCP_LABELS) == {"orchestrator": {"x": 1}}


def test_deep_merge_prefers_later_leaves() -> None:
    base = {"a": {"b": 1, "c": {"d": 1}}, "e": 1}
    assert deep_merge(base, {"a": {"c": {"x": 2}}, "e": {"f": 1}}) == {
        "a": {"b": 1, "c": {"d": 1, "x": 2}},
        "e": {"f": 1},
    }
    assert base == {"a": {"b": 1, "c": {"d": 1}}, "e": 1}  # inputs are not modified


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["orchestrator.synchronous"], "must look like TARGET.FIELD=VALUE"),
        (["orchestrator=1"], "must look like TARGET.FIELD"),
        (["orchestrator..x=1"], "must look like TARGET.FIELD"),
        (["step_operator.x=1"], "unknown target 'step_operator'"),
        (["orchestrator.x={unclosed"], "could not be read"),
        ({"orchestrator": 5}, "'orchestrator' must map field names to values"),
        ({"deployer": {"x": 1}}, "unknown target 'deployer'"),
        ({"orchestrator": {1: "x"}}, "is not a field name"),
        ([1, 2], "TARGET.FIELD=VALUE strings"),
    ],
)
def test_bad_extra_is_rejected_with_the_label(extra: Any, needle: str) -> None:
    error = rejected(extra=extra)
    assert needle in error.message
    assert "--extra" in error.fields


def test_extra_target_illegal_for_the_type() -> None:
    error = rejected(extra=["container_registry.default_repository=x"], labels=MCP_LABELS)
    assert "extra target container_registry is not valid for local stacks" in error.message
    assert "use orchestrator or artifact_store" in error.message


def test_local_extra_targets_are_accepted() -> None:
    request = build(extra=["artifact_store.path=/data/kitaru"])
    assert request.extra == {"artifact_store": {"path": "/data/kitaru"}}


def test_async_sets_synchronous_false() -> None:
    request = build(
        "vertex",
        **SEED_EXAMPLES["vertex"],
        async_mode=True,
        extra=["orchestrator.pipeline_root=gs://my-bucket/vertex-root"],
    )
    assert request.extra == {
        "orchestrator": {"pipeline_root": "gs://my-bucket/vertex-root", "synchronous": False}
    }


def test_explicit_synchronous_wins_over_async() -> None:
    request = build(
        "vertex",
        **SEED_EXAMPLES["vertex"],
        async_mode=True,
        extra=["orchestrator.synchronous=true"],
    )
    assert request.extra == {"orchestrator": {"synchronous": True}}


def test_async_rule_alone() -> None:
    assert apply_async_rule({}, async_mode=False) == {}
    assert apply_async_rule({}, async_mode=True) == {"orchestrator": {"synchronous": False}}


def test_async_is_rejected_for_local_stacks() -> None:
    assert "--async" in rejected(async_mode=True).fields
    assert build(name="dev", async_mode=False).async_mode is False


# ------------------------------------------------------------------------ YAML files

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


@pytest.fixture
def seed_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(SEED_YAML)
    return path


def test_seed_yaml_builds_the_same_request_as_the_flags(seed_yaml: Path) -> None:
    values = load_stack_file(seed_yaml, labels=CLI_LABELS)
    from_file = build_stack_create_request(name=None, labels=CLI_LABELS, file_values=values)
    from_flags = build(
        "vertex",
        name="prod-vertex",
        **SEED_EXAMPLES["vertex"],
        async_mode=True,
        extra={
            "orchestrator": {"pipeline_root": "gs://my-bucket/vertex-root"},
            "container_registry": {"default_repository": "agents"},
        },
    )
    assert from_file == from_flags
    assert from_file.extra["orchestrator"]["synchronous"] is False


def test_flags_override_yaml_and_extra_merges_on_top(seed_yaml: Path) -> None:
    values = load_stack_file(seed_yaml, labels=CLI_LABELS)
    request = build_stack_create_request(
        name="prod-vertex-2",
        region="europe-west4",
        container_registry="  ",  # blank: the file's value stays
        extra=["orchestrator.pipeline_root=gs://other/root", "orchestrator.synchronous=true"],
        labels=CLI_LABELS,
        file_values=values,
    )
    assert request.name == "prod-vertex-2"
    assert request.region == "europe-west4"
    assert request.container_registry == GAR
    assert request.extra == {
        "orchestrator": {"pipeline_root": "gs://other/root", "synchronous": True},
        "container_registry": {"default_repository": "agents"},
    }


def test_yaml_accepts_flag_spellings(tmp_path: Path) -> None:
    path = tmp_path / "k8s.yaml"
    path.write_text(
        "name: k\nstack-type: kubernetes\nartifact-store: s3://b/k\n"
        f"container-registry: {ECR}\ncluster: c\nregion: eu-west-1\nverify: false\n"
        "activate: false\nextra:\n  - orchestrator.synchronous=false\n"
    )
    request = build_stack_create_request(
        name=None, labels=MCP_LABELS, file_values=load_stack_file(path, labels=MCP_LABELS)
    )
    assert (request.stack_type, request.verify, request.activate) == (
        StackType.KUBERNETES,
        False,
        False,
    )
    assert request.extra == {"orchestrator": {"synchronous": False}}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("name: x\nbucket: s3://b\n", "unknown key 'bucket'"),
        ("- a\n- b\n", "must hold a mapping"),
        ("name: [unclosed\n", "is not valid YAML"),
        ("name: x\nverify: maybe\n", "'verify' must be true or false"),
        ("name: x\nregion: true\n", "'region' must be text"),
        ("name: x\nextra: 5\n", "'extra' must be a mapping"),
        ("type: vertex\nstack_type: local\n", "given twice"),
    ],
)
def test_bad_yaml_files(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(KitaruValidationError) as info:
        load_stack_file(path, labels=CLI_LABELS)
    assert needle in info.value.message
    assert "--file" in info.value.fields


def test_missing_yaml_file(tmp_path: Path) -> None:
    with pytest.raises(KitaruValidationError, match="no such file") as info:
        load_stack_file(tmp_path / "nope.yaml", labels=MCP_LABELS)
    assert "file" in info.value.fields


def test_yaml_numbers_become_text(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("name: 2024\n")
    assert load_stack_file(path, labels=CLI_LABELS) == {"name": "2024"}


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
