"""Stack request options: credentials, `extra` overrides, `async`, and YAML files (pure).

Split from test_requests_stacks.py; the shared cases live in stack_cases.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stack_cases import (
    ECR,
    GAR,
    ROLE,
    SEED_EXAMPLES,
    build,
    rejected,
)

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
from kitaru_core.requests.stacks import (
    CLI_LABELS,
    MCP_LABELS,
    CloudProvider,
    StackType,
    build_stack_create_request,
    load_stack_file,
)

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
