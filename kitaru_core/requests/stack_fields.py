"""The vocabulary of stack requests: stack types, cloud providers and per-surface field labels.

Pure: no ZenML, no I/O. Every message names a field the way the calling surface spells it
(``--cluster`` on the CLI, ``cluster`` in MCP), so each surface passes its own
:class:`StackFieldLabels`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from kitaru_core.errors import KitaruValidationError


class StackType(StrEnum):
    """The stack types Kitaru can create."""

    LOCAL = "local"
    KUBERNETES = "kubernetes"
    VERTEX = "vertex"
    SAGEMAKER = "sagemaker"
    AZUREML = "azureml"

    @property
    def is_remote(self) -> bool:
        return self is not StackType.LOCAL


REMOTE_STACK_TYPES: tuple[StackType, ...] = tuple(t for t in StackType if t.is_remote)


class CloudProvider(StrEnum):
    """The cloud behind a remote stack, inferred from its artifact-store URI."""

    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"


@dataclass(frozen=True)
class StackFieldLabels:
    """How one surface spells each stack field in messages (attribute = internal field name)."""

    name: str
    stack_type: str
    activate: str
    artifact_store: str
    container_registry: str
    cluster: str
    region: str
    subscription_id: str
    resource_group: str
    workspace: str
    execution_role: str
    namespace: str
    credentials: str
    verify: str
    extra: str
    async_mode: str
    file: str
    recursive: str
    force: str

    def of(self, field: str) -> str:
        """The label of one internal field name."""
        label = getattr(self, field, None)
        return label if isinstance(label, str) else field

    def render(self, fields: Iterable[str], conjunction: str = "and") -> str:
        """Several fields as one Oxford-comma phrase of labels."""
        return oxford_join([self.of(field) for field in fields], conjunction)


CLI_LABELS = StackFieldLabels(
    name="NAME",
    stack_type="--type",
    activate="--activate/--no-activate",
    artifact_store="--artifact-store",
    container_registry="--container-registry",
    cluster="--cluster",
    region="--region",
    subscription_id="--subscription-id",
    resource_group="--resource-group",
    workspace="--workspace",
    execution_role="--execution-role",
    namespace="--namespace",
    credentials="--credentials",
    verify="--no-verify",
    extra="--extra",
    async_mode="--async",
    file="--file",
    recursive="--recursive",
    force="--force",
)

# MCP tool parameters (and the Python SDK's keyword arguments) use the internal names.
MCP_LABELS = StackFieldLabels(
    **{field: field for field in StackFieldLabels.__dataclass_fields__},
)


def oxford_join(items: Iterable[str], conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b, and c``."""
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    if len(words) == 2:
        return f"{words[0]} {conjunction} {words[1]}"
    return f"{', '.join(words[:-1])}, {conjunction} {words[-1]}"


def normalize_optional_string(value: str | None) -> str | None:
    """Strip a text input; a blank string counts as omitted (``None``)."""
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


def supported_stack_types_phrase() -> str:
    return oxford_join([t.value for t in StackType])


def normalize_stack_type(raw: str | StackType | None, *, labels: StackFieldLabels) -> StackType:
    """Turn ``" Kubernetes "``, ``"Azure ML"`` or ``"azure-ml"`` into a :class:`StackType`.

    Omitted (``None`` or blank) means ``local``.
    """
    if isinstance(raw, StackType):
        return raw
    text = normalize_optional_string(raw)
    if text is None:
        return StackType.LOCAL
    # Case, spaces, dashes and underscores carry no meaning in a type name.
    key = "".join(ch for ch in text.lower() if ch not in " -_\t")
    for stack_type in StackType:
        if stack_type.value == key:
            return stack_type
    label = labels.of("stack_type")
    problem = (
        f"Unknown stack type '{text}' for {label}. "
        f"Supported stack types are {supported_stack_types_phrase()}."
    )
    raise KitaruValidationError(problem, fields={label: problem})


class ProblemList:
    """Collects field problems so one error can report all of them at once."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def add(self, label: str, sentence: str) -> None:
        # The first problem found for a field is the most useful one to show.
        self._fields.setdefault(label, sentence)

    def __bool__(self) -> bool:
        return bool(self._fields)

    def raise_if_any(self, hint: str | None = None) -> None:
        if not self._fields:
            return
        unique = list(dict.fromkeys(self._fields.values()))
        raise KitaruValidationError(" ".join(unique), fields=self._fields, hint=hint)
