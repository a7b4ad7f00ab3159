"""An unreachable server fails fast with one clear error, and ``kitaru status`` works as a
health check: the full report, and a non-zero exit code when it lists a problem.

Real CLI processes on a fresh config dir, pointed at a loopback port nothing listens on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from cli_support import ERROR_KEYS, kitaru_executable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def offline_env(tmp_path: Path) -> dict[str, str]:
    """A fresh config dir whose KITARU_* connection names a server that is down."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITARU_", "ZENML_"))}
    env.update(
        KITARU_CONFIG_PATH=str(tmp_path / "config"),
        KITARU_SERVER_URL=f"http://127.0.0.1:{_closed_port()}",
        KITARU_AUTH_TOKEN="kitaru-test-token",
        KITARU_PROJECT="default",
    )
    return env


def _kitaru(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*kitaru_executable(), *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_a_command_fails_with_one_error_line_and_no_retries(offline_env: dict[str, str]) -> None:
    result = _kitaru(offline_env, "executions", "list")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert errors == [
        f"Error: Cannot reach the Kitaru server at {offline_env['KITARU_SERVER_URL']} "
        "(Connection refused)."
    ]
    assert [line for line in lines if not line.startswith(("Error:", "Hint:"))] == []
    assert "Retrying" not in result.stderr
    assert "KITARU_SERVER_URL" in result.stderr  # the hint names where the URL came from
    assert "kitaru-test-token" not in result.stderr


def test_the_json_error_is_a_backend_error_whose_hint_is_not_the_same_command(
    offline_env: dict[str, str],
) -> None:
    result = _kitaru(offline_env, "executions", "list", "-o", "json")
    assert result.returncode == 1
    error = json.loads(result.stderr)["error"]
    assert set(error) == ERROR_KEYS
    assert error["code"] == "backend_error"
    assert error["details"]["server_url"] == offline_env["KITARU_SERVER_URL"]
    assert "kitaru status" not in error["hint"]
    assert "Retrying" not in result.stderr


def test_status_reports_the_unreachable_server_in_full_and_exits_1(
    offline_env: dict[str, str],
) -> None:
    table = _kitaru(offline_env, "status")
    assert table.returncode == 1
    for label in ("Connection", "Config dir", "KITARU_SERVER_URL", "Problem (backend_error)"):
        assert label in table.stdout
    assert "Retrying" not in table.stdout + table.stderr
    assert "kitaru status" not in table.stdout  # no hint to run what was just run
    report = _kitaru(offline_env, "status", "-o", "json")
    assert report.returncode == 1
    status = json.loads(report.stdout)  # the whole report, on stdout
    assert status["connection"]["kind"] == "server"
    assert status["config_dir"] == offline_env["KITARU_CONFIG_PATH"]
    assert [problem["code"] for problem in status["problems"]] == ["backend_error"]
    assert status["env"]["KITARU_AUTH_TOKEN"] != "kitaru-test-token"


def test_status_exits_1_for_a_token_without_a_server_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITARU_", "ZENML_"))}
    env.update(KITARU_CONFIG_PATH=str(tmp_path / "config"), KITARU_AUTH_TOKEN="kitaru-token")
    result = _kitaru(env, "status", "-o", "json")
    assert result.returncode == 1
    status = json.loads(result.stdout)
    assert status["problems"][0]["code"] == "usage_error"
    assert "KITARU_SERVER_URL" in status["problems"][0]["message"]
    assert status["env"]["KITARU_AUTH_TOKEN"] != "kitaru-token"  # masked
    table = _kitaru(env, "status")
    assert table.returncode == 1
    assert "Problem (usage_error)" in table.stdout and "Config dir" in table.stdout


def test_status_exits_0_on_a_healthy_local_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITARU_", "ZENML_"))}
    env["KITARU_CONFIG_PATH"] = str(tmp_path / "config")
    result = _kitaru(env, "status", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["problems"] == []
