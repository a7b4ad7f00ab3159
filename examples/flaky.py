"""Retries: a checkpoint that fails on its first attempt and succeeds on the second.

The first attempt leaves a marker file in ``workdir`` and raises; the retry finds the marker and
succeeds. A file (not a global variable) keeps this deterministic even when the attempts run in
different processes. Every attempt is recorded on the checkpoint (``attempts``).

    python examples/flaky.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from kitaru_core import checkpoint, flow


class TransientError(RuntimeError):
    """Stands in for a timeout or a rate limit."""


@checkpoint(retries=2)
def call_unreliable_service(workdir: str, request: str) -> str:
    marker = Path(workdir) / f"{request}.attempted"
    if not marker.exists():
        marker.write_text("first attempt failed\n")
        raise TransientError(f"service unavailable for {request!r}, try again")
    return f"response to {request}"


@flow
def flaky_flow(workdir: str, request: str = "ping") -> str:
    """Calls the unreliable service; the retry makes the flow succeed."""
    return call_unreliable_service(workdir, request)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        print(flaky_flow(folder))
