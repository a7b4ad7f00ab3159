"""``kitaru mcp config``: print (or write) the registration of ``kitaru-mcp`` for MCP clients.

What goes into the registration is decided by :mod:`kitaru_core.services.mcp_registration`;
this module only renders it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kitaru_core.cli.core import output_option
from kitaru_core.cli.render import emit, escape

if TYPE_CHECKING:
    from rich.console import Console

# Kept here as literals so `--help` imports nothing; a test keeps them equal to the service's.
_MODES = ("read-only", "standard", "destructive")


@click.group("mcp")
@output_option
def mcp_group() -> None:
    """Connect MCP clients (Claude Code, Cursor, IDE agents) to Kitaru's MCP server."""


@mcp_group.command("config")
@click.option(
    "--mode",
    type=click.Choice(_MODES, case_sensitive=False),
    default="standard",
    show_default=True,
    help="Which tools the server exposes; passed to kitaru-mcp as --mode.",
)
@click.option(
    "--write",
    is_flag=True,
    help="Merge the registration into ./.mcp.json (other servers are kept).",
)
@click.option(
    "--path",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The file --write merges into, instead of ./.mcp.json (implies --write).",
)
@output_option
def config_command(mode: str, write: bool, path: Path | None) -> None:
    """Print how an MCP client starts kitaru-mcp, or write it into .mcp.json.

    The registration names kitaru-mcp by its absolute path (clients do not search your PATH)
    and sets KITARU_CONFIG_PATH to the config dir in effect, so the server sees the same
    executions as this `kitaru`. KITARU_PROJECT is passed when set; KITARU_SERVER_URL and
    KITARU_AUTH_TOKEN never are (a token does not belong in a project file): connect with
    `kitaru login`, whose login the server reads from the config dir.

    \b
      kitaru mcp config                 # print it for Claude Code and other clients
      kitaru mcp config --write         # merge it into ./.mcp.json
      kitaru mcp config -o json         # {"command", "args", "env", "mcp_json", ...}
    """
    from kitaru_core.services.mcp_registration import build_registration, write_mcp_json

    registration = build_registration(mode)
    written = write_mcp_json(registration, path) if write or path is not None else None
    payload: dict[str, Any] = {
        **registration.model_dump(mode="json"),
        "mcp_json": registration.mcp_json(),
        "written_to": str(written) if written else None,
    }

    def human(out: Console) -> None:
        if written:
            out.print(f"Registered '{registration.name}' in {escape(written)}")
        else:
            out.print("Claude Code (.mcp.json in your project; `--write` merges it there):")
            out.print(escape(json.dumps(registration.mcp_json(), indent=2)), soft_wrap=True)
            out.print("\nOther MCP clients (stdio): command, args and env:")
            out.print(escape(json.dumps(registration.server_entry(), indent=2)), soft_wrap=True)
        if registration.withheld:
            out.print(
                f"\n[yellow]Not written:[/] {', '.join(registration.withheld)} (set in this "
                "shell; a token does not belong in a project file). Run `kitaru login SERVER "
                "--api-key KEY` so the server finds the login in its config dir, or set them "
                "in the client's own environment."
            )

    emit(payload, human)
