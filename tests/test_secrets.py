"""Secrets (SPEC §7 ``secrets create|list|delete``) on the real store: values go in, and no
operation ever gives one back, prints one or puts one in an error. Only the backend function
that ``llm()`` uses reads values.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kitaru_core.errors import (
    KitaruNotFoundError,
    KitaruStateError,
    KitaruValidationError,
)
from kitaru_core.requests.models import check_secret_values, parse_secret_assignments
from kitaru_core.services import secrets


def _value() -> str:
    return f"sk-test-{uuid.uuid4().hex}"


@pytest.fixture
def name(zenml_client: Any) -> Iterator[str]:
    """A fresh secret name (tests share this process's store); deleted afterwards."""
    secret = f"test-secret-{uuid.uuid4().hex[:12]}"
    yield secret
    with contextlib.suppress(KitaruNotFoundError):
        secrets.delete_secret(secret)


def _names() -> list[str]:
    return [item.name for item in secrets.list_secrets()]


def test_create_returns_name_and_keys_only(name: str, capfd: pytest.CaptureFixture[str]) -> None:
    key, base = _value(), "https://llm.example.com/v1"
    created = secrets.create_secret(name, {"OPENAI_API_KEY": key, "OPENAI_API_BASE": base})
    assert created.name == name
    assert created.keys == ["OPENAI_API_BASE", "OPENAI_API_KEY"]
    rendered = created.model_dump_json() + repr(created) + str(created)
    assert key not in rendered and base not in rendered
    out, err = capfd.readouterr()
    assert key not in out + err


def test_list_shows_names_and_keys_but_no_values(name: str) -> None:
    key = _value()
    secrets.create_secret(name, {"api_key": key})
    listed = {item.name: item for item in secrets.list_secrets()}
    assert listed[name].keys == ["api_key"]
    dumped = json.dumps([item.model_dump(mode="json") for item in listed.values()])
    assert key not in dumped
    assert set(type(listed[name]).model_fields) == {"name", "keys", "created_at", "updated_at"}
    assert secrets.get_secret(name).keys == ["api_key"]


def test_only_the_llm_backend_reads_values(name: str) -> None:
    from kitaru_core.backend.secrets import secret_values

    key = _value()
    secrets.create_secret(name, {"ANTHROPIC_API_KEY": key})
    assert secret_values(name) == {"ANTHROPIC_API_KEY": key}


def test_creating_an_existing_name_is_a_state_error_and_keeps_the_values(name: str) -> None:
    from kitaru_core.backend.secrets import secret_values

    first = _value()
    secrets.create_secret(name, {"OPENAI_API_KEY": first})
    second = _value()
    with pytest.raises(KitaruStateError) as caught:
        secrets.create_secret(name, {"OPENAI_API_KEY": second})
    assert caught.value.code == "invalid_state"
    assert second not in json.dumps(caught.value.to_dict())
    assert secret_values(name) == {"OPENAI_API_KEY": first}


def test_replace_sets_exactly_the_new_keys(name: str) -> None:
    from kitaru_core.backend.secrets import secret_values

    secrets.create_secret(name, {"OLD_KEY": _value(), "OPENAI_API_KEY": _value()})
    new = _value()
    replaced = secrets.create_secret(name, {"OPENAI_API_KEY": new}, replace=True)
    assert replaced.keys == ["OPENAI_API_KEY"]
    assert secret_values(name) == {"OPENAI_API_KEY": new}
    assert secrets.get_secret(name).keys == ["OPENAI_API_KEY"]


def test_delete_removes_it_and_names_the_aliases_that_still_use_it(
    name: str, clean_env: pytest.MonkeyPatch
) -> None:
    from kitaru_core.config.paths import settings_path
    from kitaru_core.services import llm_models as models

    secrets.create_secret(name, {"OPENAI_API_KEY": _value()})
    path = settings_path()
    before = path.read_bytes() if path.exists() else None
    alias = f"uses-{name}"
    try:
        models.register_model(alias, "openai/gpt-4o-mini", secret=name)
        deletion = secrets.delete_secret(name)
    finally:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(before)
    assert deletion.secret.name == name and deletion.secret.keys == ["OPENAI_API_KEY"]
    assert deletion.used_by == [alias]
    assert name not in _names()
    with pytest.raises(KitaruNotFoundError) as caught:
        secrets.delete_secret(name)
    assert "kitaru secrets create" in caught.value.hint
    with pytest.raises(KitaruNotFoundError):
        secrets.get_secret(name)


def test_names_are_matched_exactly(name: str) -> None:
    secrets.create_secret(name, {"K": _value()})
    with pytest.raises(KitaruNotFoundError):
        secrets.delete_secret(name[:-3])  # a prefix is not the secret
    assert name in _names()


@pytest.mark.parametrize("bad", ["", " ", "has space", "slash/name", "-dash-first", "x" * 129])
def test_bad_names_are_validation_errors_and_create_nothing(zenml_client: Any, bad: str) -> None:
    before = _names()
    value = _value()
    with pytest.raises(KitaruValidationError) as caught:
        secrets.create_secret(bad, {"OPENAI_API_KEY": value})
    assert caught.value.code == "validation_error"
    assert "name" in caught.value.fields
    assert value not in json.dumps(caught.value.to_dict())
    assert _names() == before


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"1ABC": "v-1234567890"},
        {"with-dash": "v-1234567890"},
        {"": "v-1234567890"},
        {"EMPTY": ""},
        {"KEY": "v-1234567890", "key": "v-0987654321"},
    ],
)
def test_bad_keys_and_values_are_validation_errors_that_quote_no_value(
    zenml_client: Any, values: dict[str, Any]
) -> None:
    name = f"never-created-{uuid.uuid4().hex[:8]}"
    with pytest.raises(KitaruValidationError) as caught:
        secrets.create_secret(name, values)
    body = json.dumps(caught.value.to_dict())
    for value in values.values():
        if value:
            assert value not in body
    assert name not in _names()


def test_a_non_string_value_is_rejected() -> None:
    with pytest.raises(KitaruValidationError) as caught:
        check_secret_values({"PORT": 8080})
    assert "values.PORT" in caught.value.fields


def test_cli_style_assignments_are_parsed_and_reported_without_values() -> None:
    assert parse_secret_assignments(["--OPENAI_API_KEY=sk-a=b", "OTHER=x"]) == {
        "OPENAI_API_KEY": "sk-a=b",
        "OTHER": "x",
    }
    with pytest.raises(KitaruValidationError) as caught:
        parse_secret_assignments(["--NOVALUE", "--K=sk-secret-1", "--K=sk-secret-2"])
    body = json.dumps(caught.value.to_dict())
    assert "sk-secret" not in body
    assert set(caught.value.fields) == {"values[1]", "values[3]"}


def test_store_failures_are_scrubbed() -> None:
    from kitaru_core.backend.secrets import _guarded

    value = _value()

    def failing() -> None:
        raise ValueError(f"the store rejected {value}")

    with pytest.raises(Exception) as caught:
        _guarded(failing, {"KEY": value})
    assert value not in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
