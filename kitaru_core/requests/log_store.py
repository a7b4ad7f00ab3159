"""Pure rules for the log store: backends, their fields, and env overrides over settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kitaru_core.config.masking import mask_value
from kitaru_core.config.settings import LogStoreSettings
from kitaru_core.errors import KitaruValidationError

DEFAULT_BACKEND = "artifact-store"
BACKENDS = ("artifact-store", "otel", "datadog")
_ENV = {
    "backend": "KITARU_LOG_STORE_BACKEND",
    "endpoint": "KITARU_LOG_STORE_ENDPOINT",
    "api_key": "KITARU_LOG_STORE_API_KEY",
}


def build_log_store_settings(
    backend: str, *, endpoint: str | None = None, api_key: str | None = None
) -> LogStoreSettings:
    """Validate a ``log-store set`` request into the settings stored in ``kitaru.yaml``."""
    name = (backend or "").strip().lower()
    if name not in BACKENDS:
        raise KitaruValidationError(
            f"Unknown log store backend {backend!r}; use one of: {', '.join(BACKENDS)}.",
            fields={"backend": f"must be one of: {', '.join(BACKENDS)}"},
        )
    endpoint = (endpoint or "").strip() or None
    api_key = (api_key or "").strip() or None
    fields: dict[str, str] = {}
    if name == DEFAULT_BACKEND and (endpoint or api_key):
        fields["endpoint" if endpoint else "api_key"] = "not used by the artifact-store backend"
    if name == "otel" and not endpoint:
        fields["endpoint"] = "required for the otel backend"
    if name == "datadog" and not api_key:
        fields["api_key"] = "required for the datadog backend"
    if endpoint and not endpoint.startswith(("http://", "https://")):
        fields["endpoint"] = "must be an http:// or https:// URL"
    if fields:
        summary = "; ".join(f"{field}: {problem}" for field, problem in fields.items())
        raise KitaruValidationError(f"Invalid log store settings — {summary}.", fields=fields)
    return LogStoreSettings(backend=name, endpoint=endpoint, api_key=api_key)


@dataclass(frozen=True)
class EffectiveLogStore:
    """The log store in force, each field with where it came from (env, settings, default)."""

    settings: LogStoreSettings
    sources: dict[str, str]

    @property
    def external(self) -> bool:
        return self.settings.backend != DEFAULT_BACKEND

    def render(self) -> dict[str, object]:
        return {
            "backend": self.settings.backend,
            "endpoint": self.settings.endpoint,
            "api_key": mask_value(self.settings.api_key),
            "sources": dict(self.sources),
        }


def effective_log_store(
    stored: LogStoreSettings | None, environ: Mapping[str, str]
) -> EffectiveLogStore:
    """``KITARU_LOG_STORE_*`` over ``kitaru.yaml`` over the default; validated together."""
    values: dict[str, str | None] = {"backend": DEFAULT_BACKEND, "endpoint": None, "api_key": None}
    sources = {field: "default" for field in values}
    if stored is not None:
        for field in values:
            value = getattr(stored, field)
            if value:
                values[field], sources[field] = value, "settings"
    for field, variable in _ENV.items():
        value = environ.get(variable, "").strip()
        if value:
            values[field], sources[field] = value, "env"
    settings = build_log_store_settings(
        str(values["backend"]), endpoint=values["endpoint"], api_key=values["api_key"]
    )
    return EffectiveLogStore(settings=settings, sources=sources)
