"""Which model one ``llm()`` call uses, and why (an alias, a raw LiteLLM string, a default)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from kitaru_core.config.env import read_env
from kitaru_core.config.llm_models import ModelRegistry, current_registry
from kitaru_core.errors import KitaruUsageError
from kitaru_core.requests.models import REGISTER_HINT, check_model_string


class ResolvedModel(BaseModel):
    """The model one ``llm()`` call uses, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    alias: str | None = None
    secret: str | None = None
    # "argument", "KITARU_DEFAULT_MODEL" or "default alias"
    source: str


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
