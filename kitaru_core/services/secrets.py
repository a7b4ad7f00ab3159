"""Secrets: named sets of KEY=VALUE pairs kept in the Kitaru store (the engine's secret store).

A model alias names a secret (``kitaru model register fast --model openai/gpt-4o-mini --secret
openai``); ``llm()`` reads its values for that one call. No operation here returns, prints or
logs a value: results carry the name and the key names only.

The backend (and so the engine) is imported inside the functions, so importing this module is
cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from kitaru_core.models import UtcDateTime
from kitaru_core.requests.models import check_secret_name, check_secret_values

if TYPE_CHECKING:
    from kitaru_core.backend.secrets import StoredSecret


class SecretInfo(BaseModel):
    """A secret as every surface shows it: name and keys, never values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    keys: list[str] = Field(default_factory=list)
    created_at: UtcDateTime | None = None
    updated_at: UtcDateTime | None = None


class SecretDeletion(BaseModel):
    """What ``delete_secret`` removed, and the model aliases that still name it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretInfo
    used_by: list[str] = Field(default_factory=list)


def _info(stored: StoredSecret) -> SecretInfo:
    return SecretInfo(
        name=stored.name,
        keys=list(stored.keys),
        created_at=stored.created,
        updated_at=stored.updated,
    )


def create_secret(name: str, values: Mapping[str, str], *, replace: bool = False) -> SecretInfo:
    """Store a secret. An existing name is a state error unless ``replace`` (which sets exactly
    the given keys). Returns the name and keys only."""
    from kitaru_core.backend import secrets as backend

    secret = check_secret_name(name, field="name")
    clean = check_secret_values(values)
    return _info(backend.create(secret, clean, replace=replace))


def list_secrets() -> list[SecretInfo]:
    """Every secret's name and key names (sorted by name)."""
    from kitaru_core.backend import secrets as backend

    return [_info(stored) for stored in backend.list_all()]


def get_secret(name: str) -> SecretInfo:
    """One secret's name and key names."""
    from kitaru_core.backend import secrets as backend

    return _info(backend.keys_of(check_secret_name(name, field="name")))


def delete_secret(name: str) -> SecretDeletion:
    """Delete a secret. Aliases that name it are kept (and listed in the result): their calls
    fail with a not-found error until the secret is created again."""
    from kitaru_core.backend import secrets as backend
    from kitaru_core.config.llm_models import aliases_using_secret

    secret = check_secret_name(name, field="name")
    stored = backend.delete(secret)
    return SecretDeletion(secret=_info(stored), used_by=aliases_using_secret(secret))


def secret_exists(name: str) -> bool:
    from kitaru_core.backend import secrets as backend

    return backend.exists(check_secret_name(name, field="name"))
