"""``extra``: advanced overrides of the ZenML component configuration behind a stack.

Three input shapes reach the same result, ``{target: {field: value}}``:

* CLI assignments ``TARGET.FIELD=VALUE`` (``FIELD`` may be a dotted path that nests; ``VALUE``
  is read with YAML scalar/object semantics: ``true`` is a bool, ``3`` an int,
  ``{a: 1}`` a mapping, ``gs://b/x`` a string);
* a nested mapping (the YAML file's ``extra:`` block, an MCP argument);
* a mapping with dotted top-level keys (``{"orchestrator.synchronous": false}``).

Later values win, merged deeply. Pure: no ZenML, no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from kitaru_core.errors import KitaruValidationError
from kitaru_core.requests.stack_fields import StackFieldLabels, StackType, oxford_join

EXTRA_TARGETS: tuple[str, ...] = ("orchestrator", "artifact_store", "container_registry")

# A local stack has no container registry.
ALLOWED_TARGETS: dict[StackType, tuple[str, ...]] = {
    stack_type: EXTRA_TARGETS if stack_type.is_remote else EXTRA_TARGETS[:2]
    for stack_type in StackType
}

ComponentOverrides = dict[str, dict[str, Any]]
ExtraInput = Mapping[str, Any] | Sequence[str] | str | None


def _error(labels: StackFieldLabels, sentence: str) -> KitaruValidationError:
    label = labels.of("extra")
    return KitaruValidationError(f"{label}: {sentence}", fields={label: sentence})


def _check_target(target: str, labels: StackFieldLabels) -> None:
    if target not in EXTRA_TARGETS:
        raise _error(
            labels,
            f"unknown target '{target}'; use {oxford_join(EXTRA_TARGETS, 'or')}.",
        )


def _split_path(dotted: str, labels: StackFieldLabels) -> tuple[str, list[str]]:
    parts = [part.strip() for part in dotted.strip().split(".")]
    if len(parts) < 2 or not all(parts):
        raise _error(
            labels,
            f"'{dotted}' must look like TARGET.FIELD (e.g. orchestrator.synchronous).",
        )
    _check_target(parts[0], labels)
    return parts[0], parts[1:]


def parse_extra_value(raw_value: str, *, labels: StackFieldLabels) -> Any:
    """Read one assignment value with YAML semantics (``true``, ``3``, ``{a: 1}``, text)."""
    try:
        return yaml.safe_load(raw_value)
    except yaml.YAMLError as exc:
        reason = str(getattr(exc, "problem", None) or "not valid YAML")
        raise _error(labels, f"value '{raw_value}' could not be read: {reason}.") from exc


def _assign(root: ComponentOverrides, target: str, path: list[str], value: Any) -> None:
    """Set ``root[target][p1][p2]... = value``, replacing any scalar found on the way."""
    node: dict[str, Any] = root.setdefault(target, {})
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def parse_extra_assignments(
    assignments: Sequence[str], *, labels: StackFieldLabels
) -> ComponentOverrides:
    """Parse repeatable CLI ``TARGET.FIELD=VALUE`` assignments (later ones win)."""
    result: ComponentOverrides = {}
    for assignment in assignments:
        left, sep, raw_value = str(assignment).partition("=")
        if not sep:
            raise _error(labels, f"'{assignment}' must look like TARGET.FIELD=VALUE.")
        target, path = _split_path(left, labels)
        value = parse_extra_value(raw_value.strip(), labels=labels)
        merge_overrides_into(result, {target: _nest(path, value)})
    return result


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    _assign({"_": nested}, "_", path, value)
    return nested


def _plain_value(value: Any, where: str, labels: StackFieldLabels) -> Any:
    """A deep copy whose mappings have string keys only (YAML may produce int or None keys)."""
    if not isinstance(value, Mapping):
        return copy.deepcopy(value)
    plain: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise _error(labels, f"{where} has a key {key!r} that is not a field name.")
        plain[key] = _plain_value(item, f"{where}.{key}", labels)
    return plain


def normalize_extra_mapping(
    raw: Mapping[str, Any], *, labels: StackFieldLabels
) -> ComponentOverrides:
    """Validate a nested (or top-level dotted) mapping into ``{target: {field: value}}``."""
    result: ComponentOverrides = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise _error(labels, f"key {key!r} is not a target name.")
        if "." in key:
            # Only top-level keys nest on dots: values such as Kubernetes node-selector keys
            # ("cloud.google.com/gke-nodepool") legitimately contain dots.
            target, path = _split_path(key, labels)
            piece = _nest(path, _plain_value(value, key, labels))
        else:
            target = key.strip()
            _check_target(target, labels)
            if not isinstance(value, Mapping):
                raise _error(labels, f"'{target}' must map field names to values.")
            piece = _plain_value(value, target, labels)
        merge_overrides_into(result, {target: piece})
    return result


def coerce_extra(raw: ExtraInput, *, labels: StackFieldLabels) -> ComponentOverrides:
    """Any accepted ``extra`` shape → ``{target: {field: value}}``."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        return parse_extra_assignments([raw], labels=labels) if raw.strip() else {}
    if isinstance(raw, Mapping):
        return normalize_extra_mapping(raw, labels=labels)
    if isinstance(raw, Sequence):
        items = [item for item in raw if not (isinstance(item, str) and not item.strip())]
        if not all(isinstance(item, str) for item in items):
            raise _error(labels, "a list must hold TARGET.FIELD=VALUE strings.")
        return parse_extra_assignments(items, labels=labels)
    raise _error(labels, "expected a mapping or a list of TARGET.FIELD=VALUE strings.")


def deep_merge(base: Any, override: Any) -> Any:
    """Merge two config values: mappings merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def merge_overrides_into(base: ComponentOverrides, override: ComponentOverrides) -> None:
    for target, fields in override.items():
        base[target] = deep_merge(base.get(target, {}), fields)


def merge_overrides(*layers: ComponentOverrides) -> ComponentOverrides:
    """Merge override layers in order; later layers win."""
    result: ComponentOverrides = {}
    for layer in layers:
        merge_overrides_into(result, layer)
    return result


def apply_async_rule(overrides: ComponentOverrides, *, async_mode: bool) -> ComponentOverrides:
    """``async`` means ``orchestrator.synchronous=false`` — unless the user set it explicitly."""
    result = merge_overrides(overrides)
    if async_mode and "synchronous" not in result.get("orchestrator", {}):
        result.setdefault("orchestrator", {})["synchronous"] = False
    return result


def illegal_targets(stack_type: StackType, overrides: ComponentOverrides) -> list[str]:
    """The override targets that a stack of ``stack_type`` does not have."""
    allowed = ALLOWED_TARGETS[stack_type]
    return [target for target in overrides if target not in allowed]
