"""Reading a stack definition from YAML (``kitaru stack create -f stack.yaml``).

The file uses the same keys as the flags (``artifact_store`` or ``artifact-store``), plus
``type``, ``async`` and a nested ``extra:`` block. The result feeds
:func:`kitaru_core.requests.stacks.build_stack_create_request` as ``file_values``, where flags
given on the command line win over the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from kitaru_core.errors import KitaruValidationError
from kitaru_core.requests.stack_fields import StackFieldLabels, oxford_join

TEXT_KEYS: tuple[str, ...] = (
    "name",
    "stack_type",
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
BOOL_KEYS: tuple[str, ...] = ("activate", "verify", "async_mode")
# The spelling users write → the internal field name.
ALIASES: dict[str, str] = {"type": "stack_type", "async": "async_mode"}
FILE_KEYS: tuple[str, ...] = (
    "name",
    "type",
    *TEXT_KEYS[2:],
    "activate",
    "verify",
    "async",
    "extra",
)


def _error(path: str, labels: StackFieldLabels, sentence: str) -> KitaruValidationError:
    label = labels.of("file")
    message = f"{label} {path}: {sentence}"
    return KitaruValidationError(message, fields={label: message})


def _read_mapping(path: str, labels: StackFieldLabels) -> dict[Any, Any]:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise _error(path, labels, "no such file.") from exc
    except OSError as exc:
        raise _error(path, labels, f"could not be read ({exc.strerror or exc}).") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _error(path, labels, f"is not valid YAML ({exc}).") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _error(path, labels, "must hold a mapping of stack fields (key: value lines).")
    return data


def _field_name(key: Any, path: str, labels: StackFieldLabels) -> str:
    text = str(key).strip().lower().replace("-", "_") if isinstance(key, str) else ""
    field = ALIASES.get(text, text)
    if field not in (*TEXT_KEYS, *BOOL_KEYS, "extra"):
        raise _error(
            path,
            labels,
            f"unknown key {key!r}; accepted keys are {oxford_join(FILE_KEYS)}.",
        )
    return field


def _coerce(field: str, value: Any, path: str, labels: StackFieldLabels) -> Any:
    if value is None:
        return None
    if field in BOOL_KEYS:
        if not isinstance(value, bool):
            raise _error(path, labels, f"'{field}' must be true or false.")
        return value
    if field == "extra":
        if not isinstance(value, dict | list):
            raise _error(path, labels, "'extra' must be a mapping of targets to fields.")
        return value
    # YAML reads `workspace: 123` as an int; a number is still a usable name. A bool is not.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _error(path, labels, f"'{field}' must be text.")
    return str(value)


def load_stack_file(path: str | os.PathLike[str], *, labels: StackFieldLabels) -> dict[str, Any]:
    """Read and check a stack YAML file; returns internal field name → value (no ``None``s)."""
    shown = os.fspath(path)
    values: dict[str, Any] = {}
    for key, raw_value in _read_mapping(shown, labels).items():
        field = _field_name(key, shown, labels)
        if field in values:
            raise _error(shown, labels, f"'{field}' is given twice.")
        value = _coerce(field, raw_value, shown, labels)
        if value is not None:
            values[field] = value
    return values
