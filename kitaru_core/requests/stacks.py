"""Stack requests: the one builder that the CLI, the MCP server and the SDK all call.

``build_stack_create_request(...)`` takes the raw inputs of any surface (blank strings count
as omitted, booleans left at their default count as omitted), checks them against the
per-type rules of SPEC §3, infers the cloud from the artifact-store URI, parses credentials
and ``extra`` overrides, applies the ``async`` rule and the YAML-file precedence, and returns
a frozen :class:`StackCreateRequest` — or raises one :class:`KitaruValidationError` naming
every offending field with the calling surface's labels.

Pure: no ZenML and no I/O (only :func:`load_stack_file` reads the YAML file it is given).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kitaru_core.errors import KitaruValidationError
from kitaru_core.requests import stack_rules as rules
from kitaru_core.requests.stack_credentials import (
    CredentialMethod,
    CredentialsFormatError,
    StackCredentials,
    parse_credentials,
)
from kitaru_core.requests.stack_extra import (
    ALLOWED_TARGETS,
    ComponentOverrides,
    ExtraInput,
    apply_async_rule,
    coerce_extra,
    illegal_targets,
    merge_overrides,
)
from kitaru_core.requests.stack_fields import (
    CLI_LABELS,
    MCP_LABELS,
    CloudProvider,
    ProblemList,
    StackFieldLabels,
    StackType,
    normalize_optional_string,
    normalize_stack_type,
    oxford_join,
)
from kitaru_core.requests.stack_file import load_stack_file
from kitaru_core.requests.stack_rules import STACK_RULES, infer_cloud_provider

__all__ = [
    "CLI_LABELS",
    "MCP_LABELS",
    "STACK_RULES",
    "CloudProvider",
    "CredentialMethod",
    "StackCreateRequest",
    "StackCredentials",
    "StackDeleteRequest",
    "StackFieldLabels",
    "StackType",
    "build_stack_create_request",
    "build_stack_delete_request",
    "infer_cloud_provider",
    "load_stack_file",
    "normalize_optional_string",
    "normalize_stack_reference",
    "normalize_stack_type",
]

_TEXT_FIELDS: tuple[str, ...] = (
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
)


class StackCreateRequest(BaseModel):
    """A validated request to create one stack; the services take nothing else."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    stack_type: StackType
    activate: bool = True
    provider: CloudProvider | None = None
    artifact_store: str | None = None
    container_registry: str | None = None
    cluster: str | None = None
    region: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    execution_role: str | None = None
    namespace: str | None = None
    gcp_project: str | None = None
    credentials: StackCredentials | None = None
    verify: bool = True
    async_mode: bool = False
    extra: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def is_remote(self) -> bool:
        return self.stack_type.is_remote

    def describe(self) -> dict[str, Any]:
        """A rendering-safe view (secrets in ``credentials`` masked) for CLI/MCP output."""
        view = self.model_dump(mode="json", exclude={"credentials"}, exclude_none=True)
        if self.credentials is not None:
            view["credentials"] = self.credentials.describe()
        return view


class StackDeleteRequest(BaseModel):
    """A validated request to delete one stack."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    recursive: bool = False
    force: bool = False


def normalize_stack_reference(
    value: str | None, *, labels: StackFieldLabels = MCP_LABELS, field: str = "name"
) -> str:
    """A stack name or id as given to ``use``/``show``/``delete``: required, stripped."""
    text = normalize_optional_string(value)
    if text is None:
        label = labels.of(field)
        sentence = f"{label} is required: give a stack name or id."
        raise KitaruValidationError(sentence, fields={label: sentence})
    return text


def build_stack_delete_request(
    name: str | None,
    recursive: bool = False,
    force: bool = False,
    *,
    labels: StackFieldLabels = MCP_LABELS,
) -> StackDeleteRequest:
    """Validate ``delete`` inputs (recursive: also remove unshared Kitaru-managed parts;
    force: allow deleting the active stack by switching to ``default`` first)."""
    return StackDeleteRequest(
        name=normalize_stack_reference(name, labels=labels),
        recursive=bool(recursive),
        force=bool(force),
    )


def _layer(flags: dict[str, Any], file_values: Mapping[str, Any]) -> dict[str, Any]:
    """Flags over file values; blank strings and ``None`` count as omitted."""
    merged: dict[str, Any] = {}
    for field in ("name", "stack_type", *_TEXT_FIELDS):
        flag = normalize_optional_string(flags.get(field))
        merged[field] = (
            flag if flag is not None else normalize_optional_string(file_values.get(field))
        )
    for field in ("activate", "verify", "async_mode"):
        flag = flags.get(field)
        merged[field] = flag if flag is not None else file_values.get(field)
    return merged


def build_stack_create_request(
    *,
    name: str | None,
    activate: bool | None = None,
    stack_type: str | StackType | None = None,
    artifact_store: str | None = None,
    container_registry: str | None = None,
    cluster: str | None = None,
    region: str | None = None,
    subscription_id: str | None = None,
    resource_group: str | None = None,
    workspace: str | None = None,
    execution_role: str | None = None,
    namespace: str | None = None,
    credentials: str | None = None,
    verify: bool | None = None,
    extra: ExtraInput = None,
    async_mode: bool | None = None,
    labels: StackFieldLabels,
    file_values: Mapping[str, Any] | None = None,
) -> StackCreateRequest:
    """Validate create inputs from any surface and build a :class:`StackCreateRequest`.

    ``file_values`` are the values read by :func:`load_stack_file`: every input given here
    wins over them, except ``extra``, which is merged on top of the file's ``extra``.
    Defaults: ``activate=True``, ``stack_type='local'``, ``verify=True``, ``async_mode=False``,
    ``namespace='default'`` (kubernetes), implicit credentials (remote types).
    """
    base = dict(file_values or {})
    flags = {
        "name": name,
        "activate": activate,
        "stack_type": stack_type,
        "artifact_store": artifact_store,
        "container_registry": container_registry,
        "cluster": cluster,
        "region": region,
        "subscription_id": subscription_id,
        "resource_group": resource_group,
        "workspace": workspace,
        "execution_role": execution_role,
        "namespace": namespace,
        "credentials": credentials,
        "verify": verify,
        "async_mode": async_mode,
    }
    values = _layer(flags, base)
    kind = normalize_stack_type(values["stack_type"], labels=labels)
    overrides = merge_overrides(
        coerce_extra(base.get("extra"), labels=labels), coerce_extra(extra, labels=labels)
    )
    # Every check runs, so one error lists every problem; a field keeps its first problem.
    problems = ProblemList()
    name_text = _check_name(values["name"], labels, problems)
    rules.check_presence(kind, _provided(values), problems, labels)
    remote = _check_remote_fields(kind, values, labels, problems) if kind.is_remote else {}
    _check_targets(kind, overrides, labels, problems)
    problems.raise_if_any()
    async_on = bool(values["async_mode"])
    return StackCreateRequest(
        name=name_text,
        stack_type=kind,
        activate=values["activate"] is not False,
        verify=values["verify"] is not False,
        async_mode=async_on,
        extra=apply_async_rule(overrides, async_mode=async_on),
        **{field: values[field] for field in _TEXT_FIELDS if field != "credentials"},
        **remote,
    )


def _provided(values: Mapping[str, Any]) -> dict[str, bool]:
    """Which ruled fields the caller really gave. A boolean at its default is not 'given'."""
    provided = {field: values[field] is not None for field in _TEXT_FIELDS}
    provided["verify"] = values["verify"] is False
    provided["async_mode"] = values["async_mode"] is True
    return provided


def _check_name(value: str | None, labels: StackFieldLabels, problems: ProblemList) -> str:
    label = labels.of("name")
    if value is None:
        problems.add(label, f"{label} is required: give the new stack a name.")
        return ""
    problem = rules.check_stack_name(value, label)
    if problem:
        problems.add(label, problem)
    return value


def _check_remote_fields(
    kind: StackType, values: dict[str, Any], labels: StackFieldLabels, problems: ProblemList
) -> dict[str, Any]:
    """Check the values of a remote request; returns the derived fields."""
    derived: dict[str, Any] = {}
    store_label = labels.of("artifact_store")
    if values["artifact_store"] is None:  # already reported as missing
        return derived
    try:
        provider = infer_cloud_provider(values["artifact_store"], label=store_label)
    except ValueError as exc:
        problems.add(store_label, str(exc))
        provider = None
    if provider is not None:
        values["artifact_store"] = rules.normalize_bucket_uri(values["artifact_store"])
        unfit = rules.check_provider_fits(kind, provider, values["artifact_store"], store_label)
        if unfit:
            problems.add(store_label, unfit)
        else:
            derived.update(_check_cloud_fields(provider, values, labels, problems))
    _check_plain_values(kind, values, labels, problems)
    return derived


def _check_cloud_fields(
    provider: CloudProvider,
    values: dict[str, Any],
    labels: StackFieldLabels,
    problems: ProblemList,
) -> dict[str, Any]:
    """Registry and credentials only make sense once the cloud is known."""
    registry_label = labels.of("container_registry")
    project = None
    if values["container_registry"] is not None:
        values["container_registry"] = values["container_registry"].rstrip("/")
        problem, project = rules.check_registry(
            provider, values["container_registry"], registry_label
        )
        if problem:
            problems.add(registry_label, problem)
    credentials_label = labels.of("credentials")
    try:
        credentials = parse_credentials(values["credentials"], provider)
    except CredentialsFormatError as exc:
        # The raw value may hold a secret: the message names the formats, never the value.
        problems.add(credentials_label, f"{credentials_label}: {exc}")
        credentials = None
    return {"provider": provider, "gcp_project": project, "credentials": credentials}


def _check_plain_values(
    kind: StackType, values: dict[str, Any], labels: StackFieldLabels, problems: ProblemList
) -> None:
    checks = {
        "execution_role": rules.check_execution_role,
        "subscription_id": rules.check_subscription_id,
        "namespace": rules.check_namespace,
    }
    for field, check in checks.items():
        if values[field] is not None:
            problem = check(values[field], labels.of(field))
            if problem:
                problems.add(labels.of(field), problem)
    if kind is StackType.KUBERNETES and values["namespace"] is None:
        values["namespace"] = rules.DEFAULT_NAMESPACE


def _check_targets(
    kind: StackType,
    overrides: ComponentOverrides,
    labels: StackFieldLabels,
    problems: ProblemList,
) -> None:
    illegal = illegal_targets(kind, overrides)
    if illegal:
        label = labels.of("extra")
        allowed = ALLOWED_TARGETS[kind]
        problems.add(
            label,
            f"{label} target {oxford_join(illegal)} is not valid for {kind.value} stacks; "
            f"use {oxford_join(allowed, 'or')}.",
        )
