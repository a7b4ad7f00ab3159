"""``kitaru.yaml``: Kitaru's own persisted settings (model aliases, log store, …)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kitaru_core.config.paths import ensure_config_dir, settings_path
from kitaru_core.errors import KitaruUsageError


class ModelAlias(BaseModel):
    """A registered LLM alias: a LiteLLM model string plus an optional secret for its keys."""

    model_config = ConfigDict(extra="forbid")

    model: str
    secret: str | None = None


class LogStoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: str = "artifact-store"
    endpoint: str | None = None
    api_key: str | None = None


class KitaruSettings(BaseModel):
    """Everything stored in ``kitaru.yaml``."""

    model_config = ConfigDict(extra="forbid")

    models: dict[str, ModelAlias] = Field(default_factory=dict)
    default_model: str | None = None
    log_store: LogStoreSettings | None = None


def load_settings(path: Path | None = None) -> KitaruSettings:
    """Read ``kitaru.yaml``; a missing file is empty settings, a broken one a usage error."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return KitaruSettings()
    except (OSError, UnicodeDecodeError) as exc:
        raise _broken(path, f"it cannot be read ({exc})") from exc
    try:
        raw: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise _broken(path, f"it is not valid YAML ({_yaml_problem(exc)})") from exc
    if not isinstance(raw, dict):
        raise _broken(path, f"its top level is a {type(raw).__name__}, not a mapping")
    try:
        return KitaruSettings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in exc.errors()
        )
        raise _broken(path, problems) from exc


def save_settings(settings: KitaruSettings, path: Path | None = None) -> Path:
    """Write ``kitaru.yaml`` atomically (a crash never leaves half a file)."""
    if path is None:
        ensure_config_dir()
        path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = settings.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    # mkstemp creates the file readable by its owner only, which suits stored API keys.
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kitaru.", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yaml.safe_dump(data, stream, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        # Leave the old file as it was and no temporary file behind.
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def update_settings(change: Callable[[KitaruSettings], KitaruSettings]) -> KitaruSettings:
    """Load, change and save ``kitaru.yaml``; a malformed file is reported, never overwritten."""
    updated = change(load_settings())
    save_settings(updated)
    return updated


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Problem and position only: PyYAML's own text quotes the offending line, which may hold
    an API key."""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return str(problem)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


def _broken(path: Path, problem: str) -> KitaruUsageError:
    return KitaruUsageError(
        f"The Kitaru settings file {path} is malformed: {problem}.",
        hint=f"Fix or delete {path} (it is recreated on the next write).",
        details={"file": str(path)},
    )
