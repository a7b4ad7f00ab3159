"""``kitaru model`` and ``kitaru secrets``: LLM aliases and the secrets that hold their keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kitaru_core.cli.core import output_option
from kitaru_core.cli.render import emit, emit_list, escape, table


@click.group("model")
def model_group() -> None:
    """Model aliases for llm(): register, list, remove."""


@model_group.command("register")
@click.argument("alias")
@click.option("--model", "model", required=True, help="LiteLLM model string, e.g. openai/gpt-4o.")
@click.option("--secret", help="Kitaru secret holding the provider's API key.")
@click.option("--default", "make_default", is_flag=True, help="Make this alias the default.")
@output_option
def model_register_command(alias: str, model: str, secret: str | None, make_default: bool) -> None:
    """Register ALIAS for a model (the first alias becomes the default)."""
    from kitaru_core.services import llm_models

    registration = llm_models.register_model(alias, model, secret, default=make_default)
    info = registration.model
    verb = "Registered" if registration.created else "Updated"
    emit(
        registration,
        lambda out: out.print(
            f"{verb} {escape(info.alias)} → {escape(info.model)}"
            + (" (default)" if info.is_default else "")
        ),
    )


@model_group.command("list")
@output_option
def model_list_command() -> None:
    """List the registered aliases (secrets by name only)."""
    from kitaru_core.services import llm_models

    items = llm_models.list_models()

    def human(out: Any) -> None:
        rows = table("alias", "model", "secret", "default")
        for item in items:
            rows.add_row(
                item.alias, item.model, item.secret or "", "yes" if item.is_default else ""
            )
        out.print(rows)

    emit_list(items, human)


@model_group.command("remove")
@click.argument("alias")
@output_option
def model_remove_command(alias: str) -> None:
    """Remove ALIAS (removing the default leaves no default until you choose one)."""
    from kitaru_core.services import llm_models

    removal = llm_models.remove_model(alias)
    emit(removal, lambda out: out.print(f"Removed {escape(removal.removed.alias)}"))


@click.group("secrets")
def secrets_group() -> None:
    """Secrets for provider keys: values are stored, never shown."""


def _file_values(path: Path) -> list[str]:
    """``KEY=VALUE`` lines, or a YAML/JSON mapping, from a file."""
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = None
    if isinstance(loaded, dict):
        return [f"{key}={value}" for key, value in loaded.items()]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@secrets_group.command(
    "create", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.argument("name")
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read KEY=VALUE lines (or a YAML/JSON mapping) from a file.",
)
@click.option("--replace", is_flag=True, help="Replace an existing secret of that name.")
@output_option
@click.pass_context
def secrets_create_command(
    ctx: click.Context, name: str, from_file: Path | None, replace: bool
) -> None:
    """Create secret NAME from --KEY=VALUE arguments and/or --from-file."""
    from kitaru_core.requests.models import parse_secret_assignments
    from kitaru_core.services import secrets

    items = [*(_file_values(from_file) if from_file else []), *ctx.args]
    values = parse_secret_assignments(items)
    info = secrets.create_secret(name, values, replace=replace)
    emit(
        info,
        lambda out: out.print(
            f"Created secret {escape(info.name)} with keys: {', '.join(info.keys)}"
        ),
    )


@secrets_group.command("list")
@output_option
def secrets_list_command() -> None:
    """List secrets: names and keys only."""
    from kitaru_core.services import secrets

    items = secrets.list_secrets()

    def human(out: Any) -> None:
        rows = table("name", "keys")
        for item in items:
            rows.add_row(item.name, ", ".join(item.keys))
        out.print(rows)

    emit_list(items, human)


@secrets_group.command("delete")
@click.argument("name")
@output_option
def secrets_delete_command(name: str) -> None:
    """Delete secret NAME."""
    from kitaru_core.services import secrets

    deletion = secrets.delete_secret(name)

    def human(out: Any) -> None:
        out.print(f"Deleted secret {escape(deletion.secret.name)}")
        if deletion.used_by:
            out.print(f"[yellow]Still named by model aliases:[/] {', '.join(deletion.used_by)}")

    emit(deletion, human)
