"""The LLM model registry: register, list and remove model aliases, and resolve what ``llm()``
calls.

The registry lives in ``kitaru.yaml`` (``models`` and ``default_model``). Remote executions do
not have that file, so the launcher passes the registry along as one environment variable
(:data:`REGISTRY_ENV`, rendered by :func:`registry_environment`); when it is set, ``llm()``
resolves aliases from it instead of from the file.

Policy when the default alias is removed: the registry is left **without** a default (a
different model is never picked silently, it may cost more or behave differently). Explicit
``model=`` and ``KITARU_DEFAULT_MODEL`` keep working; the next alias registered becomes the
default, or registering an alias again with ``default=True`` picks one.

Nothing here imports ZenML or LiteLLM (only checking that a secret exists touches the store).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kitaru_core.config.env import read_env
from kitaru_core.config.settings import (
    KitaruSettings,
    ModelAlias,
    load_settings,
    update_settings,
)
from kitaru_core.errors import KitaruNotFoundError, KitaruUsageError
from kitaru_core.requests.models import (
    REGISTER_HINT,
    check_alias,
    check_model_string,
    check_secret_name,
)

REGISTRY_ENV = "KITARU_MODEL_REGISTRY"


class ModelInfo(BaseModel):
    """One registered alias (the secret is a name; its values are never here)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alias: str
    model: str
    secret: str | None = None
    is_default: bool = False


class ModelRegistration(BaseModel):
    """What ``register_model`` did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: ModelInfo
    created: bool
    previous: ModelInfo | None = None


class ModelRemoval(BaseModel):
    """What ``remove_model`` did; ``default_model`` is the default alias afterwards."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    removed: ModelInfo
    default_model: str | None = None
    default_cleared: bool = False


class ResolvedModel(BaseModel):
    """The model one ``llm()`` call uses, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    alias: str | None = None
    secret: str | None = None
    # "argument", "KITARU_DEFAULT_MODEL" or "default alias"
    source: str


class ModelRegistry(BaseModel):
    """The aliases and the default alias, as stored in ``kitaru.yaml`` or sent to remote runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: dict[str, ModelAlias] = Field(default_factory=dict)
    default_model: str | None = None


def _info(alias: str, entry: ModelAlias, default: str | None) -> ModelInfo:
    return ModelInfo(
        alias=alias, model=entry.model, secret=entry.secret, is_default=alias == default
    )


def _registry_of(settings: KitaruSettings) -> ModelRegistry:
    return ModelRegistry(models=dict(settings.models), default_model=settings.default_model)


def list_models() -> list[ModelInfo]:
    """Every registered alias (sorted by name), marking the default."""
    settings = load_settings()
    return [
        _info(alias, settings.models[alias], settings.default_model)
        for alias in sorted(settings.models)
    ]


def register_model(
    alias: str,
    model: str,
    secret: str | None = None,
    *,
    default: bool = False,
    check_secret: bool = True,
) -> ModelRegistration:
    """Register (or update) an alias for a LiteLLM model string, with an optional secret.

    Re-registering an alias replaces its model and secret. The alias becomes the default when
    there is no default yet (so the first alias is the default) or when ``default=True``.
    With ``check_secret`` the named secret must already exist in the Kitaru store.
    """
    name = check_alias(alias)
    target = check_model_string(model)
    secret_name = None if secret is None else check_secret_name(secret)
    if secret_name is not None and check_secret:
        from kitaru_core.services.secrets import secret_exists

        if not secret_exists(secret_name):
            raise KitaruNotFoundError(
                f"No secret named '{secret_name}' to attach to model alias '{name}'.",
                hint=(
                    f"Create it first: `kitaru secrets create {secret_name} --KEY=VALUE` "
                    "(e.g. --OPENAI_API_KEY=sk-...)."
                ),
                details={"secret": secret_name, "alias": name},
            )
    previous: list[ModelInfo] = []

    def change(settings: KitaruSettings) -> KitaruSettings:
        old = settings.models.get(name)
        if old is not None:
            previous.append(_info(name, old, settings.default_model))
        models = {**settings.models, name: ModelAlias(model=target, secret=secret_name)}
        current = settings.default_model if settings.default_model in models else None
        chosen = name if default or current is None else current
        return settings.model_copy(update={"models": models, "default_model": chosen})

    settings = update_settings(change)
    return ModelRegistration(
        model=_info(name, settings.models[name], settings.default_model),
        created=not previous,
        previous=previous[0] if previous else None,
    )


def remove_model(alias: str) -> ModelRemoval:
    """Remove an alias. Removing the default leaves no default (see the module docstring)."""
    name = check_alias(alias)
    removed: list[ModelInfo] = []

    def change(settings: KitaruSettings) -> KitaruSettings:
        if name not in settings.models:
            raise _unknown_alias(name, settings.models)
        removed.append(_info(name, settings.models[name], settings.default_model))
        models = {key: value for key, value in settings.models.items() if key != name}
        default = None if settings.default_model == name else settings.default_model
        return settings.model_copy(update={"models": models, "default_model": default})

    settings = update_settings(change)
    return ModelRemoval(
        removed=removed[0],
        default_model=settings.default_model,
        default_cleared=removed[0].is_default,
    )


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
    registry = _registry_of(load_settings())
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
    return _registry_of(load_settings())


# --- resolution -----------------------------------------------------------------------------


def resolve_model(
    explicit: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    registry: ModelRegistry | None = None,
) -> ResolvedModel:
    """The model of one ``llm()`` call.

    Order: explicit ``model`` (alias first, then raw LiteLLM string) → ``KITARU_DEFAULT_MODEL``
    (alias first, then raw) → the registry's default alias. Nothing → a usage error that says
    how to register a model.
    """
    registry = current_registry(environ) if registry is None else registry
    if explicit is not None:
        if not isinstance(explicit, str) or not explicit.strip():
            raise KitaruUsageError(
                f"llm(model=...) must be an alias or a LiteLLM model string, got {explicit!r}.",
                hint=REGISTER_HINT,
            )
        return _alias_or_raw(explicit.strip(), registry, source="argument")
    env_default = read_env(environ).default_model
    if env_default:
        return _alias_or_raw(env_default, registry, source="KITARU_DEFAULT_MODEL")
    default = registry.default_model
    if default:
        entry = registry.models.get(default)
        if entry is None:
            raise KitaruUsageError(
                f"The default model alias '{default}' is not registered.",
                hint="Pick a registered alias with `kitaru model register ALIAS --model M` "
                "(it becomes the default when none is set) or fix kitaru.yaml.",
                details={"default_model": default},
            )
        return ResolvedModel(
            model=entry.model, alias=default, secret=entry.secret, source="default alias"
        )
    raise KitaruUsageError(
        "No model to call: llm() got no model=, KITARU_DEFAULT_MODEL is not set and no "
        "default model alias is registered.",
        hint=REGISTER_HINT,
        details={"registered_aliases": sorted(registry.models)},
    )


def _alias_or_raw(value: str, registry: ModelRegistry, *, source: str) -> ResolvedModel:
    entry = registry.models.get(value)
    if entry is not None:
        return ResolvedModel(model=entry.model, alias=value, secret=entry.secret, source=source)
    field = "model" if source == "argument" else source
    return ResolvedModel(model=check_model_string(value, field=field), source=source)


def _unknown_alias(name: str, models: Mapping[str, ModelAlias]) -> KitaruNotFoundError:
    known = sorted(models)
    return KitaruNotFoundError(
        f"No model alias named '{name}'. Registered: {', '.join(known) or 'none'}.",
        hint="List them with `kitaru model list`; register one with "
        "`kitaru model register ALIAS --model provider/model`.",
        details={"alias": name, "available": known},
    )
