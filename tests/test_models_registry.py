"""Model aliases (SPEC §1.2, §7 ``model register|list|remove``): validation, the default alias,
``kitaru.yaml`` as the store, resolution order and the registry's trip to remote executions.

The registry tests run on this process's real ``kitaru.yaml`` (restored after each test); the
validator tests are pure. Only registering with ``--secret`` touches the ZenML store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kitaru_core.config.llm_models import (
    REGISTRY_ENV,
    aliases_using_secret,
    parse_registry,
    registry_environment,
)
from kitaru_core.config.paths import settings_path
from kitaru_core.errors import KitaruNotFoundError, KitaruUsageError, KitaruValidationError
from kitaru_core.requests.models import check_alias, check_model_string
from kitaru_core.runtime.llm_resolution import resolve_model
from kitaru_core.services import llm_models as models


@pytest.fixture
def registry_file(clean_env: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty ``kitaru.yaml`` for one test; whatever was there before is put back after."""
    path = settings_path()
    before = path.read_bytes() if path.exists() else None
    path.unlink(missing_ok=True)
    yield path
    if before is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(before)


# --- pure validators ------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["fast", "gpt4", "smart-v2", "my_model.1", "A"])
def test_good_aliases(alias: str) -> None:
    assert check_alias(f"  {alias} ") == alias


@pytest.mark.parametrize(
    "alias", ["", "  ", "openai/gpt-4o", "has space", "-leading", "x" * 65, "é", None, 3]
)
def test_bad_aliases_are_validation_errors(alias: Any) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        check_alias(alias, field="ALIAS")
    assert caught.value.code == "validation_error"
    assert "ALIAS" in caught.value.fields


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "gpt-4o", "bedrock/anthropic.claude-v2"])
def test_good_model_strings(model: str) -> None:
    assert check_model_string(model) == model


@pytest.mark.parametrize("model", ["", "open ai/gpt", "/gpt-4o", "openai/", None, "m" * 300])
def test_bad_model_strings_are_validation_errors(model: Any) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        check_model_string(model, field="--model")
    assert "--model" in caught.value.fields


# --- register / list / remove on kitaru.yaml ------------------------------------------------


def test_the_first_alias_becomes_the_default_and_later_ones_do_not(registry_file: Path) -> None:
    first = models.register_model("fast", "openai/gpt-4o-mini")
    assert first.created and first.model.is_default
    second = models.register_model("smart", "anthropic/claude-3-5-sonnet-20240620")
    assert second.created and not second.model.is_default
    listed = models.list_models()
    assert [(m.alias, m.is_default) for m in listed] == [("fast", True), ("smart", False)]
    stored = registry_file.read_text()
    assert "default_model: fast" in stored and "anthropic/claude-3-5-sonnet-20240620" in stored


def test_re_registering_updates_the_alias(registry_file: Path, zenml_client: Any) -> None:
    from kitaru_core.services import secrets

    name = "registry-test-secret"
    secrets.create_secret(name, {"OPENAI_API_KEY": "sk-registry-test-value"}, replace=True)
    try:
        models.register_model("fast", "openai/gpt-4o-mini", secret=name)
        again = models.register_model("fast", "openai/gpt-4.1-mini")
    finally:
        secrets.delete_secret(name)
    assert not again.created
    assert again.previous is not None and again.previous.secret == name
    assert again.model.model == "openai/gpt-4.1-mini"
    assert again.model.secret is None  # re-registering replaces the whole entry
    assert again.model.is_default
    assert "sk-registry-test-value" not in registry_file.read_text()


def test_default_true_switches_the_default(registry_file: Path) -> None:
    models.register_model("fast", "openai/gpt-4o-mini")
    models.register_model("smart", "openai/gpt-4o", default=True)
    assert [m.alias for m in models.list_models() if m.is_default] == ["smart"]
    # Registering an alias again with default=True is how a default is picked back.
    again = models.register_model("fast", "openai/gpt-4o-mini", default=True)
    assert not again.created
    assert [m.alias for m in models.list_models() if m.is_default] == ["fast"]


def test_removing_the_default_leaves_no_default_until_one_is_chosen(registry_file: Path) -> None:
    models.register_model("fast", "openai/gpt-4o-mini")
    models.register_model("smart", "openai/gpt-4o")
    removal = models.remove_model("fast")
    assert removal.removed.alias == "fast" and removal.default_cleared
    assert removal.default_model is None
    assert [m.is_default for m in models.list_models()] == [False]
    # The next alias registered becomes the default (there is none).
    assert models.register_model("cheap", "openai/gpt-4.1-nano").model.is_default


def test_removing_another_alias_keeps_the_default(registry_file: Path) -> None:
    models.register_model("fast", "openai/gpt-4o-mini")
    models.register_model("smart", "openai/gpt-4o")
    removal = models.remove_model("smart")
    assert removal.default_model == "fast" and not removal.default_cleared
    assert [m.alias for m in models.list_models()] == ["fast"]


def test_unknown_aliases_are_not_found_and_change_nothing(registry_file: Path) -> None:
    models.register_model("fast", "openai/gpt-4o-mini")
    before = registry_file.read_text()
    with pytest.raises(KitaruNotFoundError) as caught:
        models.remove_model("nope")
    assert caught.value.details["available"] == ["fast"]
    assert registry_file.read_text() == before


def test_invalid_registrations_change_nothing(registry_file: Path) -> None:
    models.register_model("fast", "openai/gpt-4o-mini")
    before = registry_file.read_text()
    with pytest.raises(KitaruValidationError):
        models.register_model("bad/alias", "openai/gpt-4o")
    with pytest.raises(KitaruValidationError):
        models.register_model("ok", "not a model")
    with pytest.raises(KitaruValidationError):
        models.register_model("ok", "openai/gpt-4o", secret="bad name!")
    assert registry_file.read_text() == before


def test_registering_with_a_missing_secret_is_not_found(
    registry_file: Path, zenml_client: Any
) -> None:
    with pytest.raises(KitaruNotFoundError) as caught:
        models.register_model("fast", "openai/gpt-4o-mini", secret="no-such-secret-here")
    assert "kitaru secrets create no-such-secret-here" in caught.value.hint
    assert not registry_file.exists()


def test_a_malformed_settings_file_is_reported_and_never_overwritten(registry_file: Path) -> None:
    registry_file.parent.mkdir(parents=True, exist_ok=True)
    registry_file.write_text("models: [this is: not a mapping\n")
    before = registry_file.read_text()
    with pytest.raises(KitaruUsageError) as caught:
        models.register_model("fast", "openai/gpt-4o-mini")
    assert str(registry_file) in caught.value.message
    with pytest.raises(KitaruUsageError):
        models.list_models()
    assert registry_file.read_text() == before


# --- resolution -----------------------------------------------------------------------------


def _env(registry: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    env = dict(extra)
    if registry is not None:
        env[REGISTRY_ENV] = json.dumps(registry)
    return env


REGISTRY = {
    "models": {
        "fast": {"model": "openai/gpt-4o-mini"},
        "smart": {"model": "anthropic/claude-3-5-sonnet-20240620", "secret": "anthropic"},
    },
    "default_model": "fast",
}


def test_explicit_alias_then_raw_string() -> None:
    env = _env(REGISTRY, KITARU_DEFAULT_MODEL="fast")
    smart = resolve_model("smart", environ=env)
    assert (smart.model, smart.alias, smart.secret, smart.source) == (
        "anthropic/claude-3-5-sonnet-20240620",
        "smart",
        "anthropic",
        "argument",
    )
    raw = resolve_model("openai/gpt-4.1", environ=env)
    assert (raw.model, raw.alias, raw.secret) == ("openai/gpt-4.1", None, None)


def test_env_default_alias_then_raw_beats_the_registry_default() -> None:
    alias = resolve_model(environ=_env(REGISTRY, KITARU_DEFAULT_MODEL="smart"))
    assert (alias.alias, alias.source) == ("smart", "KITARU_DEFAULT_MODEL")
    raw = resolve_model(environ=_env(REGISTRY, KITARU_DEFAULT_MODEL="openai/o3-mini"))
    assert (raw.model, raw.alias) == ("openai/o3-mini", None)


def test_the_registry_default_comes_last() -> None:
    chosen = resolve_model(environ=_env(REGISTRY))
    assert (chosen.model, chosen.alias, chosen.source) == (
        "openai/gpt-4o-mini",
        "fast",
        "default alias",
    )


def test_nothing_to_resolve_is_a_usage_error_that_says_how_to_register() -> None:
    with pytest.raises(KitaruUsageError) as caught:
        resolve_model(environ=_env({"models": {"fast": {"model": "openai/gpt-4o"}}}))
    assert caught.value.code == "usage_error"
    assert "kitaru model register ALIAS --model provider/model" in caught.value.hint
    assert caught.value.details["registered_aliases"] == ["fast"]


def test_a_dangling_default_alias_is_a_usage_error() -> None:
    with pytest.raises(KitaruUsageError, match="'gone' is not registered"):
        resolve_model(environ=_env({"models": {}, "default_model": "gone"}))


def test_a_bad_explicit_or_env_model_is_a_validation_error() -> None:
    with pytest.raises(KitaruUsageError):
        resolve_model("has spaces in it", environ=_env(REGISTRY))
    with pytest.raises(KitaruValidationError) as caught:
        resolve_model(environ=_env(REGISTRY, KITARU_DEFAULT_MODEL="two words"))
    assert "KITARU_DEFAULT_MODEL" in caught.value.fields


# --- the registry travels with remote executions --------------------------------------------


def test_registry_environment_round_trips_and_wins_over_the_file(registry_file: Path) -> None:
    assert registry_environment() == {}
    models.register_model("fast", "openai/gpt-4o-mini")
    models.register_model("smart", "openai/gpt-4o")
    shipped = registry_environment()
    assert list(shipped) == [REGISTRY_ENV]
    registry = parse_registry(shipped[REGISTRY_ENV])
    assert registry.default_model == "fast"
    assert {alias: entry.model for alias, entry in registry.models.items()} == {
        "fast": "openai/gpt-4o-mini",
        "smart": "openai/gpt-4o",
    }
    # A remote worker has no kitaru.yaml; the variable alone resolves the same aliases …
    registry_file.unlink()
    assert resolve_model(environ=shipped).model == "openai/gpt-4o-mini"
    # … and where both exist, the variable wins.
    models.register_model("fast", "openai/gpt-3.5-turbo")
    assert resolve_model("fast", environ=shipped).model == "openai/gpt-4o-mini"
    assert resolve_model("fast", environ={}).model == "openai/gpt-3.5-turbo"


def test_a_broken_registry_variable_is_a_usage_error() -> None:
    for text in ("{not json", json.dumps({"models": {"x": {"modle": "typo"}}})):
        with pytest.raises(KitaruUsageError) as caught:
            resolve_model(environ={REGISTRY_ENV: text})
        assert caught.value.details["variable"] == REGISTRY_ENV


def test_aliases_using_a_secret(registry_file: Path) -> None:
    models.register_model("fast", "openai/gpt-4o-mini", secret="shared", check_secret=False)
    models.register_model("smart", "openai/gpt-4o", secret="shared", check_secret=False)
    models.register_model("other", "openai/gpt-4o")
    assert aliases_using_secret("shared") == ["fast", "smart"]
