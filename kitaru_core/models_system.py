"""Pydantic models of ``status`` and ``info``: where Kitaru is connected and how healthy it is.

Shared by the CLI (``kitaru status`` / ``kitaru info``) and the MCP tools (``kitaru_status`` /
``kitaru_info``). Every secret in them is already masked.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from kitaru_core.config.env import ENGINE, ENGINE_DISTRIBUTION
from kitaru_core.models import StackInfo


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionInfo(_Model):
    """The store Kitaru talks to: a local SQLite file or a ZenML server."""

    kind: Literal["local", "server", "unknown"] = Field(
        description="local: embedded SQLite store; server: a ZenML server; unknown: not resolved."
    )
    location: str | None = Field(
        description="The local store's file path, or the server URL (credentials masked)."
    )
    source: str = Field(
        description="Which setting chose it: default, login, zenml_env, kitaru_env or configure."
    )


class FastPathInfo(_Model):
    """Whether Kitaru reads the local SQLite store directly (and records cache hits in it), or
    goes through ZenML for everything because it does not know the store's schema.

    Built from the backend's fast-path state by attribute (``model_validate(state,
    from_attributes=True)``), so the field names are written here only."""

    enabled: bool = Field(description="True when the fast local path is on.")
    reason: str | None = Field(
        default=None, description="Why it is off (an unknown ZenML release or schema)."
    )
    zenml_release: str | None = Field(default=None, description="The installed ZenML release.")
    revision: str | None = Field(
        default=None, description="The local store's schema revision (its alembic version)."
    )
    fix: str | None = Field(
        default=None,
        description="What turns it back on, when it is off (install a supported ZenML).",
    )


class SystemStatus(_Model):
    """What ``status`` shows: connection, project, active stack, config dir, variables."""

    connection: ConnectionInfo
    project: str | None = Field(description="The active project, when the store could be read.")
    active_stack: StackInfo | None = Field(
        description="The persisted active stack, when the store could be read."
    )
    config_dir: str = Field(description="Kitaru's config directory (KITARU_CONFIG_PATH).")
    env: dict[str, str] = Field(description="The KITARU_* variables that are set, secrets masked.")
    problems: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Errors met while reading the store ({code, message, hint, …}); empty when "
        "all is well.",
    )
    fast_path: FastPathInfo | None = Field(
        default=None,
        description="The fast local store path: on, or off and why (then reads are 2-3 s "
        "slower and cached checkpoints 3-4x slower). Null on a server connection or before the "
        "local store exists.",
    )


class VersionInfo(_Model):
    """Installed versions of Kitaru, the engine, the MCP SDK and Python."""

    # Field → the distribution whose installed version it holds.
    DISTRIBUTIONS: ClassVar[dict[str, str]] = {
        "kitaru_mcp": "kitaru-mcp",
        "zenml": ENGINE_DISTRIBUTION,
        "mcp": "mcp",
    }

    kitaru_mcp: str | None
    zenml: str | None
    mcp: str | None
    python: str
    platform: str

    def packages(self) -> list[tuple[str, str | None]]:
        """(name users know, installed version or ``None``) for each distribution, in order."""
        return [("Kitaru", self.kitaru_mcp), (ENGINE, self.zenml), ("MCP SDK", self.mcp)]


class StoreHealth(_Model):
    """The result of one round trip to the store."""

    ok: bool
    latency_ms: float | None = Field(description="Round-trip time of the check.")
    store_version: str | None = Field(default=None, description="ZenML version of the store.")
    error: dict[str, Any] | None = Field(
        default=None, description="Why the check failed ({code, message, hint, …})."
    )


class SystemInfo(SystemStatus):
    """``status`` plus versions and a store health check."""

    versions: VersionInfo
    health: StoreHealth


class ServerConnection(_Model):
    """The result of ``login`` / ``logout``: what Kitaru is connected to now."""

    kind: Literal["local_store", "local_server", "remote"] = Field(
        description="local_store: embedded SQLite; local_server: the daemon on loopback that "
        "`kitaru login` started; remote: a server connected with an API key."
    )
    url: str | None = Field(description="The server URL (None for the local store).")
    project: str | None = None
    warnings: list[str] = Field(default_factory=list)
