"""``kitaru init``, ``kitaru status`` and ``kitaru info``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kitaru_core.cli.core import EXIT_FAILURE, EXIT_OK, output_option
from kitaru_core.cli.render import emit, escape, fields_table, note

if TYPE_CHECKING:
    from rich.console import Console

    from kitaru_core.models_system import SystemInfo, SystemStatus


@click.command("init")
@click.argument(
    "directory", required=False, type=click.Path(file_okay=False, path_type=Path), default=None
)
@output_option
def init_command(directory: Path | None) -> None:
    """Mark DIRECTORY (default: the current one; created if missing) as a Kitaru project root.

    Flows are loaded from this root when they are resumed, replayed, retried or deployed, so
    run it at the top of your repository before `kitaru deploy file.py:flow`.
    """
    from kitaru_core.config.paths import config_dir
    from kitaru_core.config.project import ROOT_MARKER, init_project_root

    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)  # like `git init DIR`
    root = init_project_root(directory)
    payload = {
        "root": str(root),
        "marker": str(root / ROOT_MARKER),
        "config_dir": str(config_dir()),
    }

    def human(out: Console) -> None:
        out.print(f"Initialized a Kitaru project in {escape(root)}")
        out.print(f"Flows are loaded from here; Kitaru keeps its state in {escape(config_dir())}")

    emit(payload, human)


def _status_rows(status: SystemStatus) -> list[tuple[str, object]]:
    connection = status.connection
    where = f" ({escape(connection.location)})" if connection.location else ""
    stack = status.active_stack
    return [
        ("Connection", f"{connection.kind}{where}  [dim]from {connection.source}[/]"),
        ("Project", status.project or "[dim]unknown[/]"),
        ("Active stack", f"{escape(stack.name)}  [dim]{stack.id}[/]" if stack else None),
        ("Config dir", escape(status.config_dir)),
        ("Fast path", _fast_path_row(status)),
    ]


def _fast_path_row(status: SystemStatus) -> str | None:
    state = status.fast_path
    if state is None:
        return None
    if state.enabled:
        return "on  [dim]local store read directly[/]"
    return f"[yellow]off[/]: {escape(state.reason)}  [dim](reads and cached checkpoints slower)[/]"


def _render_status(out: Console, status: SystemStatus, extra: list[tuple[str, object]]) -> None:
    out.print(fields_table([*_status_rows(status), *extra]))
    if status.env:
        out.print()
        out.print("[bold]Environment[/]")
        out.print(
            fields_table([(name, escape(value)) for name, value in sorted(status.env.items())])
        )
    if status.fast_path is not None and status.fast_path.fix:
        out.print()
        out.print(f"[yellow]Fast path off.[/] {escape(status.fast_path.fix)}")
    for problem in status.problems:
        out.print()
        out.print(f"[red bold]Problem[/] ({problem.get('code')}): {escape(problem.get('message'))}")
        if problem.get("hint"):
            out.print(f"  [yellow]Hint:[/] {escape(problem.get('hint'))}")


@click.command("status")
@output_option
def status_command() -> int:
    """Show the connection, project, active stack, config dir and active KITARU_* variables.

    Secrets are masked. Problems (a bad KITARU_* variable, an unreachable server) are listed in
    the report, which is always printed in full. Exit codes, for health checks in scripts:
    0 no problem, 1 the report lists a problem, 2 the command itself was called wrongly.
    """
    from kitaru_core.services.system import get_status

    status = get_status()
    emit(status, lambda out: _render_status(out, status, []))
    return EXIT_FAILURE if status.problems else EXIT_OK


@click.command("info")
@output_option
def info_command() -> int:
    """Everything `status` shows, plus versions and a timed store health check.

    Exit codes as for `status`: 1 when a problem is listed or the store check failed.
    """
    from kitaru_core.services.system import get_info

    info = get_info()
    emit(info, lambda out: _render_info(out, info))
    return EXIT_FAILURE if info.problems or not info.health.ok else EXIT_OK


def _render_info(out: Console, info: SystemInfo) -> None:
    versions = info.versions
    health = info.health
    if health.ok:
        check = f"[green]ok[/] in {health.latency_ms} ms (store version {health.store_version})"
    else:
        message = (health.error or {}).get("message", "unknown error")
        check = f"[red]failed[/] after {health.latency_ms} ms: {escape(message)}"
    extra: list[tuple[str, object]] = [
        (name, version or "[dim]not installed[/]") for name, version in versions.packages()
    ]
    extra += [("Python", f"{versions.python} on {versions.platform}"), ("Store check", check)]
    _render_status(out, info, extra)
    if not health.ok:
        note("The store could not be reached; see the problems above.")
