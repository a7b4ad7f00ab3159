"""Helpers for the CLI tests: run ``kitaru`` in-process (click's runner) or as a subprocess.

The in-process runner shares this test process's store (``conftest.py`` gives each xdist worker
its own config dir); the subprocess inherits the same ``KITARU_CONFIG_PATH``, so both see the
same stacks and executions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

TESTS_DIR = Path(__file__).resolve().parent
FLOWS_DIR = TESTS_DIR / "flows_cli"
ERROR_KEYS = {"code", "message", "hint", "retryable", "details"}


def target(module: str, flow: str) -> str:
    """An absolute file target for a flow in ``tests/flows_cli``."""
    return f"{FLOWS_DIR / f'{module}.py'}:{flow}"


def kitaru(*args: str, code: int = 0) -> Result:
    """Run ``kitaru ARGS`` through click's runner and check its exit code."""
    from kitaru_core.cli.main import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, (
        f"kitaru {' '.join(args)} exited {result.exit_code}, expected {code}\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result


def kitaru_json(*args: str) -> Any:
    """``kitaru ARGS -o json`` that must succeed: its stdout parsed, its stderr empty."""
    result = kitaru(*args, "-o", "json")
    assert result.stderr == "", result.stderr
    return json.loads(result.stdout)


def kitaru_error(*args: str, code: int) -> dict[str, Any]:
    """``kitaru ARGS -o json`` that must fail: the one JSON error object on stderr (checked)."""
    result = kitaru(*args, "-o", "json", code=code)
    assert result.stdout == "", result.stdout
    body = json.loads(result.stderr)  # exactly one JSON document, nothing else
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["message"] and "Traceback" not in result.stderr
    error: dict[str, Any] = body["error"]
    return error


def kitaru_executable() -> list[str]:
    """The installed console script, or ``python -m`` the CLI module when it is missing."""
    script = Path(sys.executable).with_name("kitaru")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kitaru_core.cli.main"]


def run_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``kitaru ARGS`` as a real process (same store as this test process)."""
    return subprocess.run(
        [*kitaru_executable(), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
