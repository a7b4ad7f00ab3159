"""The declarative table of every MCP tool: name, title, capability mode and annotations.

This table is the single place that decides which mode a tool belongs to and what it promises
about side effects. The server registers a tool only if its row exists here, and a test holds
its own copy of the expected rows so that any drift (a tool quietly becoming destructive, a
mode widening) fails loudly. Tools whose service does not exist yet still have their row, so
the contract is fixed before the code lands.

Cheap to import: no engine, no Kitaru services.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mcp.types import ToolAnnotations

from kitaru_core.errors import KitaruUsageError


class Mode(StrEnum):
    """Capability modes, each including everything the previous one allows."""

    READ_ONLY = "read-only"
    STANDARD = "standard"
    DESTRUCTIVE = "destructive"

    @property
    def rank(self) -> int:
        return _MODE_ORDER.index(self)

    def allows(self, tool_mode: Mode) -> bool:
        """Whether a server in this mode exposes a tool that needs ``tool_mode``."""
        return tool_mode.rank <= self.rank


_MODE_ORDER = (Mode.READ_ONLY, Mode.STANDARD, Mode.DESTRUCTIVE)
DEFAULT_MODE = Mode.STANDARD


def parse_mode(raw: str | None, *, source: str = "--mode") -> Mode:
    """``read-only``, ``standard`` or ``destructive`` (case and ``_`` tolerated); blank means
    the default."""
    text = (raw or "").strip().lower().replace("_", "-")
    if not text:
        return DEFAULT_MODE
    for mode in Mode:
        if mode.value == text:
            return mode
    choices = ", ".join(m.value for m in Mode)
    raise KitaruUsageError(
        f"{source} must be one of {choices}; got {raw!r}.",
        hint=f"Use {source} standard (the default), read-only or destructive.",
        details={"field": source, "value": raw, "choices": [m.value for m in Mode]},
    )


@dataclass(frozen=True)
class ToolSpec:
    """One row of the table. The four hints follow the MCP ``ToolAnnotations`` meanings:
    read-only (changes nothing), destructive (may delete or end something), idempotent
    (repeating the same call has no further effect), open-world (reaches beyond the Kitaru
    store: runs user code, talks to cloud APIs)."""

    name: str
    title: str
    mode: Mode
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )


RO, STD, DES = Mode.READ_ONLY, Mode.STANDARD, Mode.DESTRUCTIVE

# name, title, mode, read_only, destructive, idempotent, open_world.
# Reads are read-only + idempotent + closed-world (they only query the Kitaru store).
# Anything that runs or continues a flow is open-world: it executes user code (LLMs, web, …).
_ROWS: tuple[tuple[str, str, Mode, bool, bool, bool, bool], ...] = (
    # executions
    ("kitaru_executions_list", "List executions", RO, True, False, True, False),
    ("kitaru_executions_get", "Get an execution", RO, True, False, True, False),
    ("kitaru_executions_latest", "Get the latest execution", RO, True, False, True, False),
    ("kitaru_executions_logs", "Read execution logs", RO, True, False, True, False),
    ("kitaru_executions_waiting", "List waiting executions", RO, True, False, True, False),
    ("kitaru_executions_run", "Run a flow", STD, False, False, False, True),
    # Answering a wait twice with the same value is idempotent (SPEC §4).
    ("kitaru_executions_input", "Answer a pending wait", STD, False, False, True, True),
    ("kitaru_executions_resume", "Resume a waiting execution", STD, False, False, False, True),
    ("kitaru_executions_retry", "Retry a failed execution", STD, False, False, False, True),
    ("kitaru_executions_replay", "Replay an execution", STD, False, False, False, True),
    ("kitaru_executions_abort_wait", "Abort a pending wait", DES, False, True, True, False),
    ("kitaru_executions_cancel", "Cancel an execution", DES, False, True, True, False),
    # artifacts
    ("kitaru_artifacts_list", "List artifacts", RO, True, False, True, False),
    ("kitaru_artifacts_get", "Get an artifact", RO, True, False, True, False),
    # stacks
    ("kitaru_stacks_list", "List stacks", RO, True, False, True, False),
    ("kitaru_stacks_current", "Show the active stack", RO, True, False, True, False),
    ("kitaru_stacks_show", "Show a stack's details", RO, True, False, True, False),
    ("kitaru_stacks_use", "Switch the active stack", STD, False, False, True, False),
    # Remote stacks register cloud connectors and may verify credentials against cloud APIs.
    ("kitaru_stacks_create", "Create a stack", STD, False, False, False, True),
    ("kitaru_stacks_delete", "Delete a stack", DES, False, True, True, False),
    # deployments
    ("kitaru_deployments_deploy", "Deploy a flow", STD, False, False, False, True),
    ("kitaru_deployments_invoke", "Invoke a deployment", STD, False, False, False, True),
    ("kitaru_deployments_list", "List deployments", RO, True, False, True, False),
    ("kitaru_deployments_get", "Get a deployment", RO, True, False, True, False),
    # Moving an exclusive tag re-routes it; nothing is removed, so not destructive.
    ("kitaru_deployments_tag", "Tag a deployment version", STD, False, False, True, False),
    ("kitaru_deployments_untag", "Remove a deployment tag", DES, False, True, True, False),
    ("kitaru_deployments_delete", "Delete a deployment version", DES, False, True, True, False),
    # Only renders a command; it never calls the deployment or inlines a token.
    ("kitaru_deployments_curl", "Show a deployment curl command", RO, True, False, True, False),
    # flows
    ("kitaru_flows_list", "List known flows", RO, True, False, True, False),
    # system
    ("kitaru_status", "Show Kitaru status", RO, True, False, True, False),
    ("kitaru_info", "Show Kitaru diagnostics", RO, True, False, True, False),
    # Starts the local server daemon, or connects to the one already running.
    ("kitaru_server_start", "Start the local Kitaru server", STD, False, False, True, False),
    ("kitaru_server_stop", "Stop the local Kitaru server", DES, False, True, True, False),
)

TOOLS: dict[str, ToolSpec] = {row[0]: ToolSpec(*row) for row in _ROWS}


def spec(name: str) -> ToolSpec | None:
    return TOOLS.get(name)
