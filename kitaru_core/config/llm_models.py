"""The LLM model registry as configuration: the aliases and the default alias.

The registry lives in ``kitaru.yaml`` (``models`` and ``default_model``). Remote executions do
not have that file, so the launcher passes the registry along as one environment variable
(:data:`REGISTRY_ENV`, rendered by :func:`registry_environment`); when it is set, ``llm()``
resolves aliases from it instead of from the file (:func:`current_registry`).

Registering and removing aliases are operations of ``services/llm_models.py``; which model one
``llm()`` call uses is decided in ``runtime/llm_resolution.py``. Nothing here imports ZenML or
LiteLLM.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kitaru_core.config.settings import KitaruSettings, ModelAlias, load_settings
from kitaru_core.errors import KitaruUsageError

REGISTRY_ENV = "KITARU_MODEL_REGISTRY"


class ModelRegistry(BaseModel):
    """The aliases and the default alias, as stored in ``kitaru.yaml`` or sent to remote runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: dict[str, ModelAlias] = Field(default_factory=dict)
    default_model: str | None = None


def registry_of(settings: KitaruSettings) -> ModelRegistry:
    return ModelRegistry(models=dict(settings.models), default_model=settings.default_model)


def aliases_using_secret(secret: str) -> list[str]:
    """The aliases whose calls read ``secret`` (so deleting it can warn about them)."""
    settings = load_settings()
    return sorted(alias for alias, entry in settings.models.items() if entry.secret == secret)


# --- remote transport -----------------------------------------------------------------------


def registry_environment() -> dict[str, str]:
    """``{KITARU_MODEL_REGISTRY: <json>}`` for the environment of a remote execution.

    The JSON holds the aliases, their model strings, the *names* of their secrets and the
    default alias — never a secret value. Empty when nothing is registered.
    """
    registry = registry_of(load_settings())
    if not registry.models and registry.default_model is None:
        return {}
    return {REGISTRY_ENV: render_registry(registry)}


def render_registry(registry: ModelRegistry) -> str:
    return json.dumps(registry.model_dump(mode="json", exclude_none=True), sort_keys=True)


def parse_registry(text: str, *, source: str = REGISTRY_ENV) -> ModelRegistry:
    """The registry from its JSON rendering; a broken one is a usage error naming ``source``."""
    try:
        return ModelRegistry.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise KitaruUsageError(
            f"{source} does not hold a valid model registry ({type(exc).__name__}).",
            hint=f"Unset {source}; Kitaru sets it itself for remote executions.",
            details={"variable": source},
        ) from None


def current_registry(environ: Mapping[str, str] | None = None) -> ModelRegistry:
    """The registry ``llm()`` resolves against: :data:`REGISTRY_ENV` when set, else the file."""
    env = os.environ if environ is None else environ
    text = env.get(REGISTRY_ENV)
    if text is not None and text.strip():
        return parse_registry(text)
    return registry_of(load_settings())
