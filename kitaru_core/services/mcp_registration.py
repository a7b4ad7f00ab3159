"""What registers ``kitaru-mcp`` with an MCP client, and how it is merged into ``.mcp.json``.

MCP clients start a stdio server with a minimal environment (often only ``PATH`` and ``HOME``),
so nothing from the user's shell can be relied on: the registration names the server by its
absolute path and writes the config dir in effect into ``env`` explicitly, so the server opens
the same store as the ``kitaru`` that printed it. Secrets are never written: a ``.mcp.json``
is a project file that ends up in commits.

Cheap to import (no engine import): ``kitaru mcp config`` stays fast.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kitaru_core.config.paths import config_dir
from kitaru_core.errors import KitaruUsageError

SERVER_NAME = "kitaru"
SERVER_SCRIPT = "kitaru-mcp"
# The server's capability modes (kitaru_mcp.registry.Mode; a test keeps the two equal).
MODES = ("read-only", "standard", "destructive")
DEFAULT_MODE = "standard"
DEFAULT_FILE = ".mcp.json"
# Written when set: they choose what the server connects to and are not secrets.
PASSED_VARS = ("KITARU_PROJECT",)
# Never written. URL and token go together (a URL alone makes the server refuse to start), so
# both stay out; `kitaru login` persists a login in the config dir, which the server does read.
WITHHELD_VARS = ("KITARU_SERVER_URL", "KITARU_AUTH_TOKEN")


class McpRegistration(BaseModel):
    """How an MCP client starts Kitaru's server: ``command`` + ``args`` with ``env``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = SERVER_NAME
    command: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    withheld: list[str] = Field(
        default_factory=list,
        description="KITARU_* variables set in this shell that were deliberately not written.",
    )

    def server_entry(self) -> dict[str, Any]:
        """The generic block most clients take (``command``, ``args``, ``env``)."""
        return {"command": self.command, "args": list(self.args), "env": dict(self.env)}

    def mcp_json(self) -> dict[str, Any]:
        """The ``.mcp.json`` document (Claude Code's project file) holding only this server."""
        return {"mcpServers": {self.name: self.server_entry()}}


def build_registration(
    mode: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    bin_dir: Path | None = None,
) -> McpRegistration:
    """The registration of the ``kitaru-mcp`` installed beside this interpreter.

    ``bin_dir`` (tests) replaces the directory of ``sys.executable``.
    """
    env = os.environ if environ is None else environ
    chosen = (mode or DEFAULT_MODE).strip().lower()
    if chosen not in MODES:
        raise KitaruUsageError(
            f"Unknown MCP server mode {mode!r}.",
            hint=f"Use one of: {', '.join(MODES)}.",
            details={"mode": mode, "allowed": list(MODES)},
        )
    command = server_command(bin_dir)
    server_env = {"KITARU_CONFIG_PATH": str(config_dir())}
    server_env.update({name: env[name].strip() for name in PASSED_VARS if _is_set(env, name)})
    return McpRegistration(
        command=command[0],
        args=[*command[1:], "--mode", chosen],
        env=server_env,
        withheld=[name for name in WITHHELD_VARS if _is_set(env, name)],
    )


def server_command(bin_dir: Path | None = None) -> list[str]:
    """The absolute command that starts ``kitaru-mcp``.

    The console script beside the running interpreter first: it belongs to the same install
    as this ``kitaru``, whatever ``PATH`` says. (``absolute()``, not ``resolve()``: a venv's
    ``python`` is a symlink to the base interpreter, whose directory has no ``kitaru-mcp``.)
    Then one found on ``PATH``; last, the interpreter running the package as a module.
    """
    folder = bin_dir if bin_dir is not None else Path(sys.executable).absolute().parent
    for name in (SERVER_SCRIPT, f"{SERVER_SCRIPT}.exe"):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which(SERVER_SCRIPT)
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "kitaru_mcp"]


def _is_set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


def write_mcp_json(registration: McpRegistration, path: Path | None = None) -> Path:
    """Merge the registration into ``path`` (default ``./.mcp.json``); returns the file.

    Other servers and keys are kept; an existing entry of the same name is replaced. A file
    that is not a JSON object with an object ``mcpServers`` is refused and left unchanged.
    """
    target = (path or Path(DEFAULT_FILE)).expanduser().absolute()
    document = _read_document(target)
    servers = document.setdefault("mcpServers", {})
    servers[registration.name] = registration.server_entry()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    # Write beside the target, then rename: a crash never leaves a half-written file.
    partial = target.with_name(f".{target.name}.kitaru-partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise KitaruUsageError(
            f"Could not write {target}: {exc.strerror or exc}.",
            hint="Choose a writable file with --path, or print the registration and paste it.",
            details={"path": str(target)},
        ) from None
    return target


def _read_document(target: Path) -> dict[str, Any]:
    if not target.exists():
        return {}
    try:
        document = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _malformed(target, f"it is not readable JSON ({_reason(exc)})") from None
    if not isinstance(document, dict):
        raise _malformed(target, f"it holds a JSON {type(document).__name__}, not an object")
    if not isinstance(document.get("mcpServers", {}), dict):
        raise _malformed(target, '"mcpServers" is not an object')
    return document


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    return str(getattr(exc, "strerror", None) or exc)


def _malformed(target: Path, why: str) -> KitaruUsageError:
    return KitaruUsageError(
        f"{target} was not changed: {why}.",
        hint='Fix the file (it must be a JSON object like {"mcpServers": {...}}), or write '
        "elsewhere with --path FILE.",
        details={"path": str(target)},
    )
