"""What a validated :class:`StackCreateRequest` becomes in ZenML: flavors, configs, connector.

Flavors (checked against ZenML 0.98's flavor classes)::

    type        orchestrator  artifact store         container registry
    local       local         local                  —
    kubernetes  kubernetes    s3 | gcp               aws | gcp
    vertex      vertex        gcp                    gcp
    sagemaker   sagemaker     s3                     aws
    azureml     azureml       azure                  azure

Remote types share one service connector of type aws / gcp / azure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zenml.enums import StackComponentType

from kitaru_core.errors import KitaruValidationError
from kitaru_core.requests.stack_credentials import CredentialMethod, StackCredentials
from kitaru_core.requests.stack_extra import deep_merge
from kitaru_core.requests.stacks import CloudProvider, StackCreateRequest, StackType

ORCHESTRATOR = StackComponentType.ORCHESTRATOR
ARTIFACT_STORE = StackComponentType.ARTIFACT_STORE
CONTAINER_REGISTRY = StackComponentType.CONTAINER_REGISTRY

ORCHESTRATOR_FLAVORS: dict[StackType, str] = {t: t.value for t in StackType}
ARTIFACT_STORE_FLAVORS: dict[CloudProvider, str] = {
    CloudProvider.AWS: "s3",
    CloudProvider.GCP: "gcp",
    CloudProvider.AZURE: "azure",
}
REGISTRY_FLAVORS: dict[CloudProvider, str] = {p: p.value for p in CloudProvider}


@dataclass(frozen=True)
class ComponentSpec:
    """One component to create. ``named`` maps config keys set from named fields → field."""

    component_type: StackComponentType
    flavor: str
    configuration: dict[str, Any]
    named: dict[str, str] = field(default_factory=dict)
    connector_resource_id: str | None = None

    @property
    def target(self) -> str:
        return self.component_type.value


@dataclass(frozen=True)
class ConnectorSpec:
    """The shared service connector of a remote stack (configuration includes secrets)."""

    connector_type: str
    auth_method: str
    configuration: dict[str, Any]
    secret_keys: tuple[str, ...] = ()

    @property
    def secret_values(self) -> list[str]:
        """The secret values, longest first (so a scrub never leaves a tail of one)."""
        values = [str(self.configuration[key]) for key in self.secret_keys]
        return sorted((v for v in values if v), key=len, reverse=True)


def _drop_none(values: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value is not None}


def _orchestrator(request: StackCreateRequest) -> ComponentSpec:
    """The orchestrator config; ``named`` records which Kitaru field set each key."""
    kind = request.stack_type
    by_type: dict[StackType, dict[str, str]] = {
        StackType.LOCAL: {},
        StackType.KUBERNETES: {"kubernetes_namespace": "namespace"},
        StackType.VERTEX: {"location": "region", "project": "container_registry"},
        StackType.SAGEMAKER: {"execution_role": "execution_role", "region": "region"},
        StackType.AZUREML: {
            "subscription_id": "subscription_id",
            "resource_group": "resource_group",
            "workspace": "workspace",
            "location": "region",
        },
    }
    named = by_type[kind]
    sources = {**request.model_dump(), "container_registry": request.gcp_project}
    config = _drop_none({key: sources[source] for key, source in named.items()})
    return ComponentSpec(
        component_type=ORCHESTRATOR,
        flavor=ORCHESTRATOR_FLAVORS[kind],
        configuration=config,
        named={key: source for key, source in named.items() if key in config},
        # A Kubernetes orchestrator reaches its cluster through the connector: the cluster
        # name is the connector resource id (EKS or GKE cluster name).
        connector_resource_id=request.cluster if kind is StackType.KUBERNETES else None,
    )


def zenml_artifact_path(uri: str) -> str:
    """ZenML's Azure artifact store accepts ``az://`` and ``abfs://`` only; ``abfss://`` names
    the same container (adlfs always talks TLS), so it is stored as ``abfs://``."""
    if uri.startswith("abfss://"):
        return "abfs://" + uri.removeprefix("abfss://")
    return uri


def component_specs(request: StackCreateRequest) -> list[ComponentSpec]:
    """The components of the stack, with ``extra`` merged over the named configuration."""
    specs = [_orchestrator(request)]
    if not request.is_remote:
        specs.append(ComponentSpec(ARTIFACT_STORE, "local", {}))
    else:
        assert request.provider and request.artifact_store and request.container_registry
        path = zenml_artifact_path(request.artifact_store)
        uri = request.container_registry
        specs.append(
            ComponentSpec(
                ARTIFACT_STORE,
                ARTIFACT_STORE_FLAVORS[request.provider],
                {"path": path},
                {"path": "artifact_store"},
            )
        )
        specs.append(
            ComponentSpec(
                CONTAINER_REGISTRY,
                REGISTRY_FLAVORS[request.provider],
                {"uri": uri},
                {"uri": "container_registry"},
            )
        )
    return [_with_extra(spec, request.extra.get(spec.target, {})) for spec in specs]


def _with_extra(spec: ComponentSpec, extra: dict[str, Any]) -> ComponentSpec:
    clashes = sorted(set(extra) & set(spec.named))
    if clashes:
        key = clashes[0]
        sentence = (
            f"extra sets {spec.target}.{key}, which Kitaru already sets from "
            f"'{spec.named[key]}'; change '{spec.named[key]}' instead."
        )
        raise KitaruValidationError(sentence, fields={"extra": sentence})
    merged = deep_merge(spec.configuration, extra)
    return ComponentSpec(
        spec.component_type, spec.flavor, merged, spec.named, spec.connector_resource_id
    )


def connector_spec(request: StackCreateRequest) -> ConnectorSpec | None:
    """The connector for a remote stack (``None`` for a local one)."""
    if not request.is_remote:
        return None
    assert request.provider is not None
    credentials = request.credentials or StackCredentials(provider=request.provider)
    if request.provider is CloudProvider.AWS:
        return _aws(request, credentials)
    if request.provider is CloudProvider.GCP:
        return _gcp(request, credentials)
    return _azure(request, credentials)


def _aws(request: StackCreateRequest, credentials: StackCredentials) -> ConnectorSpec:
    config: dict[str, Any] = {"region": request.region}
    if credentials.method is CredentialMethod.ACCESS_KEY:
        config["aws_access_key_id"] = credentials.secret("aws_access_key_id")
        config["aws_secret_access_key"] = credentials.secret("aws_secret_access_key")
        return ConnectorSpec("aws", "secret-key", config, tuple(credentials.secrets))
    # profile and role are variants of implicit auth (a local profile, or a role to assume).
    config.update(credentials.settings)
    return ConnectorSpec("aws", "implicit", config)


# Checked offline, because ZenML stores a malformed key without complaint when verify=False.
_KEY_FIELDS = ("type", "project_id", "private_key_id", "private_key", "client_email")


def _read_key_file(path: str) -> str:
    def invalid(reason: str) -> KitaruValidationError:
        sentence = f"credentials: the service-account key file '{path}' {reason}."
        return KitaruValidationError(sentence, fields={"credentials": sentence})

    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise invalid("could not be read") from exc
    try:
        key = json.loads(text)
    except ValueError:
        raise invalid("is not valid JSON") from None
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise invalid('is not a service-account key (its "type" must be "service_account")')
    missing = [field for field in _KEY_FIELDS if not key.get(field)]
    if missing:
        raise invalid(f"lacks {', '.join(missing)}")
    return text


def _gcp(request: StackCreateRequest, credentials: StackCredentials) -> ConnectorSpec:
    config: dict[str, Any] = {"project_id": request.gcp_project}
    if credentials.method is CredentialMethod.SERVICE_ACCOUNT:
        config["service_account_json"] = _read_key_file(
            credentials.settings["service_account_file"]
        )
        return ConnectorSpec("gcp", "service-account", config, ("service_account_json",))
    return ConnectorSpec("gcp", "implicit", config)


def _azure(request: StackCreateRequest, credentials: StackCredentials) -> ConnectorSpec:
    config: dict[str, Any] = _drop_none(
        {"subscription_id": request.subscription_id, "resource_group": request.resource_group}
    )
    if credentials.method is CredentialMethod.SERVICE_PRINCIPAL:
        config.update(credentials.settings)
        config["client_secret"] = credentials.secret("client_secret")
        return ConnectorSpec("azure", "service-principal", config, ("client_secret",))
    return ConnectorSpec("azure", "implicit", config)
