"""Helpers for the flows: files that prove how often a checkpoint body really ran.

Every flow takes a per-test ``workdir`` and a ``salt`` so that tests running in parallel never
share a cache entry or a counter file.
"""

from __future__ import annotations

from pathlib import Path


def mark(workdir: str, name: str, line: str = "ran") -> int:
    """Append one line to ``<workdir>/<name>.marks``; return how many lines it has now."""
    path = Path(workdir) / f"{name}.marks"
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line + "\n")
        stream.flush()
    return len(path.read_text(encoding="utf-8").splitlines())


def marks(workdir: str, name: str) -> list[str]:
    """The lines ``mark`` appended (empty when the checkpoint never ran)."""
    path = Path(workdir) / f"{name}.marks"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
