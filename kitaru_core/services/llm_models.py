"""The LLM model registry's operations: register, list and remove model aliases.

The registry itself (``kitaru.yaml``'s ``models`` and ``default_model``, and its transport to
remote executions) is configuration: ``config/llm_models.py``. Which model an ``llm()`` call
uses is decided in ``runtime/llm_resolution.py``.

Policy when the default alias is removed: the registry is left **without** a default (a
different model is never picked silently, it may cost more or behave differently). Explicit
``model=`` and ``KITARU_DEFAULT_MODEL`` keep working; the next alias registered becomes the
default, or registering an alias again with ``default=True`` picks one.

Nothing here imports the engine or LiteLLM (only checking that a secret exists touches the store).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from kitaru_core.config.settings import (
    KitaruSettings,
    ModelAlias,
    load_settings,
    update_settings,
)
from kitaru_core.errors import KitaruNotFoundError
from kitaru_core.requests.models import check_alias, check_model_string, check_secret_name


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


def _info(alias: str, entry: ModelAlias, default: str | None) -> ModelInfo:
    return ModelInfo(
        alias=alias, model=entry.model, secret=entry.secret, is_default=alias == default
    )


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


def _unknown_alias(name: str, models: Mapping[str, ModelAlias]) -> KitaruNotFoundError:
    known = sorted(models)
    return KitaruNotFoundError(
        f"No model alias named '{name}'. Registered: {', '.join(known) or 'none'}.",
        hint="List them with `kitaru model list`; register one with "
        "`kitaru model register ALIAS --model provider/model`.",
        details={"alias": name, "available": known},
    )
