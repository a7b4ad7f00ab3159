"""Hints that speak the caller's language (SPEC §1.5).

One rule raises one error; its hint says what to do next in the words of the surface that
shows it: Python calls in the SDK, commands and flags on the CLI, tools and parameters on MCP.
A :class:`Hint` holds one text per surface and the surface that renders the error picks its
own (``KitaruError.hint_for``). A plain string hint means the same on every surface.

MCP texts may refer to tools as ``{tool:NAME|PHRASE}``. The MCP server knows its capability
mode, so it renders the reference as "PHRASE with `NAME`" when the tool is available and as
"ask the user to PHRASE (needs MODE mode)" when the mode hides it — a hint never names a tool
the assistant cannot see. ``{tool:NAME}`` alone renders as "`NAME`" (only for tools every mode
has).

Pure and cheap: no imports beyond the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Surface(StrEnum):
    """Who shows an error: the Python SDK, the ``kitaru`` CLI or the ``kitaru-mcp`` server."""

    SDK = "sdk"
    CLI = "cli"
    MCP = "mcp"


# Given a tool name: ``None`` when the server offers it, else the mode that would allow it.
ToolModes = Callable[[str], "str | None"]

_TOOL_REF = re.compile(r"\{tool:(?P<name>[a-z_]+)(?:\|(?P<phrase>[^{}]+))?\}")


@dataclass(frozen=True)
class Hint:
    """One hint, written once per surface."""

    sdk: str
    cli: str
    mcp: str

    def text(self, surface: Surface, *, tool_modes: ToolModes | None = None) -> str:
        """The hint as ``surface`` shows it (MCP tool references resolved against the mode)."""
        if surface is Surface.CLI:
            return self.cli
        if surface is Surface.MCP:
            return resolve_tools(self.mcp, tool_modes)
        return self.sdk


def resolve_tools(text: str, tool_modes: ToolModes | None = None) -> str:
    """Replace ``{tool:NAME|PHRASE}`` references by what the server's mode allows.

    Without ``tool_modes`` (no server at hand) every tool counts as available.
    """

    def render(match: re.Match[str]) -> str:
        name, phrase = match.group("name"), match.group("phrase")
        needed = tool_modes(name) if tool_modes is not None else None
        if needed is None:
            return f"{phrase} with `{name}`" if phrase else f"`{name}`"
        if phrase:
            return f"ask the user to {phrase} (needs {needed} mode)"
        return f"ask the user (it needs {needed} mode)"

    return _TOOL_REF.sub(render, text)


def render_hint(hint: str | Hint, surface: Surface, *, tool_modes: ToolModes | None = None) -> str:
    """Any hint (plain text or :class:`Hint`) as ``surface`` shows it."""
    if isinstance(hint, Hint):
        return hint.text(surface, tool_modes=tool_modes)
    if surface is Surface.MCP:
        return resolve_tools(hint, tool_modes)
    return hint


# ------------------------------------------------------------------------------ shared hints
# Hints more than one rule gives; each names only its own surface's things.

EXECUTION_IDS = Hint(
    sdk="Find execution ids with `KitaruClient().executions.list()`.",
    cli="Find execution ids with `kitaru executions list`.",
    mcp="Find execution ids with {tool:kitaru_executions_list}.",
)

NOT_WAITING = Hint(
    sdk="Check its status with `KitaruClient().executions.get(exec_id)`; only waiting "
    "executions take input.",
    cli="Check its status with `kitaru executions get EXEC_ID`; only waiting executions take "
    "input.",
    mcp="Check its status with {tool:kitaru_executions_get}; only waiting executions take input.",
)

PENDING_WAITS = Hint(
    sdk="Only a pending wait takes input; see `KitaruClient().executions.waiting()`.",
    cli="Only a pending wait takes input; see `kitaru executions waiting`.",
    mcp="Only a pending wait takes input; see {tool:kitaru_executions_waiting}.",
)

STACK_NAMES = Hint(
    sdk="Use one of the listed names (`list_stacks()`), or create it with `create_stack(name)`.",
    cli="Use one of the listed names (`kitaru stack list`), or create it with "
    "`kitaru stack create`.",
    mcp="Use one of the listed names ({tool:kitaru_stacks_list}), or "
    "{tool:kitaru_stacks_create|create it}.",
)

DEPLOYMENT_TAGS = Hint(
    sdk="See its versions and tags with `KitaruClient().deployments.list(flow)`.",
    cli="See its versions and tags with `kitaru flow deployments list FLOW`.",
    mcp="See its versions and tags with {tool:kitaru_deployments_list}.",
)
