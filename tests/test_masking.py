"""Secrets are masked wherever they are shown."""

from __future__ import annotations

import copy

import pytest

from kitaru_core.config.masking import MASK, is_secret_name, mask_mapping, mask_url, mask_value


@pytest.mark.parametrize(
    "name",
    [
        "KITARU_AUTH_TOKEN",
        "KITARU_LOG_STORE_API_KEY",
        "KITARU_MCP_TOKEN",
        "OPENAI_API_KEY",
        "OPENAI_KEY",
        "api_key",
        "apikey",
        "db_password",
        "AWS_SECRET_ACCESS_KEY",
        "client_secret",
        "credentials",
        "Authorization",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["KITARU_STACK", "KITARU_SERVER_URL", "KITARU_PROJECT", "model", "base_image", "keyboard"],
)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_short_secrets_are_fully_masked() -> None:
    assert mask_value("abc") == MASK
    assert mask_value("") == MASK
    assert mask_value("elevenchars") == MASK


def test_long_secrets_keep_only_a_short_prefix() -> None:
    masked = mask_value("kat_abc123456789xyz")
    assert masked == "kat_" + MASK
    assert "123456789" not in masked


def test_none_stays_none() -> None:
    assert mask_value(None) is None


def test_mapping_masks_nested_values_and_lists_without_mutating_input() -> None:
    original = {
        "KITARU_STACK": "prod",
        "KITARU_AUTH_TOKEN": "kat_abcdefghijklmnop",
        "image": {"environment": {"OPENAI_API_KEY": "sk-1234567890abcdef", "REGION": "eu"}},
        "tokens": ["first-token-value-123", "x"],
        "servers": [{"api_key": "server-key-0123456789"}],
        "password": None,
        "retries": 2,
    }
    snapshot = copy.deepcopy(original)
    masked = mask_mapping(original)
    assert original == snapshot
    assert masked == {
        "KITARU_STACK": "prod",
        "KITARU_AUTH_TOKEN": "kat_" + MASK,
        "image": {"environment": {"OPENAI_API_KEY": "sk-1" + MASK, "REGION": "eu"}},
        "tokens": ["firs" + MASK, MASK],
        "servers": [{"api_key": "serv" + MASK}],
        "password": None,
        "retries": 2,
    }


def test_non_string_secret_values_are_masked_too() -> None:
    assert mask_mapping({"pin_password": 123456}) == {"pin_password": MASK}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://me:hunter2@host.example/x", "https://me:****@host.example/x"),
        ("postgresql://u:p%40ss@db:5432/zenml", "postgresql://u:****@db:5432/zenml"),
        ("https://me:p@ss@host.example/a@b", "https://me:****@host.example/a@b"),
        ("https://host.example/x", "https://host.example/x"),
        ("https://me@host.example", "https://me@host.example"),
    ],
)
def test_url_passwords_are_masked(url: str, expected: str) -> None:
    assert mask_url(url) == expected


def test_mapping_masks_passwords_inside_url_values() -> None:
    masked = mask_mapping({"KITARU_SERVER_URL": "https://me:hunter2@host.example"})
    assert masked == {"KITARU_SERVER_URL": "https://me:****@host.example"}
