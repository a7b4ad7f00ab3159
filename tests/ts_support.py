"""Helpers for the tests that run a real ``kitaru-mcp`` process: a free port, a readiness wait,
and one run of a script of the official TypeScript MCP client (``tests/ts_client/``) against the
server over stdio or streamable HTTP."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

TS_DIR = Path(__file__).resolve().parent / "ts_client"
KITARU_MCP = str(Path(sys.executable).with_name("kitaru-mcp"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], log: Path) -> None:
    """Until the HTTP server accepts connections (a readiness wait, not a timed assertion)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kitaru-mcp exited {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"kitaru-mcp never listened on {port}:\n{log.read_text()}")


def node_with_sdk(*, install: bool) -> str:
    """``node``, with the SDK present in tests/ts_client: installed with ``npm ci`` when it is
    missing and ``install`` is set, otherwise the test is skipped."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the TypeScript MCP client check cannot run")
    if (TS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        return node
    if not install:
        pytest.skip("tests/ts_client/node_modules is missing (run `make install-dev`)")
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install tests/ts_client (run `make unit`)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=TS_DIR, check=True, timeout=600)
    return node


def run_ts_script(
    node: str,
    script: str,
    payload: Any,
    transport: str,
    serve: list[str],
    tmp: Path,
    timeout: float,
) -> Any:
    """Run ``tests/ts_client/<script>`` with ``payload`` (as its JSON input file) against the
    server command ``serve``, over ``transport`` (``stdio`` or ``http``); its JSON report.

    Over stdio the client spawns the server itself; over HTTP the server runs as a process of
    its own, with a fresh bearer token, until the client is done."""
    tmp.mkdir(parents=True, exist_ok=True)
    payload_file = tmp / f"{Path(script).stem}-input.json"
    payload_file.write_text(json.dumps(payload))
    if transport == "stdio":
        return _node_report(node, script, [payload_file, "stdio", *serve], os.environ, timeout)
    port, token = free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "KITARU_MCP_TOKEN": token}
    http = [*serve, "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    with _serving(http, env, port, tmp / "kitaru-mcp.log"):
        url = f"http://127.0.0.1:{port}/mcp"
        return _node_report(node, script, [payload_file, "http", url], env, timeout)


@contextmanager
def _serving(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """The server process, listening on ``port``, for the length of the block."""
    with log.open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stderr, stderr=stderr, text=True)
    try:
        wait_for_port(port, process, log)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def _node_report(
    node: str, script: str, args: list[Any], env: Mapping[str, str], timeout: float
) -> Any:
    command = [node, str(TS_DIR / script), *map(str, args)]
    done = subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)
