"""The server tier: executions, waits, stacks and deployments against a real local ZenML server.

A fixture starts the server daemon (``kitaru login`` without a URL) in a private config dir,
a scenario process runs the checks through the REST store, and ``logout`` stops the server.
Everything runs in subprocesses, because ZenML binds its store connection once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ts_support import free_port

HERE = Path(__file__).resolve().parent


def _python(code: str, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE / "server_tier",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITARU_", "ZENML_"))}
    env["KITARU_CONFIG_PATH"] = str(tmp_path_factory.mktemp("server-tier"))
    port = free_port()
    out = _python(
        "from kitaru_core.services import server\n"
        f"print(server.login(port={port}).model_dump_json())",
        env,
    )
    connection = json.loads(out.strip().splitlines()[-1])
    assert connection["kind"] == "local_server"
    assert connection["url"] == f"http://127.0.0.1:{port}"
    yield env
    out = _python("from kitaru_core.services import server\nprint(server.logout().kind)", env)
    assert out.strip().splitlines()[-1] == "local_store"


def test_scenario_runs_against_the_server(server_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "scenario.py"],
        env=server_env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=HERE / "server_tier",
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for check in ("check_executions", "check_waits", "check_stacks", "check_deployments"):
        assert f"ok {check}" in result.stdout


def test_auth_token_is_refused_by_the_unauthenticated_local_server(
    server_env: dict[str, str],
) -> None:
    out = _python(
        "from kitaru_core.services import server\n"
        "try:\n    server.auth_token()\nexcept Exception as e:\n    print(e.code)",
        server_env,
    )
    assert out.strip().splitlines()[-1] == "invalid_state"
