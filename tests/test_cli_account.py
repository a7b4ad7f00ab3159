"""``kitaru login|logout|auth token``, ``log-store``, ``model`` and ``secrets`` on the real store.

Starting a server is covered by the server tier (``test_server_tier.py``); here the local store
stays in use and the tests cover the commands' own behaviour and errors.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from cli_support import kitaru, kitaru_error, kitaru_json


def test_logout_on_the_local_store_keeps_it(zenml_client: Any) -> None:
    assert kitaru_json("logout") == {
        "kind": "local_store",
        "url": None,
        "project": None,
        "warnings": [],
    }


def test_login_rejects_a_url_that_is_not_http(zenml_client: Any) -> None:
    error = kitaru_error("login", "ftp://example.com", "--api-key", "k", code=2)
    assert error["code"] == "usage_error"
    assert kitaru_json("status")["connection"]["kind"] == "local"


def test_login_to_a_remote_server_needs_an_api_key(zenml_client: Any) -> None:
    error = kitaru_error("login", "https://kitaru.example.com", code=2)
    assert "API key" in error["message"]
    assert kitaru_json("status")["connection"]["kind"] == "local"


def test_auth_token_needs_a_server(zenml_client: Any) -> None:
    error = kitaru_error("auth", "token", code=1)
    assert error["code"] == "invalid_state"
    assert "kitaru login" in error["hint"]


def test_log_store_show_set_and_reset(zenml_client: Any, clean_env: Any) -> None:
    shown = kitaru_json("log-store", "show")
    assert shown["backend"] == "artifact-store"
    assert shown["sources"]["backend"] in ("default", "settings")
    refused = kitaru_error("log-store", "set", "otel", code=2)
    assert refused["details"]["fields"] == {"endpoint": "required for the otel backend"}
    # ZenML keeps the default stack fixed: refused, and nothing is remembered.
    refused = kitaru_error(
        "log-store", "set", "otel", "--endpoint", "http://127.0.0.1:4318/v1/logs", code=1
    )
    assert refused["code"] == "invalid_state"
    assert kitaru_json("log-store", "show")["backend"] == "artifact-store"
    clean_env.setenv("KITARU_LOG_STORE_BACKEND", "datadog")
    clean_env.setenv("KITARU_LOG_STORE_API_KEY", "dd-0123456789abcdef")
    shown = kitaru_json("log-store", "show")
    assert shown["backend"] == "datadog" and shown["sources"]["backend"] == "env"
    assert "0123456789abcdef" not in str(shown)
    assert kitaru_json("log-store", "reset")["sources"]["backend"] == "env"


def test_model_register_list_and_remove(zenml_client: Any) -> None:
    alias = f"m{uuid.uuid4().hex[:8]}"
    registered = kitaru_json("model", "register", alias, "--model", "openai/gpt-4o-mini")
    assert registered["model"]["alias"] == alias and registered["created"] is True
    listed = kitaru_json("model", "list")
    assert alias in [item["alias"] for item in listed["items"]]
    assert listed["count"] == len(listed["items"])
    bad = kitaru_error("model", "register", "bad alias!", "--model", "x/y", code=2)
    assert bad["code"] == "validation_error"
    assert kitaru_json("model", "remove", alias)["removed"]["alias"] == alias
    assert alias not in [item["alias"] for item in kitaru_json("model", "list")["items"]]


def test_secrets_never_show_values(zenml_client: Any, tmp_path: Path) -> None:
    name = f"s{uuid.uuid4().hex[:8]}"
    value = "sk-super-secret-" + uuid.uuid4().hex
    result = kitaru("secrets", "create", name, f"--OPENAI_API_KEY={value}", "--REGION=eu")
    assert value not in result.stdout + result.stderr
    listed = kitaru("secrets", "list", "-o", "json")
    assert value not in listed.stdout
    item = next(i for i in kitaru_json("secrets", "list")["items"] if i["name"] == name)
    assert sorted(item["keys"]) == ["OPENAI_API_KEY", "REGION"]
    env_file = tmp_path / "keys.env"
    env_file.write_text(f"OTHER_KEY={value}\n")
    from_file = kitaru_json("secrets", "create", f"{name}-file", "--from-file", str(env_file))
    assert from_file["keys"] == ["OTHER_KEY"] and value not in str(from_file)
    malformed = kitaru_error("secrets", "create", f"{name}-bad", "novalue", code=2)
    assert value not in str(malformed)
    assert kitaru_json("secrets", "delete", name)["secret"]["name"] == name
    assert name not in [i["name"] for i in kitaru_json("secrets", "list")["items"]]
