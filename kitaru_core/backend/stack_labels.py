"""The labels Kitaru puts on the stacks and components it creates (no ZenML import, so the
fast local read path can use them too)."""

from __future__ import annotations

from typing import Any

MANAGED_LABEL = "kitaru.managed"
TYPE_LABEL = "kitaru.stack_type"
REGION_LABEL = "kitaru.region"


def is_managed(labels: dict[str, Any] | None) -> bool:
    return str((labels or {}).get(MANAGED_LABEL, "")).lower() == "true"


def managed_labels(**more: str | None) -> dict[str, str]:
    return {MANAGED_LABEL: "true", **{k: v for k, v in more.items() if v is not None}}
