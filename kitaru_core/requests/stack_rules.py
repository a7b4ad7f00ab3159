"""The per-type rules of a stack request (SPEC §3) and the checks of single field values.

Pure: no ZenML, no I/O. Every check reports through a :class:`ProblemList` with the calling
surface's labels.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from kitaru_core.requests.stack_credentials import IAM_ROLE_ARN
from kitaru_core.requests.stack_fields import (
    REMOTE_STACK_TYPES,
    CloudProvider,
    ProblemList,
    StackFieldLabels,
    StackType,
    oxford_join,
)


@dataclass(frozen=True)
class StackTypeRule:
    """Which fields a stack type needs, which it may take, and which clouds it runs on."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    providers: tuple[CloudProvider, ...]

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(self.required + self.optional)


_REMOTE_COMMON = ("credentials", "verify", "async_mode")
_AWS, _GCP, _AZURE = CloudProvider.AWS, CloudProvider.GCP, CloudProvider.AZURE

STACK_RULES: dict[StackType, StackTypeRule] = {
    StackType.LOCAL: StackTypeRule(required=(), optional=(), providers=()),
    StackType.KUBERNETES: StackTypeRule(
        required=("artifact_store", "container_registry", "cluster", "region"),
        optional=("namespace", *_REMOTE_COMMON),
        providers=(_AWS, _GCP),
    ),
    StackType.VERTEX: StackTypeRule(
        required=("artifact_store", "container_registry", "region"),
        optional=_REMOTE_COMMON,
        providers=(_GCP,),
    ),
    StackType.SAGEMAKER: StackTypeRule(
        required=("artifact_store", "container_registry", "region", "execution_role"),
        optional=_REMOTE_COMMON,
        providers=(_AWS,),
    ),
    StackType.AZUREML: StackTypeRule(
        required=(
            "artifact_store",
            "container_registry",
            "subscription_id",
            "resource_group",
            "workspace",
        ),
        optional=("region", *_REMOTE_COMMON),
        providers=(_AZURE,),
    ),
}

# The fields whose presence the rules above govern, in the order messages list them.
RULED_FIELDS: tuple[str, ...] = (
    "artifact_store",
    "container_registry",
    "cluster",
    "region",
    "subscription_id",
    "resource_group",
    "workspace",
    "execution_role",
    "namespace",
    "credentials",
    "verify",
    "async_mode",
)

SCHEMES: dict[str, CloudProvider] = {
    "s3": _AWS,
    "gs": _GCP,
    "az": _AZURE,
    "abfs": _AZURE,
    "abfss": _AZURE,
}
DEFAULT_NAMESPACE = "default"

_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<bucket>[^/\s]+)(?P<rest>/\S*)?$")
_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_GCP_REGISTRY = re.compile(
    # HOST/PROJECT[/REPO...]: Artifact Registry (REGION-docker.pkg.dev) or GCR ([eu.]gcr.io).
    r"^(?:[a-z0-9-]+-docker\.pkg\.dev|(?:[a-z]+\.)?gcr\.io)"
    r"/(?P<project>[a-z0-9][a-z0-9.:-]*[a-z0-9])(?:/\S*)?$"
)
_ACR = re.compile(r"^[A-Za-z0-9]+\.azurecr\.io(?:/\S*)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

PROVIDER_NAMES: dict[CloudProvider, str] = {_AWS: "an AWS", _GCP: "a GCP", _AZURE: "an Azure"}
REGISTRY_EXAMPLES: dict[CloudProvider, str] = {
    _AWS: "an ECR registry such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com (no path)",
    _GCP: "an Artifact Registry or GCR URI that names the project, such as "
    "us-central1-docker.pkg.dev/my-project/my-repo",
    _AZURE: "an ACR registry such as myregistry.azurecr.io",
}


def types_phrase(stack_types: frozenset[StackType]) -> str:
    """``remote stacks`` or ``kubernetes stacks`` — who a field is for, in words."""
    if stack_types == frozenset(REMOTE_STACK_TYPES):
        return "remote stacks"
    ordered = [t.value for t in StackType if t in stack_types]
    return f"{oxford_join(ordered)} stacks"


def types_allowing(field: str) -> frozenset[StackType]:
    return frozenset(t for t, rule in STACK_RULES.items() if field in rule.allowed)


def check_presence(
    stack_type: StackType,
    provided: Mapping[str, bool],
    problems: ProblemList,
    labels: StackFieldLabels,
) -> None:
    """Reject fields the type does not take (grouped by who takes them) and missing ones."""
    rule = STACK_RULES[stack_type]
    wrong = [f for f in RULED_FIELDS if provided.get(f) and f not in rule.allowed]
    groups: dict[frozenset[StackType], list[str]] = {}
    for field in wrong:
        groups.setdefault(types_allowing(field), []).append(field)
    if groups:
        parts = [
            f"{labels.render(fields)} ({types_phrase(owners)} only)"
            for owners, fields in groups.items()
        ]
        sentence = f"Stack type '{stack_type.value}' does not accept {'; '.join(parts)}."
        for field in wrong:
            problems.add(labels.of(field), sentence)
    missing = [f for f in rule.required if not provided.get(f)]
    if missing:
        sentence = f"Stack type '{stack_type.value}' requires {labels.render(missing)}."
        for field in missing:
            problems.add(labels.of(field), sentence)


def infer_cloud_provider(uri: str, *, label: str = "artifact_store") -> CloudProvider:
    """``s3://`` → aws, ``gs://`` → gcp, ``az://``/``abfs://``/``abfss://`` → azure.

    Raises ``ValueError`` with a sentence naming ``label`` and the accepted schemes.
    """
    match = _URI.match(uri.strip())
    accepted = oxford_join([f"{scheme}://" for scheme in SCHEMES], "or")
    if match is None:
        raise ValueError(f"{label} '{uri}' is not a bucket URI; use {accepted}BUCKET/PATH.")
    provider = SCHEMES.get(match["scheme"].lower())
    if provider is None:
        raise ValueError(
            f"{label} scheme '{match['scheme']}://' fits no cloud provider; use {accepted}."
        )
    return provider


def normalize_bucket_uri(uri: str) -> str:
    """The URI with its scheme in lower case and no trailing slash."""
    scheme, _, rest = uri.strip().partition("://")
    return f"{scheme.lower()}://{rest.rstrip('/')}"


def check_provider_fits(
    stack_type: StackType, provider: CloudProvider, uri: str, label: str
) -> str | None:
    """A sentence if the artifact store's cloud does not fit the stack type, else ``None``."""
    providers = STACK_RULES[stack_type].providers
    if provider in providers:
        return None
    schemes = [f"{s}://" for s, p in SCHEMES.items() if p in providers]
    return (
        f"For {stack_type.value} stacks, {label} must start with {oxford_join(schemes, 'or')} "
        f"(got '{uri}', {PROVIDER_NAMES[provider]} URI)."
    )


def check_registry(provider: CloudProvider, uri: str, label: str) -> tuple[str | None, str | None]:
    """Check the registry fits the provider; returns (problem sentence, GCP project)."""
    patterns = {_AWS: _ECR, _GCP: _GCP_REGISTRY, _AZURE: _ACR}
    match = patterns[provider].match(uri)
    if match is None:
        return (
            f"{label} '{uri}' is not {PROVIDER_NAMES[provider]} container registry; "
            f"use {REGISTRY_EXAMPLES[provider]}.",
            None,
        )
    return None, (match["project"] if provider is _GCP else None)


def check_execution_role(value: str, label: str) -> str | None:
    if IAM_ROLE_ARN.match(value):
        return None
    return f"{label} '{value}' is not an IAM role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME)."


def check_subscription_id(value: str, label: str) -> str | None:
    try:
        uuid.UUID(value)
    except ValueError:
        return f"{label} '{value}' is not an Azure subscription id (a UUID)."
    return None


def check_namespace(value: str, label: str) -> str | None:
    if _DNS_LABEL.match(value):
        return None
    return (
        f"{label} '{value}' is not a Kubernetes namespace "
        "(lower-case letters, digits and '-', at most 63 characters)."
    )


def check_stack_name(value: str, label: str) -> str | None:
    if _STACK_NAME.match(value):
        return None
    return (
        f"{label} '{value}' is not a valid stack name: start with a letter or digit and use "
        "only letters, digits, '.', '_' and '-' (at most 64 characters)."
    )
