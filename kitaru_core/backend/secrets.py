"""Kitaru secrets as ZenML secrets in the Kitaru store.

Only :func:`secret_values` ever hands out values, and only ``llm()`` calls it. Everything else
returns names and keys. ZenML's own error text may quote what it was given, so every failure
here is rebuilt with the values scrubbed and without the original exception attached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from kitaru_core.backend.bootstrap import zenml_client
from kitaru_core.config.masking import MASK
from kitaru_core.errors import (
    KitaruBackendError,
    KitaruError,
    KitaruNotFoundError,
    KitaruStateError,
    translate_exception,
)

# ZenML's page size limit is higher, but a list this long is already unusual.
_PAGE = 200
T = TypeVar("T")


@dataclass(frozen=True)
class StoredSecret:
    """A secret as Kitaru shows it: a name and key names, never values."""

    name: str
    keys: tuple[str, ...]
    created: datetime | None = None
    updated: datetime | None = None


def _stored(secret: Any, keys: Any) -> StoredSecret:
    return StoredSecret(
        name=str(secret.name),
        keys=tuple(sorted(str(key) for key in keys)),
        created=getattr(secret, "created", None),
        updated=getattr(secret, "updated", None),
    )


def scrub(text: str, values: Mapping[str, str] | None) -> str:
    """``text`` with every (non-trivial) secret value replaced by ``****``."""
    for value in sorted((values or {}).values(), key=len, reverse=True):
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, MASK)
    return text


def _scrub_error(error: KitaruError, values: Mapping[str, str] | None) -> KitaruError:
    error.message = scrub(error.message, values)
    error.args = (error.message,)
    error.hint = scrub(error.hint, values)
    error.details = {
        key: scrub(item, values) if isinstance(item, str) else item
        for key, item in error.details.items()
    }
    return error


def _guarded(action: Callable[[], T], values: Mapping[str, str] | None = None) -> T:
    """Run ``action``; any failure becomes a Kitaru error with no secret value in it.

    The error is raised outside the ``except`` block and with its chain cleared, so the
    original exception (whose text may quote a value) does not travel along as its cause or
    context.
    """
    error: KitaruError
    try:
        return action()
    except KitaruError as exc:
        error = _scrub_error(exc, values)
    except Exception as exc:
        error = _scrub_error(translate_exception(exc), values)
    error.__cause__ = None
    error.__context__ = None
    raise error


def _find(name: str) -> Any | None:
    """The secret with exactly this name (Kitaru's shared ones before private ones)."""
    client = zenml_client()
    matches = client.list_secrets(name=f"equals:{name}", size=_PAGE).items
    exact = [secret for secret in matches if secret.name == name]
    exact.sort(key=lambda secret: bool(secret.private))
    return exact[0] if exact else None


def _require(name: str) -> Any:
    secret = _find(name)
    if secret is None:
        raise KitaruNotFoundError(
            f"No secret named '{name}'.",
            hint=f"Create it with `kitaru secrets create {name} --KEY=VALUE`, or list the "
            "existing ones with `kitaru secrets list`.",
            details={"secret": name},
        )
    return secret


def exists(name: str) -> bool:
    return _guarded(lambda: _find(name) is not None)


def create(name: str, values: Mapping[str, str], *, replace: bool = False) -> StoredSecret:
    """Create a secret; with ``replace`` an existing one gets exactly these values."""

    def action() -> StoredSecret:
        client = zenml_client()
        existing = _find(name)
        if existing is None:
            created = client.create_secret(name=name, values=dict(values), private=False)
            return _stored(created, values)
        if not replace:
            raise KitaruStateError(
                f"A secret named '{name}' already exists.",
                hint=f"Delete it first (`kitaru secrets delete {name}`) or replace its values.",
                details={"secret": name},
            )
        current = client.zen_store.get_secret(existing.id)
        stale = [key for key in current.values if key not in values]
        client.update_secret(
            existing.id, add_or_update_values=dict(values), remove_values=stale or None
        )
        return _stored(client.zen_store.get_secret(existing.id, hydrate=False), values)

    return _guarded(action, values)


def list_all() -> list[StoredSecret]:
    """Every secret with its key names, sorted by name."""

    def action() -> list[StoredSecret]:
        client = zenml_client()
        found: list[StoredSecret] = []
        page = 1
        while True:
            listing = client.list_secrets(page=page, size=_PAGE, sort_by="asc:name")
            for secret in listing.items:
                # A listing carries no keys; reading one secret does. Only the keys are kept.
                full = client.zen_store.get_secret(secret.id)
                found.append(_stored(full, full.values))
            if page >= listing.total_pages:
                break
            page += 1
        return sorted(found, key=lambda item: item.name)

    return _guarded(action)


def keys_of(name: str) -> StoredSecret:
    """One secret's name and keys."""

    def action() -> StoredSecret:
        full = zenml_client().zen_store.get_secret(_require(name).id)
        return _stored(full, full.values)

    return _guarded(action)


def delete(name: str) -> StoredSecret:
    """Delete a secret; returns what it was (name and keys)."""

    def action() -> StoredSecret:
        client = zenml_client()
        full = client.zen_store.get_secret(_require(name).id)
        client.zen_store.delete_secret(full.id)
        return _stored(full, full.values)

    return _guarded(action)


def secret_values(name: str) -> dict[str, str]:
    """The values of one secret — for ``llm()`` only; never render or store the result."""

    def action() -> dict[str, str]:
        full = zenml_client().zen_store.get_secret(_require(name).id)
        missing = sorted(key for key, value in full.values.items() if value is None)
        if missing:
            raise KitaruBackendError(
                f"The values of secret '{name}' cannot be read here (keys: {', '.join(missing)}).",
                hint="Check that this user or service account may read secret values.",
                retryable=False,
                details={"secret": name},
            )
        return dict(full.secret_values)

    return _guarded(action)
