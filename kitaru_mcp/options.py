"""The server's run-time options, reachable from any tool through its ``Context``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitaru_core.errors import KitaruValidationError
from kitaru_mcp.registry import Mode, parse_mode

MODE_ENV = "KITARU_MCP_MODE"


@dataclass(frozen=True)
class ServerOptions:
    """``mode`` decides which tools exist; ``allowed_roots`` bound where flow code is loaded
    from (``kitaru_executions_run`` / ``kitaru_deployments_deploy`` targets)."""

    mode: Mode
    allowed_roots: tuple[Path, ...] = field(default_factory=lambda: (Path.cwd().resolve(),))

    @classmethod
    def build(
        cls, mode: str | Mode | None = None, allow_paths: Iterable[str | Path] | None = None
    ) -> ServerOptions:
        """Mode from the argument, else ``KITARU_MCP_MODE``, else ``standard``; roots from the
        arguments, else the current directory."""
        if isinstance(mode, Mode):
            resolved = mode
        elif mode is not None and mode.strip():
            resolved = parse_mode(mode, source="--mode")
        else:
            resolved = parse_mode(os.environ.get(MODE_ENV), source=MODE_ENV)
        roots = tuple(Path(p).expanduser().resolve() for p in (allow_paths or ()))
        return cls(mode=resolved, allowed_roots=roots or (Path.cwd().resolve(),))

    def check_path(self, path: str | Path, *, field: str = "target") -> Path:
        """``path`` resolved (symlinks and ``..`` included) if it lies inside an allowed root;
        otherwise a validation error naming ``field``."""
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = Path.cwd() / candidate
        resolved = candidate.resolve()
        if any(resolved.is_relative_to(root) for root in self.allowed_roots):
            return resolved
        roots = ", ".join(str(root) for root in self.allowed_roots)
        problem = (
            f"{field} '{path}' is outside the directories this server may load code from ({roots})."
        )
        raise KitaruValidationError(
            problem,
            fields={field: problem},
            hint="Use a file inside those directories, or restart kitaru-mcp with "
            "--allow-path DIR.",
            details={"allowed_roots": [str(root) for root in self.allowed_roots]},
        )


def options_of(context: Any) -> ServerOptions:
    """The options of the server handling a tool call (``context`` is the tool's ``Context``)."""
    options = getattr(context.mcp_server, "options", None)
    if not isinstance(options, ServerOptions):
        raise RuntimeError("this tool must run inside kitaru_mcp's server")
    return options
