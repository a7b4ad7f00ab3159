"""``kitaru_status`` and ``kitaru_info`` through the official MCP client, on the real store.

Masking is checked with ``KITARU_LOG_STORE_API_KEY``: setting ``KITARU_SERVER_URL`` /
``KITARU_AUTH_TOKEN`` would point this process at a remote store.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from _mcp_support import call, data, text

from kitaru_mcp import registry
from kitaru_mcp.registry import Mode
from kitaru_mcp.server import build_server

SECRET = "sk-live-0123456789abcdefSECRET"


def test_status_reports_connection_project_stack_and_config(zenml_client: Any) -> None:
    status = data(call(build_server("read-only"), "kitaru_status"))
    config = Path(os.environ["KITARU_CONFIG_PATH"]).resolve()
    assert status["connection"]["kind"] == "local"
    assert status["connection"]["source"] == "default"
    store = Path(status["connection"]["location"])
    assert store.name == "zenml.db" and store.is_relative_to(config) and store.exists()
    assert status["project"] == "default"
    assert status["active_stack"]["name"] == "default" and status["active_stack"]["is_active"]
    assert Path(status["config_dir"]) == config
    assert status["env"]["KITARU_CONFIG_PATH"] == os.environ["KITARU_CONFIG_PATH"]
    assert status["problems"] == []
    fast_path = status["fast_path"]
    assert fast_path["enabled"] is True and fast_path["reason"] is None
    assert fast_path["revision"] == metadata.version("zenml") and fast_path["fix"] is None


def test_status_masks_secret_variables(zenml_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITARU_LOG_STORE_API_KEY", SECRET)
    monkeypatch.setenv("KITARU_LOG_STORE_BACKEND", "otel")
    result = call(build_server("read-only"), "kitaru_status")
    env = data(result)["env"]
    assert env["KITARU_LOG_STORE_BACKEND"] == "otel"
    assert env["KITARU_LOG_STORE_API_KEY"].endswith("****")
    assert SECRET not in text(result)


def test_status_reports_a_bad_variable_instead_of_failing(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITARU_CACHE", "maybe")
    status = data(call(build_server("read-only"), "kitaru_status"))
    assert [problem["code"] for problem in status["problems"]] == ["usage_error"]
    assert "KITARU_CACHE" in status["problems"][0]["message"]
    assert status["connection"]["kind"] == "local"  # what could be read is still there
    assert status["env"]["KITARU_CACHE"] == "maybe"


def test_info_adds_versions_health_and_server_mode(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KITARU_LOG_STORE_API_KEY", SECRET)
    result = call(build_server("standard", allow_paths=[tmp_path]), "kitaru_info")
    info = data(result)
    assert SECRET not in text(result)
    assert info["versions"]["kitaru_mcp"] == metadata.version("kitaru-mcp")
    assert info["versions"]["zenml"] == metadata.version("zenml")
    assert info["versions"]["mcp"] == metadata.version("mcp")
    assert info["versions"]["python"] == platform.python_version()
    health = info["health"]
    assert health["ok"] is True and health["error"] is None
    assert health["latency_ms"] >= 0 and health["store_version"] == metadata.version("zenml")
    assert info["active_stack"]["name"] == "default"  # everything status has is here too
    server = info["mcp_server"]
    assert server["mode"] == "standard"
    assert server["allowed_roots"] == [str(tmp_path.resolve())]
    hidden = {n: r.mode.value for n, r in registry.TOOLS.items() if r.mode is Mode.DESTRUCTIVE}
    assert server["tools_needing_another_mode"] == hidden


def test_server_stop_without_a_server_keeps_the_local_store(zenml_client: Any) -> None:
    result = data(call(build_server("destructive"), "kitaru_server_stop"))
    assert result["kind"] == "local_store"
    assert result["url"] is None
    assert data(call(build_server("read-only"), "kitaru_status"))["connection"]["kind"] == "local"


def test_server_start_rejects_a_port_outside_the_allowed_range(zenml_client: Any) -> None:
    from _mcp_support import error

    body = error(call(build_server("standard"), "kitaru_server_start", {"port": 80}))
    assert body["code"] == "validation_error"
    assert "port" in body["details"]["fields"]
