"""Helpers shared by the tests that run the official TypeScript MCP client against a
`kitaru-mcp` HTTP server process."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[str], log: Path) -> None:
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
